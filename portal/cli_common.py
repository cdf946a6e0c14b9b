"""What every CLI command shares: one transaction per command, and errors as plain messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from sqlmodel import Session

from portal.db import session_scope
from portal.errors import SigsyncError


@contextmanager
def command_session() -> Iterator[Session]:
    """A session committed when the command succeeds; a service refusal rolls it back and exits 1."""
    try:
        with session_scope(current_app.config["SIGSYNC"].database_url) as session:
            yield session
    except SigsyncError as exc:
        raise click.ClickException(str(exc)) from None


def parse_field_options(options: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; a missing "=" or a name given twice is a usage error."""
    fields: dict[str, str] = {}
    for option in options:
        name, equals, value = option.partition("=")
        name = name.strip()
        if not equals or not name:
            raise click.BadParameter(f"{option!r} is not NAME=VALUE.", param_hint="--field")
        if name in fields:
            raise click.BadParameter(f"{name} is given twice.", param_hint="--field")
        fields[name] = value
    return fields
