"""Finance settings: payment provider secrets are read from the environment and checked at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from finance.config import Settings

LONG = "a-production-grade-secret-of-40-bytes-xyz"
PRODUCTION = {
    "jwt_jwks_url": "https://idp.example.gov.cn/.well-known/jwks.json",
    "data_encryption_keys": "a-data-encryption-key-of-at-least-32-bytes",
}


@pytest.fixture
def production(monkeypatch):
    """ENVIRONMENT is a shared variable: read from the environment (it wins over keyword arguments), as deployed."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("FINANCE_ENVIRONMENT", raising=False)
    for name in ("FINANCE_PAYMENT_PROVIDER_SECRETS", "JWT_SECRET", "FINANCE_JWT_SECRET"):  # no development secret
        monkeypatch.delenv(name, raising=False)


def test_the_provider_map_is_read_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("FINANCE_PAYMENT_PROVIDER_SECRETS", f'{{"wechat_pay": ["{LONG}", "old-{LONG}"]}}')
    settings = Settings()
    rules = settings.payment_rules()
    assert rules.provider_secrets == {"wechat_pay": (LONG.encode(), f"old-{LONG}".encode())}
    assert LONG not in repr(settings) and LONG not in str(settings.model_dump())  # SecretStr: never in clear


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        (None, "production needs FINANCE_PAYMENT_PROVIDER_SECRETS"),
        ({}, "production needs FINANCE_PAYMENT_PROVIDER_SECRETS"),
        ({"wechat_pay": [LONG, "too-short-previous-secret"]}, "secret #2 is 25 bytes; production needs at least 32"),
    ],
)
def test_production_refuses_a_missing_map_or_a_short_secret(production, secrets, message):
    overrides = {} if secrets is None else {"payment_provider_secrets": secrets}
    with pytest.raises(ValidationError, match=message):
        Settings(**PRODUCTION, **overrides)


def test_production_accepts_long_secrets(production):
    try:
        Settings(**PRODUCTION, payment_provider_secrets={"wechat_pay": [LONG], "unionpay": [LONG + "2"]})
    except ValidationError as exc:  # other production rules (libs/common) may refuse other settings, never these
        assert "payment" not in str(exc).lower(), exc


def test_outside_production_short_secrets_are_allowed_but_never_empty(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert Settings(payment_provider_secrets={"sandbox": ["dev"]}).payment_rules().providers == {"sandbox"}
    with pytest.raises(ValidationError, match="secret #1 is empty"):
        Settings(payment_provider_secrets={"sandbox": [""]})
    with pytest.raises(ValidationError, match="must match"):
        Settings(payment_provider_secrets={"WeChat Pay": ["dev"]})
