"""Logging for the processes Sigsync runs: configured once, at start-up, by each entry point."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at ``level``; a second call changes nothing (handlers are not stacked)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines drown every CLI command's output
