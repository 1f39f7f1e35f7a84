"""Encryption at rest of the signing secrets, with rotatable keys (``WEBHOOKS_SECRET_ENCRYPTION_KEY`` is a
comma-separated list: the first key encrypts, every key decrypts — see ``renovation_common.crypto``).

Each sealed secret is stored with the :attr:`SecretBox.key_id` of the key that sealed it, so the re-seal job after
a rotation finds, with one query, what is not yet under the newest key. A key id is derived from the key with
HKDF under its own label: it names the key without revealing anything about it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from renovation_common.crypto import KeyRing, UndecryptableError, parse_keys

PURPOSE = "webhook-signing-secrets"


class SecretUndecryptable(RuntimeError):
    """A stored secret was sealed under a key the ring no longer (or never) held."""


def key_id_of(key: str) -> str:
    derived = HKDF(algorithm=hashes.SHA256(), length=8, salt=None, info=f"renovation:{PURPOSE}:key-id".encode())
    return derived.derive(key.encode()).hex()


class SecretBox:
    def __init__(self, keys: str) -> None:
        self._ring = KeyRing(keys, purpose=PURPOSE)
        self.key_id = key_id_of(parse_keys(keys)[0])
        """Id of the newest key: the one :meth:`seal` and :meth:`reseal` encrypt under."""

    def seal(self, secret: str) -> str:
        return self._ring.seal_text(secret)

    def open(self, token: str) -> str:
        try:
            return self._ring.open_text(token)
        except UndecryptableError:
            raise SecretUndecryptable("a stored webhook secret cannot be decrypted (wrong or retired key?)") from None

    def reseal(self, token: str) -> str:
        """The same secret under the newest key (re-encryption after a key rotation)."""
        try:
            return self._ring.rotate(token.encode("ascii")).decode("ascii")
        except UndecryptableError:
            raise SecretUndecryptable("a stored webhook secret cannot be decrypted (wrong or retired key?)") from None
