"""Alembic environment: runs our migrations against the configured database."""

from alembic import context
from sqlmodel import SQLModel

import portal.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from portal.db import get_engine

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
