"""`flask --app portal init-db` creates the schema and is safe to repeat."""

from sqlalchemy import inspect

from portal.db import get_engine


def test_init_db_is_idempotent(runner, config):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "up to date" in second.output
    tables = set(inspect(get_engine(config.database_url)).get_table_names())
    assert {"organization", "employee", "connection", "syncrun", "syncdecision", "alembic_version"} <= tables
