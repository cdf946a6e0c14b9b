"""Sigsync settings, read from the environment.

Imports no Flask: the portal, the worker, the CLI and the benchmarks share it.
Every variable is documented in README.md ("Configuration").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

# Development-only defaults. Production refuses to start while any of these is in use.
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
DEV_TOKEN_ENCRYPTION_KEY = "ZGV2LW9ubHktdG9rZW4ta2V5LWNoYW5nZS1tZS0hISE="  # Fernet key, dev only

ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it and the fix."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'sigsync.db'}"


@dataclass(frozen=True)
class Config:
    """One immutable snapshot of the settings; build it with ``Config.from_env()``."""

    env: str = "development"
    database_url: str = field(default_factory=_default_database_url)
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = DEV_SECRET_KEY
    token_encryption_key: str = DEV_TOKEN_ENCRYPTION_KEY
    ms_client_id: str = ""
    ms_client_secret: str = ""
    ms_tenant_id: str = ""
    ms_authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: str = ""  # REQUESTS_CA_BUNDLE: trusted CAs for Microsoft (or the simulator)
    http_timeout: int = 30
    public_url: str = "http://127.0.0.1:5000"
    rq_queue: str = "sigsync"
    trusted_proxies: int = 0  # SIGSYNC_TRUSTED_PROXIES: reverse proxies in front of the portal that set X-Forwarded-*

    @classmethod
    def from_env(cls) -> Config:
        """Read the environment, validate, and fail fast on anything unusable."""
        env = _env("SIGSYNC_ENV", "development").lower()
        if env not in ENVIRONMENTS:
            raise ConfigError(f"SIGSYNC_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
        config = cls(
            env=env,
            database_url=_env("DATABASE_URL") or _default_database_url(),
            redis_url=_env("REDIS_URL") or "redis://127.0.0.1:6379/0",
            secret_key=_env("SECRET_KEY") or DEV_SECRET_KEY,
            token_encryption_key=_env("TOKEN_ENCRYPTION_KEY") or DEV_TOKEN_ENCRYPTION_KEY,
            ms_client_id=_env("MS_CLIENT_ID"),
            ms_client_secret=_env("MS_CLIENT_SECRET"),
            ms_tenant_id=_env("MS_TENANT_ID"),
            ms_authority_host=(_env("MS_AUTHORITY_HOST") or cls.ms_authority_host).rstrip("/"),
            graph_url=(_env("GRAPH_URL") or cls.graph_url).rstrip("/"),
            ca_bundle=_env("REQUESTS_CA_BUNDLE"),
            http_timeout=_int("SIGSYNC_HTTP_TIMEOUT", 30),
            public_url=(_env("SIGSYNC_PUBLIC_URL") or cls.public_url).rstrip("/"),
            rq_queue=_env("SIGSYNC_QUEUE") or "sigsync",
            trusted_proxies=_int("SIGSYNC_TRUSTED_PROXIES", 0),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError naming every problem at once."""
        problems = []
        for name, value in (
            ("DATABASE_URL", self.database_url),
            ("MS_AUTHORITY_HOST", self.ms_authority_host),
            ("GRAPH_URL", self.graph_url),
        ):
            if not value:
                problems.append(f"{name} is empty")
        if not self.database_url.startswith(("sqlite:", "postgresql")):
            problems.append("DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        for name, value in (("MS_AUTHORITY_HOST", self.ms_authority_host), ("GRAPH_URL", self.graph_url)):
            if value and not value.startswith("https://"):
                problems.append(f"{name} must be an https:// URL (Microsoft and MSAL require TLS)")
        if not 0 <= self.trusted_proxies <= 5:
            problems.append("SIGSYNC_TRUSTED_PROXIES must be 0 (no reverse proxy) or the number of proxies in front, "
                            "at most 5")
        if not self._fernet_key_ok():
            problems.append(
                "TOKEN_ENCRYPTION_KEY is not a Fernet key; make one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            )
        if self.env == "production":
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                problems.append("SECRET_KEY must be set to a random value of 32+ characters in production")
            if self.token_encryption_key == DEV_TOKEN_ENCRYPTION_KEY:
                problems.append("TOKEN_ENCRYPTION_KEY must be set to your own Fernet key in production")
            if not self.ms_client_id or not self.ms_client_secret:
                problems.append("MS_CLIENT_ID and MS_CLIENT_SECRET must be set in production")
        if problems:
            raise ConfigError("Configuration problem: " + "; ".join(problems))

    def _fernet_key_ok(self) -> bool:
        from cryptography.fernet import Fernet

        try:
            Fernet(self.token_encryption_key.encode())
        except (ValueError, TypeError):
            return False
        return True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def __repr__(self) -> str:  # never print secrets
        return f"Config(env={self.env!r}, database_url={redact_url(self.database_url)!r}, graph_url={self.graph_url!r})"


def redact_url(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
