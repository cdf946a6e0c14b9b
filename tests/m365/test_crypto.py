"""The token cache is unreadable at rest and a wrong key says so plainly."""

import pytest
from cryptography.fernet import Fernet

from config import ConfigError
from portal.m365.crypto import TokenCipher
from portal.m365.errors import TokenCacheUnreadable

CACHE = '{"AccessToken": {"k": {"secret": "eyJ0eXAi.secret-access-token"}}}'


def test_round_trip_and_nothing_readable_at_rest():
    cipher = TokenCipher(Fernet.generate_key().decode())
    blob = cipher.encrypt(CACHE)
    assert b"secret-access-token" not in blob and b"AccessToken" not in blob
    assert cipher.decrypt(blob) == CACHE


def test_wrong_key_is_a_clear_error_not_garbage():
    blob = TokenCipher(Fernet.generate_key()).encrypt(CACHE)
    with pytest.raises(TokenCacheUnreadable) as info:
        TokenCipher(Fernet.generate_key()).decrypt(blob)
    assert "TOKEN_ENCRYPTION_KEY" in info.value.admin_message


def test_tampered_blob_is_refused():
    cipher = TokenCipher(Fernet.generate_key())
    blob = bytearray(cipher.encrypt(CACHE))
    blob[40] ^= 1
    with pytest.raises(TokenCacheUnreadable):
        cipher.decrypt(bytes(blob))


def test_malformed_key_names_the_setting_without_echoing_it():
    with pytest.raises(ConfigError) as info:
        TokenCipher("hunter2-not-a-key")
    assert "TOKEN_ENCRYPTION_KEY" in str(info.value) and "hunter2" not in str(info.value)
