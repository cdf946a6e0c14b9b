"""Shared fixtures: a real database (SQLite, or PostgreSQL via TEST_DATABASE_URL) and the app."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from config import Config
from portal import create_app, migrations
from portal.db import get_engine

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def _reset_postgres(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A freshly migrated database for the whole test session."""
    if POSTGRES_URL:
        _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrations.upgrade(url)
    return url


@pytest.fixture
def clean_db(database_url: str) -> str:
    """Empty every table before the test (schema stays)."""
    engine = get_engine(database_url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
    return database_url


@pytest.fixture
def config(clean_db: str) -> Config:
    base = Config.from_env()
    return replace(base, env="test", database_url=clean_db)


@pytest.fixture
def app(config: Config):
    app = create_app(config)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """RQ's in-process worker installs SIGINT/SIGTERM handlers and leaves them: restore pytest's own."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)
