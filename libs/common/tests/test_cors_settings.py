"""CORS settings: origins only, JSON or comma-separated when shared, never "*" in production."""

from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Svc(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SVC_", extra="ignore")
    service_name = "svc"


def test_origins_are_checked():
    assert Svc(cors_allow_origins=["https://h5.example.gov.cn", "http://127.0.0.1:5173"]).cors_allow_origins
    for bad in ("https://h5.example.gov.cn/", "h5.example.gov.cn", "https://x/path", "ftp://x"):
        with pytest.raises(ValueError, match="not an origin"):
            Svc(cors_allow_origins=[bad])


def test_shared_variable_as_json_or_commas(monkeypatch):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", '["https://a.example.com"]')
    assert Svc().cors_allow_origins == ["https://a.example.com"]
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example.com, https://b.example.com")
    assert Svc().cors_allow_origins == ["https://a.example.com", "https://b.example.com"]
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "[]")
    assert Svc().cors_allow_origins == []


def test_any_origin_is_for_development_only():
    assert Svc(cors_allow_origins=["*"]).cors_allow_origins == ["*"]
    with pytest.raises(ValueError, match="CORS_ALLOW_ORIGINS must list"):
        Svc(
            environment="production",
            jwt_jwks_url="https://idp.example.com/jwks",
            data_encryption_keys="k" * 40,
            cors_allow_origins=["*"],
        )
