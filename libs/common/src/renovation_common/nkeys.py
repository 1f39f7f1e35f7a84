"""NATS NKeys and NATS JWTs (v2), written once with ``cryptography``'s Ed25519.

An NKey is an Ed25519 key in NATS's text form: base32 (no padding) of a prefix byte naming the role (``A`` account,
``U`` user, ``N`` server ...), the 32 key bytes and a CRC-16/XMODEM, little-endian. A seed (``SA...``, ``SU...``) is
the same for the private seed, with two prefix bytes. A NATS JWT is ``base64url(header).base64url(claims).base64url(
signature)`` with header ``{"typ":"JWT","alg":"ed25519-nkey"}``; the signature covers the first two parts and is made
with the issuer's key (``iss`` = its public NKey).

Used by the broker authorization of devices (the auth callout responder signs user JWTs with an account key) and by
the development stack (which generates that account key for the embedded broker).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX_SEED = 18 << 3  # 'S'
PREFIX_ACCOUNT = 0  # 'A'
PREFIX_SERVER = 13 << 3  # 'N'
PREFIX_USER = 20 << 3  # 'U'
PREFIX_OPERATOR = 14 << 3  # 'O'
_PUBLIC_PREFIXES = {PREFIX_ACCOUNT, PREFIX_SERVER, PREFIX_USER, PREFIX_OPERATOR}

JWT_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
MAX_JWT_BYTES = 64 * 1024  # an authorization request is a few KiB; anything far larger is refused unread


class NKeyError(ValueError):
    """Not a valid NKey, seed or NATS JWT."""


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _b32decode(text: str) -> bytes:
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise NKeyError("not base32") from exc


def _checked(text: str) -> bytes:
    raw = _b32decode(text)
    if len(raw) < 4:
        raise NKeyError("too short")
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if _crc16(body) != crc:
        raise NKeyError("bad checksum")
    return body


def encode_public(prefix: int, key: bytes) -> str:
    if prefix not in _PUBLIC_PREFIXES or len(key) != 32:
        raise NKeyError("bad public key")
    body = bytes([prefix]) + key
    return _b32encode(body + _crc16(body).to_bytes(2, "little"))


def decode_public(text: str, prefix: int) -> bytes:
    """The 32 key bytes of a public NKey of the given role (``PREFIX_USER`` ...), or :class:`NKeyError`."""
    if not isinstance(text, str) or len(text) != 56:
        raise NKeyError("a public NKey has 56 characters")
    body = _checked(text)
    if len(body) != 33 or body[0] != prefix:
        raise NKeyError("wrong kind of public NKey")
    return body[1:]


def is_public(text: Any, prefix: int) -> bool:
    try:
        decode_public(text, prefix)
    except NKeyError:
        return False
    return True


def encode_seed(prefix: int, seed: bytes) -> str:
    if prefix not in _PUBLIC_PREFIXES or len(seed) != 32:
        raise NKeyError("bad seed")
    body = bytes([PREFIX_SEED | (prefix >> 5), (prefix & 31) << 3]) + seed
    return _b32encode(body + _crc16(body).to_bytes(2, "little"))


@dataclass(frozen=True)
class KeyPair:
    """An NKey pair from a seed: signs, and names itself by its public key."""

    prefix: int
    _private: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: str) -> KeyPair:
        body = _checked(seed.strip())
        if len(body) != 34 or body[0] & 0xF8 != PREFIX_SEED:
            raise NKeyError("not an NKey seed")
        prefix = ((body[0] & 0x07) << 5) | ((body[1] & 0xF8) >> 3)
        if prefix not in _PUBLIC_PREFIXES:
            raise NKeyError("unknown NKey role")
        return cls(prefix, Ed25519PrivateKey.from_private_bytes(body[2:]))

    @classmethod
    def create(cls, prefix: int) -> KeyPair:
        return cls(prefix, Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32)))

    @property
    def public_key(self) -> str:
        raw = self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return encode_public(self.prefix, raw)

    @property
    def seed(self) -> str:
        raw = self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return encode_seed(self.prefix, raw)

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


def create_account_keypair() -> KeyPair:
    return KeyPair.create(PREFIX_ACCOUNT)


def verify(public_key: str, prefix: int, data: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(decode_public(public_key, prefix)).verify(signature, data)
    except (NKeyError, InvalidSignature, ValueError):
        return False
    return True


# ------------------------------------------------------------------------------------------ NATS JWT


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise NKeyError("not base64url") from exc


def encode_jwt(claims: dict[str, Any], issuer: KeyPair) -> str:
    """Sign ``claims`` as a NATS v2 JWT: ``iss`` is set to the issuer, ``jti`` to a hash of the claims."""
    body = {k: v for k, v in claims.items() if k not in ("iss", "jti")}
    body["iss"] = issuer.public_key
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()
    body["jti"] = base64.b32encode(digest).decode("ascii").rstrip("=")
    head = _b64(json.dumps(JWT_HEADER, separators=(",", ":")).encode())
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    signing_input = f"{head}.{payload}".encode("ascii")
    return f"{head}.{payload}.{_b64(issuer.sign(signing_input))}"


def decode_jwt(token: str | bytes, issuer_prefix: int) -> dict[str, Any]:
    """The claims of a NATS v2 JWT whose signature verifies with its own ``iss`` (an NKey of ``issuer_prefix``).

    This proves integrity and who signed it; whether that signer is trusted is the caller's decision.
    """
    if isinstance(token, bytes):
        if len(token) > MAX_JWT_BYTES:
            raise NKeyError("token too large")
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as exc:
            raise NKeyError("token is not ASCII") from exc
    if len(token) > MAX_JWT_BYTES:
        raise NKeyError("token too large")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise NKeyError("a JWT has three parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise NKeyError("JWT parts are not JSON") from exc
    if not isinstance(header, dict) or str(header.get("alg", "")).lower() != "ed25519-nkey":
        raise NKeyError("unexpected JWT algorithm")
    if not isinstance(claims, dict) or not isinstance(claims.get("iss"), str):
        raise NKeyError("JWT has no issuer")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not verify(claims["iss"], issuer_prefix, signing_input, _unb64(parts[2])):
        raise NKeyError("JWT signature does not verify")
    return claims


def main(argv: list[str] | None = None) -> int:
    """``python -m renovation_common.nkeys account``: print a new account key pair (seed, then public key)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["account"]:
        print("usage: python -m renovation_common.nkeys account", file=sys.stderr)
        return 2
    kp = create_account_keypair()
    print(f"NATS_DEVICE_ACCOUNT_SEED={kp.seed}")
    print(f"NATS_DEVICE_ACCOUNT_PUBLIC_KEY={kp.public_key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
