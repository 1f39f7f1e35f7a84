"""Standard Webhooks signatures (https://www.standardwebhooks.com), computed with the official package.

``webhook-signature`` carries one ``v1,<base64>`` value per active secret, separated by spaces, so a receiver
that still knows only the old secret keeps verifying during a rotation's grace period.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES = 32


def format_secret(random_bytes: bytes) -> str:
    """A secret in Standard Webhooks format from caller-supplied random bytes (24..64 bytes)."""
    if not 24 <= len(random_bytes) <= 64:
        raise ValueError("a webhook secret needs 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    if not secrets:
        raise ValueError("at least one secret is needed")
    ts = timestamp.astimezone(UTC)
    return " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=ts, data=body) for s in secrets)


def webhook_headers(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one request."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }
