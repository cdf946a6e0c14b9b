"""Encryption at rest for MSAL token caches (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from config import ConfigError
from portal.m365.errors import TokenCacheUnreadable


class TokenCipher:
    """Encrypt and decrypt a serialized token cache with TOKEN_ENCRYPTION_KEY."""

    def __init__(self, key: str | bytes) -> None:
        raw = key.encode() if isinstance(key, str) else key
        try:
            self._fernet = Fernet(raw)
        except (ValueError, TypeError):
            # Never echo the key itself: it is a secret even when malformed.
            raise ConfigError("TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)") from None

    def encrypt(self, plaintext: str | bytes) -> bytes:
        """Encrypt a serialized cache for storage in Connection.token_cache."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes | str) -> str:
        """Decrypt a stored cache; a wrong key or tampered bytes raise TokenCacheUnreadable."""
        data = token.encode() if isinstance(token, str) else bytes(token)
        try:
            return self._fernet.decrypt(data).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise TokenCacheUnreadable() from None
