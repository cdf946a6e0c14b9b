"""Logging is set up once, by a process's entry point, not by every app a test builds."""

from __future__ import annotations

import logging

from portal import create_app
from portal.logconfig import configure_logging


def test_building_an_app_with_a_config_leaves_logging_alone(config):
    root = logging.getLogger()
    before = list(root.handlers)
    create_app(config)
    create_app(config)
    assert root.handlers == before


def test_configuring_twice_adds_no_second_handler(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    configure_logging()
    configure_logging()
    assert len(root.handlers) == 1
    assert root.level == logging.INFO
    assert logging.getLogger("alembic").level == logging.WARNING
