"""Config reads the environment, fails fast and never shows secrets."""

import pytest

from config import Config, ConfigError


def test_defaults_work_for_development(monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "SIGSYNC_ENV", "GRAPH_URL"):
        monkeypatch.delenv(name, raising=False)
    config = Config.from_env()
    assert config.env == "development"
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith("instance/sigsync.db")
    assert config.graph_url == "https://graph.microsoft.com/v1.0"
    assert config.ms_authority_host == "https://login.microsoftonline.com"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SIGSYNC_ENV", "staging", "SIGSYNC_ENV must be one of"),
        ("GRAPH_URL", "http://graph.local/v1.0", "GRAPH_URL must be an https:// URL"),
        ("TOKEN_ENCRYPTION_KEY", "not-a-key", "TOKEN_ENCRYPTION_KEY is not a Fernet key"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be sqlite"),
        ("SIGSYNC_HTTP_TIMEOUT", "soon", "SIGSYNC_HTTP_TIMEOUT must be a whole number"),
    ],
)
def test_bad_values_are_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Config.from_env()


def test_production_refuses_development_secrets(monkeypatch):
    monkeypatch.setenv("SIGSYNC_ENV", "production")
    for name in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "MS_CLIENT_ID", "MS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as info:
        Config.from_env()
    text = str(info.value)
    assert "SECRET_KEY must be set" in text
    assert "TOKEN_ENCRYPTION_KEY must be set" in text
    assert "MS_CLIENT_ID and MS_CLIENT_SECRET must be set" in text


def test_repr_hides_database_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://sigsync:hunter2@db/sigsync")
    assert "hunter2" not in repr(Config.from_env())
