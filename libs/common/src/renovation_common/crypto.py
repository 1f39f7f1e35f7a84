"""Encryption at rest with rotatable keys.

A :class:`KeyRing` is built from one or more secrets (the first encrypts; every one decrypts, so a key can be rotated
by putting the new one first and keeping the old ones until what they sealed is re-encrypted or expired). Each secret
is stretched to a Fernet key (AES-128-CBC + HMAC-SHA256) with HKDF-SHA256 and a purpose label, so the same secret
used for two purposes yields two unrelated keys.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UndecryptableError(RuntimeError):
    """Sealed with a key the ring does not hold (or tampered with)."""


def parse_keys(value: str | Sequence[str]) -> list[str]:
    """``"new,old"`` or ``["new", "old"]`` → the non-empty keys, newest first."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [k.strip() for k in items if k and k.strip()]


def _fernet_key(secret: str, purpose: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"renovation:{purpose}".encode()).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


class KeyRing:
    def __init__(self, secrets: str | Sequence[str], *, purpose: str) -> None:
        keys = parse_keys(secrets)
        if not keys:
            raise ValueError(f"no key for {purpose}")
        self.purpose = purpose
        self._ring = MultiFernet([Fernet(_fernet_key(k, purpose)) for k in keys])

    def seal(self, plaintext: bytes) -> bytes:
        return self._ring.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        try:
            return self._ring.decrypt(token)
        except InvalidToken:
            raise UndecryptableError(f"cannot decrypt ({self.purpose}): wrong or retired key?") from None

    def seal_text(self, plaintext: str) -> str:
        return self.seal(plaintext.encode()).decode("ascii")

    def open_text(self, token: str) -> str:
        return self.open(token.encode("ascii")).decode()

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` under the newest key (for a re-encryption sweep after a rotation)."""
        try:
            return self._ring.rotate(token)
        except InvalidToken:
            raise UndecryptableError(f"cannot decrypt ({self.purpose}): wrong or retired key?") from None
