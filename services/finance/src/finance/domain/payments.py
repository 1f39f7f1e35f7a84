"""Payments are posted only on proof (pure rules; time is passed in).

A resident creates a payment *intent* (what to pay, with which method, through which provider); an intent never
moves money. Money is posted by one of two proofs:

* a **staff receipt**: a community worker or finance officer in scope records a receipt whose number is unique in
  the community (a database unique constraint), received at a time not in the future;
* a **provider callback**: the payment provider (bank, WeChat Pay, Alipay, UnionPay gateway) calls back with a body
  signed by HMAC-SHA256 under a secret shared with that provider. The signed string is the timestamp header, a
  dot, and the exact raw body bytes: ``{timestamp}.{raw body}``; the signature header is ``v1=<base64>``
  (several, space-separated, during a rotation on the provider's side). The timestamp must be within a tolerance of
  the server's clock, so a captured callback cannot be replayed later; inside the tolerance a replay is answered
  from the first result because the provider's transaction id is unique (database constraint).

The contract for providers is in ``docs/payments.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from finance.domain.errors import RuleViolation

SIGNATURE_SCHEME = "v1"
MAX_SIGNATURES = 5
MAX_SIGNATURE_HEADER = 1024
MAX_SECRETS_PER_PROVIDER = 5
MIN_PRODUCTION_SECRET_BYTES = 32
PROVIDER_NAME = r"^[a-z0-9][a-z0-9_\-]{0,39}$"
PROVIDER_TXN_ID = r"^[A-Za-z0-9_\-.:]{1,64}$"
RECEIPT_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,63}$"
CURRENCY = "CNY"
CALLBACK_EVENT = "payment.succeeded"
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class PaymentMethod(StrEnum):
    """How a resident pays through a provider (an intent's method)."""

    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"
    BANK_TRANSFER = "bank_transfer"


class ReceiptMethod(StrEnum):
    """How staff received the money (a receipt's method)."""

    CASH = "cash"
    POS = "pos"
    BANK_TRANSFER = "bank_transfer"


class PaymentSource(StrEnum):
    """The proof a payment was posted on. ``legacy``: posted by the removed declare-paid route, before proofs."""

    RECEIPT = "receipt"
    PROVIDER = "provider"
    LEGACY = "legacy"


class IntentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    EXPIRED = "expired"  # derived: pending and past its expiry (nothing is stored, no sweeper job needed)


@dataclass(frozen=True)
class PaymentRules:
    """The service's payment settings in domain form. Secrets are bytes and never part of the repr."""

    provider_secrets: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict, repr=False)
    callback_tolerance_s: int = 300
    intent_ttl_s: int = 1800
    callback_max_body_bytes: int = 16_384
    receipt_max_age_days: int = 180

    @property
    def providers(self) -> frozenset[str]:
        return frozenset(self.provider_secrets)


# ------------------------------------------------------------------------------------------------ signatures
def signed_payload(timestamp: str, body: bytes) -> bytes:
    """The exact bytes that are signed: the timestamp (ASCII digits), a dot, the raw body."""
    return timestamp.encode("ascii") + b"." + body


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, "{timestamp}.{body}"))`` (standard alphabet, with padding)."""
    return base64.b64encode(hmac.new(secret, signed_payload(timestamp, body), hashlib.sha256).digest()).decode()


def signature_header(secret: bytes, timestamp: str, body: bytes) -> str:
    return f"{SIGNATURE_SCHEME}={signature(secret, timestamp, body)}"


def _unauthenticated(code: str, detail: str) -> RuleViolation:
    return RuleViolation(code, detail, status=401)


def provider_secrets(rules: PaymentRules, provider: str) -> tuple[bytes, ...]:
    """The secrets a provider's callbacks are verified with; an unknown provider is 401 (nothing to verify with)."""
    secrets = rules.provider_secrets.get(provider)
    if not secrets:
        raise _unauthenticated("payment_provider_unknown", "no payment provider with this name is configured")
    return secrets


def _candidate_macs(header: str) -> list[bytes]:
    if len(header) > MAX_SIGNATURE_HEADER:
        raise _unauthenticated("callback_signature_invalid", "the signature header is too long")
    macs: list[bytes] = []
    for item in header.split()[:MAX_SIGNATURES]:
        scheme, sep, value = item.partition("=")
        if not sep or scheme != SIGNATURE_SCHEME:
            continue
        try:
            mac = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(mac) == hashlib.sha256().digest_size:
            macs.append(mac)
    return macs


def verify_callback(
    secrets: Sequence[bytes],
    timestamp: str | None,
    signature_value: str | None,
    body: bytes,
    *,
    now_s: int,
    tolerance_s: int,
) -> int:
    """Authenticate a provider callback on its raw bytes, before anything parses them; return the timestamp.

    Refusals are 401 with a stable code: ``callback_signature_missing`` (no timestamp or signature header),
    ``callback_timestamp_invalid`` (not 1–12 ASCII digits), ``callback_timestamp_out_of_tolerance`` (further than
    ``tolerance_s`` from the server's clock, either way), ``callback_signature_invalid`` (no ``v1=`` signature
    matches any of the provider's current or previous secrets; compared in constant time).
    """
    if not timestamp or not signature_value:
        raise _unauthenticated(
            "callback_signature_missing", "a callback carries Payment-Timestamp and Payment-Signature headers"
        )
    if not _TIMESTAMP.match(timestamp):
        raise _unauthenticated("callback_timestamp_invalid", "Payment-Timestamp is Unix time in seconds (digits)")
    sent = int(timestamp)
    if abs(now_s - sent) > tolerance_s:
        raise _unauthenticated(
            "callback_timestamp_out_of_tolerance",
            f"Payment-Timestamp is more than {tolerance_s} s away from the server's clock",
        )
    candidates = _candidate_macs(signature_value)
    payload = signed_payload(timestamp, body)
    matched = False
    for secret in secrets:
        expected = hmac.new(secret, payload, hashlib.sha256).digest()
        for mac in candidates:
            matched |= hmac.compare_digest(expected, mac)
    if not matched:
        raise _unauthenticated("callback_signature_invalid", "the signature does not match the body and timestamp")
    return sent


