"""Encryption at rest of the signing secrets, with rotatable keys (``WEBHOOKS_SECRET_ENCRYPTION_KEY`` is a
comma-separated list: the first key encrypts, every key decrypts — see ``renovation_common.crypto``)."""

from __future__ import annotations

from renovation_common.crypto import KeyRing, UndecryptableError


class SecretBox:
    def __init__(self, keys: str) -> None:
        self._ring = KeyRing(keys, purpose="webhook-signing-secrets")

    def seal(self, secret: str) -> str:
        return self._ring.seal_text(secret)

    def open(self, token: str) -> str:
        try:
            return self._ring.open_text(token)
        except UndecryptableError:
            raise RuntimeError("a stored webhook secret cannot be decrypted (wrong or retired key?)") from None

    def reseal(self, token: str) -> str:
        """The same secret under the newest key (re-encryption after a key rotation)."""
        return self._ring.rotate(token.encode("ascii")).decode("ascii")
