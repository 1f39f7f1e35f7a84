"""Payment rules without a database: callback signatures, intent checks, receipt times, provider secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from finance.domain.errors import RuleViolation
from finance.domain.payments import (
    IntentFacts,
    IntentStatus,
    PaymentRules,
    ProviderPayment,
    check_provider_payment,
    check_provider_secrets,
    check_received_at,
    intent_status,
    provider_secrets,
    signature,
    signature_header,
    signed_payload,
    verify_callback,
)

SECRET = b"s" * 32
OLD = b"o" * 32
BODY = b'{"event":"payment.succeeded","amount_fen":100}'
NOW = 1_760_000_000


def code_of(call) -> tuple[int, str]:
    with pytest.raises(RuleViolation) as info:
        call()
    return info.value.status, info.value.code


def verify(ts: str | None, sig: str | None, body: bytes = BODY, secrets=(SECRET, OLD), now: int = NOW) -> int:
    return verify_callback(list(secrets), ts, sig, body, now_s=now, tolerance_s=300)


def test_signature_is_hmac_sha256_base64_over_timestamp_dot_body():
    expected = base64.b64encode(hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).digest()).decode()
    assert signed_payload(str(NOW), BODY) == f"{NOW}.".encode() + BODY
    assert signature(SECRET, str(NOW), BODY) == expected
    assert signature_header(SECRET, str(NOW), BODY) == f"v1={expected}"


def test_a_valid_signature_under_the_current_or_the_previous_secret_is_accepted():
    assert verify(str(NOW), signature_header(SECRET, str(NOW), BODY)) == NOW
    assert verify(str(NOW), signature_header(OLD, str(NOW), BODY)) == NOW  # rotation: the previous secret
    # several signatures (the provider rotating on its side): one match is enough
    both = f"v1={base64.b64encode(b'x' * 32).decode()} {signature_header(SECRET, str(NOW), BODY)}"
    assert verify(str(NOW), both) == NOW


@pytest.mark.parametrize(
    ("ts", "sig", "body", "code"),
    [
        (None, "v1=abc", BODY, "callback_signature_missing"),
        (str(NOW), None, BODY, "callback_signature_missing"),
        ("", "", BODY, "callback_signature_missing"),
        ("17e8", "v1=abc", BODY, "callback_timestamp_invalid"),
        ("-1", "v1=abc", BODY, "callback_timestamp_invalid"),
        ("1" * 13, "v1=abc", BODY, "callback_timestamp_invalid"),
        (str(NOW - 301), "SIGN", BODY, "callback_timestamp_out_of_tolerance"),
        (str(NOW + 301), "SIGN", BODY, "callback_timestamp_out_of_tolerance"),
        (str(NOW), "v1=not-base64!", BODY, "callback_signature_invalid"),
        (str(NOW), "v2=MAC", BODY, "callback_signature_invalid"),  # only the v1 scheme counts
        (str(NOW), "MAC", BODY, "callback_signature_invalid"),  # the scheme is part of the header
        (str(NOW), "SIGN", BODY + b" ", "callback_signature_invalid"),  # one byte more than was signed
        (str(NOW), "v1=" + "A" * 2000, BODY, "callback_signature_invalid"),
    ],
)
def test_refusals_are_401_with_a_stable_code(ts, sig, body, code):
    if sig and "SIGN" in sig:
        sig = sig.replace("SIGN", signature_header(SECRET, ts, BODY))
    if sig and "MAC" in sig:
        sig = sig.replace("MAC", signature(SECRET, ts, BODY))
    assert code_of(lambda: verify(ts, sig, body)) == (401, code)


def test_a_signature_made_with_another_secret_or_for_another_timestamp_is_refused():
    forged = signature_header(b"f" * 32, str(NOW), BODY)
    assert code_of(lambda: verify(str(NOW), forged)) == (401, "callback_signature_invalid")
    moved = signature_header(SECRET, str(NOW - 10), BODY)  # a captured signature with a fresh timestamp
    assert code_of(lambda: verify(str(NOW), moved)) == (401, "callback_signature_invalid")
    assert code_of(lambda: verify(str(NOW), signature_header(SECRET, str(NOW), BODY), secrets=())) == (
        401,
        "callback_signature_invalid",
    )


def test_the_tolerance_bound_is_inclusive():
    for ts in (NOW - 300, NOW + 300):
        assert verify(str(ts), signature_header(SECRET, str(ts), BODY)) == ts


def test_an_unknown_provider_has_nothing_to_verify_with():
    rules = PaymentRules(provider_secrets={"wechat_pay": (SECRET,)})
    assert provider_secrets(rules, "wechat_pay") == (SECRET,)
    assert code_of(lambda: provider_secrets(rules, "alipay")) == (401, "payment_provider_unknown")
    assert "s" * 32 not in repr(rules)  # secrets never in a repr (logs, tracebacks)


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
INTENT = IntentFacts("wechat_pay", 40_154, "pending", T0 + timedelta(minutes=30), None)


def paid(**kw) -> ProviderPayment:
    values = {"provider": "wechat_pay", "provider_txn_id": "t1", "intent_id": "i", "amount_fen": 40_154}
    return ProviderPayment(**{**values, "paid_at": T0 + timedelta(minutes=1), **kw})


@pytest.mark.parametrize(
    ("payment", "intent", "expected"),
    [
        (paid(provider="alipay"), INTENT, (422, "payment_intent_provider_mismatch")),
        (paid(amount_fen=40_153), INTENT, (422, "payment_amount_mismatch")),
        (paid(amount_fen=40_155), INTENT, (422, "payment_amount_mismatch")),
        (paid(paid_at=T0 + timedelta(minutes=7)), INTENT, (422, "paid_at_in_future")),
        (
            paid(),
            IntentFacts("wechat_pay", 40_154, "succeeded", INTENT.expires_at, "t0"),
            (409, "payment_intent_already_paid"),
        ),
        (paid(paid_at=T0 + timedelta(minutes=31)), INTENT, (409, "payment_intent_expired")),
    ],
)
def test_a_callback_that_does_not_match_its_intent_is_refused(payment, intent, expected):
    now = T0 + timedelta(minutes=1) if payment.paid_at < T0 + timedelta(minutes=30) else T0 + timedelta(minutes=40)
    assert code_of(lambda: check_provider_payment(intent, payment, now=now, tolerance_s=300)) == expected


def test_a_late_callback_for_a_payment_made_before_expiry_is_accepted():
    late = T0 + timedelta(hours=5)  # the provider retried for hours (our service was down)
    check_provider_payment(INTENT, paid(paid_at=T0 + timedelta(minutes=29)), now=late, tolerance_s=300)


def test_intent_status_is_derived_from_the_clock():
    expires = T0 + timedelta(minutes=30)
    assert intent_status("pending", expires, T0) is IntentStatus.PENDING
    assert intent_status("pending", expires, expires) is IntentStatus.EXPIRED
    assert intent_status("succeeded", expires, expires + timedelta(days=1)) is IntentStatus.SUCCEEDED


def test_received_at_not_in_the_future_nor_older_than_the_limit():
    rules = PaymentRules(receipt_max_age_days=180)
    check_received_at(T0, now=T0, rules=rules)
    check_received_at(T0 - timedelta(days=180), now=T0, rules=rules)
    assert code_of(lambda: check_received_at(T0 + timedelta(seconds=1), now=T0, rules=rules)) == (
        422,
        "received_at_in_future",
    )
    assert code_of(lambda: check_received_at(T0 - timedelta(days=181), now=T0, rules=rules)) == (
        422,
        "received_at_too_old",
    )


def test_provider_secrets_rules():
    long = "x" * 32
    assert check_provider_secrets({}, production=False) == []
    assert check_provider_secrets({"wechat_pay": [long, "y" * 40]}, production=True) == []
    assert check_provider_secrets({"sandbox": ["short"]}, production=False) == []
    [missing] = check_provider_secrets({}, production=True)
    assert "FINANCE_PAYMENT_PROVIDER_SECRETS" in missing
    [short] = check_provider_secrets({"wechat_pay": [long, "x" * 31]}, production=True)
    assert "secret #2 is 31 bytes" in short and "at least 32" in short
    # bytes, not characters: 11 Chinese characters are 33 bytes
    assert check_provider_secrets({"wechat_pay": ["支付密钥支付密钥支付密"]}, production=True) == []
    assert check_provider_secrets({"Bad Name": [long]}, production=False)
    assert check_provider_secrets({"p": []}, production=False)
    assert check_provider_secrets({"p": [long] * 6}, production=False)
    assert check_provider_secrets({"p": [""]}, production=False)