# ------------------------------------------------------------------------------------------------ intents
def intent_status(stored: str, expires_at: datetime, now: datetime) -> IntentStatus:
    if stored == IntentStatus.SUCCEEDED.value:
        return IntentStatus.SUCCEEDED
    return IntentStatus.EXPIRED if now >= expires_at else IntentStatus.PENDING


def check_intent_provider(provider: str, rules: PaymentRules) -> None:
    if provider not in rules.provider_secrets:
        raise RuleViolation(
            "payment_provider_unknown",
            "this payment provider is not configured",
            providers=sorted(rules.providers),
        )


def intent_expiry(now: datetime, rules: PaymentRules) -> datetime:
    return now + timedelta(seconds=rules.intent_ttl_s)


@dataclass(frozen=True)
class IntentFacts:
    """What the server's records say about an intent (read under a row lock)."""

    provider: str
    amount_fen: int
    status: str
    expires_at: datetime
    provider_txn_id: str | None


@dataclass(frozen=True)
class ProviderPayment:
    """An authenticated callback's content."""

    provider: str
    provider_txn_id: str
    intent_id: str
    amount_fen: int
    paid_at: datetime


def check_provider_payment(intent: IntentFacts, payment: ProviderPayment, *, now: datetime, tolerance_s: int) -> None:
    """Refuse a callback that does not match the intent it names (nothing is posted then).

    Codes: ``payment_intent_provider_mismatch`` (422), ``payment_amount_mismatch`` (422), ``paid_at_in_future``
    (422), ``payment_intent_already_paid`` (409: paid under another transaction id), ``payment_intent_expired``
    (409: paid after the intent's expiry; the provider was told the expiry and must refund).
    """
    if payment.provider != intent.provider:
        raise RuleViolation("payment_intent_provider_mismatch", "the intent was created for another provider")
    if payment.amount_fen != intent.amount_fen:
        raise RuleViolation(
            "payment_amount_mismatch",
            "the amount differs from the intent's amount",
            intent_amount_fen=intent.amount_fen,
        )
    if payment.paid_at > now + timedelta(seconds=tolerance_s):
        raise RuleViolation("paid_at_in_future", "paid_at lies in the future")
    if intent.status == IntentStatus.SUCCEEDED.value:
        raise RuleViolation(
            "payment_intent_already_paid", "the intent was paid under another provider transaction id", status=409
        )
    if payment.paid_at > intent.expires_at:
        raise RuleViolation("payment_intent_expired", "the payment was made after the intent expired", status=409)


# ------------------------------------------------------------------------------------------------ receipts
def check_received_at(received_at: datetime, *, now: datetime, rules: PaymentRules) -> None:
    if received_at > now:
        raise RuleViolation("received_at_in_future", "a receipt cannot be received in the future")
    if received_at < now - timedelta(days=rules.receipt_max_age_days):
        raise RuleViolation(
            "received_at_too_old",
            f"receipts older than {rules.receipt_max_age_days} days are entered by the finance office's correction "
            "procedure, not here",
            max_age_days=rules.receipt_max_age_days,
        )


@dataclass(frozen=True)
class ReceiptFacts:
    due_id: str
    amount_fen: int
    method: str
    received_at: datetime


def same_receipt(stored: ReceiptFacts, asked: ReceiptFacts) -> bool:
    """A receipt number names one receipt: the same again is a retry, anything else a reuse (409)."""
    return stored == asked


# ------------------------------------------------------------------------------------------------ settings
def check_provider_secrets(secrets: Mapping[str, Sequence[str]], *, production: bool) -> list[str]:
    """Problems with a provider secrets map (empty list: fine). Production needs a map and 32-byte secrets."""
    problems: list[str] = []
    if production and not secrets:
        problems.append(
            "production needs FINANCE_PAYMENT_PROVIDER_SECRETS, a JSON map "
            '{"<provider>": ["<current secret>", "<previous secret>"]}'
        )
    for provider, values in secrets.items():
        if not re.match(PROVIDER_NAME, provider):
            problems.append(f"payment provider name {provider!r} must match {PROVIDER_NAME}")
        if not 1 <= len(values) <= MAX_SECRETS_PER_PROVIDER:
            problems.append(f"payment provider {provider!r} needs 1 to {MAX_SECRETS_PER_PROVIDER} secrets")
        for i, value in enumerate(values):
            size = len(value.encode())
            if size == 0:
                problems.append(f"payment provider {provider!r}: secret #{i + 1} is empty")
            elif production and size < MIN_PRODUCTION_SECRET_BYTES:
                problems.append(
                    f"payment provider {provider!r}: secret #{i + 1} is {size} bytes; production needs at least "
                    f"{MIN_PRODUCTION_SECRET_BYTES}"
                )
    return problems
