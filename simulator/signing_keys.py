"""Entra ID's token signing keys: RSA keys published as a JWKS, one of them signing, rotated on request.

Microsoft signs v2 tokens with RS256 and lists its keys at ``/{tenant}/discovery/v2.0/keys``; each
entry names the key by ``kid`` (equal to ``x5t``, the certificate's SHA-1 thumbprint) and carries the
modulus, exponent and an ``x5c`` certificate. Keys roll over: a new key starts signing while the old
one stays listed for a while, then disappears. Resource servers must look the key up by ``kid`` and
fetch the JWKS again when they meet one they do not know ("Signing key rollover in Microsoft
identity platform"). Keys are made on first use: a simulator that never signs costs nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

KEY_BITS = 2048  # Entra's signing keys are 2048-bit RSA


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    """One RSA key with its self-signed certificate; `listed` while it is in the JWKS."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    listed: bool = True

    def sign(self, data: bytes) -> bytes:
        """RS256: RSASSA-PKCS1-v1_5 with SHA-256."""
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def public_pem(self) -> bytes:
        """The public key as PEM (what a confused verifier might misuse as an HMAC secret)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, issuer: str) -> dict:
        """The key as Microsoft lists it in its JWKS."""
        numbers = self.private_key.public_key().public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": _uint(numbers.n),
                "e": _uint(numbers.e), "x5c": [base64.b64encode(der).decode("ascii")],
                "cloud_instance_name": "microsoftonline.com", "issuer": issuer}


def new_key() -> SigningKey:
    """A fresh 2048-bit key; its kid is the certificate's base64url SHA-1 thumbprint, as Entra's are."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.sigsync-simulator.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(_b64url(cert.fingerprint(hashes.SHA1())), key, cert)  # noqa: S303 - x5t is SHA-1 by definition


class SigningKeys:
    """The tenant's keys: the signing one, the others still listed, and removed ones (kept to forge with)."""

    def __init__(self) -> None:
        self._keys: list[SigningKey] = []  # oldest first; the last one signs
        self._lock = threading.Lock()

    @property
    def signing(self) -> SigningKey:
        """The key new tokens are signed with."""
        with self._lock:
            if not self._keys:
                self._keys.append(new_key())
            return self._keys[-1]

    def get(self, kid: str) -> SigningKey:
        """Any key this simulator ever made, listed or not; LookupError when unknown."""
        self.signing  # noqa: B018 - make the first key when none exists yet
        with self._lock:
            for key in self._keys:
                if key.kid == kid:
                    return key
        raise LookupError(f"no signing key {kid}")

    def listed(self) -> list[SigningKey]:
        """The keys in the JWKS, signing key included."""
        self.signing  # noqa: B018
        with self._lock:
            return [k for k in self._keys if k.listed]

    def all(self) -> list[SigningKey]:
        """Every key, oldest first."""
        self.signing  # noqa: B018
        with self._lock:
            return list(self._keys)

    def rotate(self, keep_previous: bool = True) -> SigningKey:
        """A new key starts signing; the previous ones stay listed unless keep_previous is False."""
        key = new_key()
        with self._lock:
            if not keep_previous:
                for old in self._keys:
                    old.listed = False
            self._keys.append(key)
        return key

    def unlist(self, kid: str) -> None:
        """Take a key out of the JWKS (the end of a rollover); the signing key cannot be removed."""
        key = self.get(kid)
        if key is self.signing:
            raise ValueError("the signing key cannot be removed from the JWKS; rotate first")
        with self._lock:
            key.listed = False

    def jwks(self, issuer: str) -> dict:
        """The JWKS document: {"keys": [...]} for the listed keys."""
        return {"keys": [k.jwk(issuer) for k in self.listed()]}
