from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from finance.domain.payments import PaymentRules, check_provider_secrets
from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FINANCE_", extra="ignore")
    service_name: ClassVar[str] = "finance"
    default_port: ClassVar[int] = 8003

    payment_provider_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description='FINANCE_PAYMENT_PROVIDER_SECRETS: JSON {"<provider>": ["<current>", "<previous>"]}; a callback '
        "verifies against every secret listed (rotation). Production: required, each secret at least 32 bytes.",
    )
    payment_callback_tolerance_s: int = Field(
        default=300, ge=5, le=3600, description="How far a callback's Payment-Timestamp may be from the server's clock"
    )
    payment_callback_max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    payment_intent_ttl_s: int = Field(default=1800, ge=60, le=7 * 86_400, description="An intent's lifetime")
    receipt_max_age_days: int = Field(default=180, ge=1, le=3660, description="How old a staff receipt may be")

    def _provider_secret_problems(self, *, production: bool) -> list[str]:
        secrets = {p: [s.get_secret_value() for s in values] for p, values in self.payment_provider_secrets.items()}
        return [f"unsafe payment settings: {p}" for p in check_provider_secrets(secrets, production=production)]

    def production_problems(self) -> list[str]:
        return [*super().production_problems(), *self._provider_secret_problems(production=True)]

    @model_validator(mode="after")
    def _payment_provider_secrets_are_safe(self) -> Settings:
        if not self.is_production:  # production: reported with every other unsafe setting (production_problems)
            problems = self._provider_secret_problems(production=False)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    def payment_rules(self) -> PaymentRules:
        return PaymentRules(
            provider_secrets={
                p: tuple(s.get_secret_value().encode() for s in values)
                for p, values in self.payment_provider_secrets.items()
            },
            callback_tolerance_s=self.payment_callback_tolerance_s,
            intent_ttl_s=self.payment_intent_ttl_s,
            callback_max_body_bytes=self.payment_callback_max_body_bytes,
            receipt_max_age_days=self.receipt_max_age_days,
        )
