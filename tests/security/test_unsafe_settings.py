"""Issue 12, point 6: production refuses unsafe settings, at start, with a clear message, before any connection.

Each case builds a service's real Settings class from an environment the way a deployment gives it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from renovation_common.crypto import KeyRing, UndecryptableError
from renovation_common.settings import DEV_DATA_ENCRYPTION_KEY, DEV_JWT_SECRET
from survey.config import Settings as SurveySettings
from webhooks.adapters.secrets import SecretBox
from webhooks.config import Settings as WebhooksSettings

STRONG = "k" * 40
PRODUCTION = {
    "ENVIRONMENT": "production",
    "JWT_JWKS_URL": "https://idp.example.gov.cn/.well-known/jwks.json",
    "DATA_ENCRYPTION_KEYS": STRONG,
    "WEBHOOKS_SECRET_ENCRYPTION_KEY": "w" * 40,
    "NATS_URL": f"nats://services:{'n' * 40}@nats:4222",
    "DATABASE_URL": f"postgresql://renovation:{'p' * 40}@postgres:5432/postgres",
}


@pytest.fixture
def env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("JWT_", "DATA_ENCRYPTION", "WEBHOOKS_", "SURVEY_", "ENVIRONMENT", "NATS_URL", "DATABASE")):
            monkeypatch.delenv(name, raising=False)

    def apply(**values: str | None) -> None:
        for name, value in {**PRODUCTION, **values}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return apply


def refusal(cls: type, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        cls()


def test_a_safe_production_environment_starts(env):
    env()
    assert SurveySettings().is_production
    assert WebhooksSettings().secret_encryption_key == "w" * 40


def test_an_unknown_environment_fails(env):
    env(ENVIRONMENT="prodution")
    refusal(SurveySettings, "environment")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"JWT_JWKS_URL": None}, "JWT_JWKS_URL is required"),
        ({"JWT_JWKS_URL": "http://idp.example/jwks"}, "https"),
        ({"JWT_SECRET": DEV_JWT_SECRET}, "HS256"),
        ({"JWT_SECRET": "x" * 64}, "HS256"),
        ({"DATA_ENCRYPTION_KEYS": None}, "DATA_ENCRYPTION_KEYS is required"),
        ({"DATA_ENCRYPTION_KEYS": "short"}, "at least 32 bytes"),
        ({"DATA_ENCRYPTION_KEYS": DEV_DATA_ENCRYPTION_KEY}, "at least 32 bytes"),
        ({"NATS_URL": "nats://services:weak@nats:4222"}, "NATS_URL"),
        ({"DATABASE_URL": "postgresql://renovation:weak@postgres:5432/postgres"}, "DATABASE_URL"),
    ],
)
def test_production_refuses(env, change, match):
    env(**change)
    refusal(SurveySettings, match)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"WEBHOOKS_SECRET_ENCRYPTION_KEY": None}, "WEBHOOKS_SECRET_ENCRYPTION_KEY is required"),
        ({"WEBHOOKS_SECRET_ENCRYPTION_KEY": "too-short"}, "shorter than 32 bytes"),
        ({"WEBHOOKS_SECRET_ENCRYPTION_KEY": f"{'w' * 40},weak"}, "shorter than 32 bytes"),
    ],
)
def test_production_refuses_a_missing_or_weak_webhook_key(env, change, match):
    env(**change)
    refusal(WebhooksSettings, match)


def test_development_keeps_its_defaults(env):
    env(ENVIRONMENT="development", JWT_JWKS_URL=None, DATA_ENCRYPTION_KEYS=None, WEBHOOKS_SECRET_ENCRYPTION_KEY=None)
    assert SurveySettings().jwt_secret == DEV_JWT_SECRET
    assert WebhooksSettings().secret_encryption_key


def test_the_webhook_key_rotates_and_old_keys_still_decrypt():
    old, new = "o" * 40, "n" * 40
    sealed_with_old = SecretBox(old).seal("whsec_abc")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.open(sealed_with_old) == "whsec_abc"
    resealed = rotated.reseal(sealed_with_old)
    assert SecretBox(new).open(resealed) == "whsec_abc"  # the old key can now be retired
    with pytest.raises(RuntimeError):
        SecretBox(new).open(sealed_with_old)
    with pytest.raises(UndecryptableError):  # a key ring is bound to its purpose
        KeyRing(old, purpose="idempotency").open(SecretBox(old).seal("x").encode())


def test_a_bad_production_configuration_exits_at_once_with_a_clear_message():
    """`python -m webhooks` with unreachable servers: it must not try to connect, only refuse, naming the gap."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "WEBHOOKS_", "DATA_ENCRYPTION"))}
    environment.update(PRODUCTION)
    environment.pop("WEBHOOKS_SECRET_ENCRYPTION_KEY")
    environment["DATABASE_URL"] = f"postgresql://renovation:{'p' * 40}@192.0.2.1:5432/postgres"  # TEST-NET: no host
    environment["NATS_URL"] = f"nats://services:{'n' * 40}@192.0.2.1:4222"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "webhooks"], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to start" in done.stderr and "WEBHOOKS_SECRET_ENCRYPTION_KEY is required" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60  # a connection attempt to TEST-NET would hang far longer
