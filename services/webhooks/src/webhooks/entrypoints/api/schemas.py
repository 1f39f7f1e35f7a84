"""Request and response schemas of the webhooks API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from webhooks.domain.model import Attempt, Delivery, Subscription
from webhooks.domain.retry import Outcome

Pattern = Annotated[str, Field(min_length=1, max_length=200, examples=["finance.*"])]
ScopeId = Annotated[str, Field(min_length=1, max_length=64)]
Url = Annotated[str, Field(min_length=8, max_length=2048, examples=["https://gov.example.cn/hooks/renovation"])]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://jinjiang.gov.example.cn/hooks/renovation",
                    "event_types": ["finance.*", "smart_community.alarm.raised.v1"],
                    "district_id": "510104",
                    "community_id": "c-guidong",
                    "description": "锦江区住建局值班平台：资金与告警推送",
                    "max_concurrency": 4,
                }
            ]
        },
    )

    url: Url
    event_types: list[Pattern] = Field(
        min_length=1,
        max_length=50,
        description="Exact event types or wildcards: `*`, `finance.*`, `finance.emergency_repair.*`",
        examples=[["finance.*", "projects.project.completed.v1"]],
    )
    district_id: ScopeId | None = Field(
        default=None,
        description="Only events of this district. A caller bound to a district (district_admin, gov_system with a "
        "district claim) may only name its own, which is also the default; a city-level gov_system may name any.",
    )
    community_id: ScopeId | None = Field(
        default=None,
        description="Only events of this community: one the platform has registered, lying in your district and in "
        "the district filter (checked against the platform's records; 403 `out_of_scope`, 400 `unknown_community`)",
    )
    description: str = Field(default="", max_length=500)
    max_concurrency: int | None = Field(default=None, ge=1, le=50, description="Requests in flight to this endpoint")


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_types": ["smart_community.alarm.*"], "description": "只接收告警（春节值守期间）"},
                {"enabled": True},
            ]
        },
    )

    url: Url | None = None
    event_types: list[Pattern] | None = Field(default=None, min_length=1, max_length=50)
    community_id: ScopeId | None = None
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    max_concurrency: int | None = Field(default=None, ge=1, le=50)


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    district_id: str | None
    community_id: str | None
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="manual | gone_410 | failing_5_days")
    disabled_at: datetime | None
    max_concurrency: int
    owner_sub: str
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then requests are also signed with the previous secret"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionRead:
        return cls.model_validate(subscription, from_attributes=True)


class SubscriptionWithSecret(SubscriptionRead):
    secret: str = Field(description="Standard Webhooks secret (`whsec_...`). Shown only this once.")

    @classmethod
    def of(cls, subscription: Subscription, secret: str = "") -> SubscriptionWithSecret:  # type: ignore[override]
        return cls(**SubscriptionRead.of(subscription).model_dump(), secret=secret)


class RotateSecret(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"grace_period_s": 86400}, {"grace_period_s": 0}]}
    )

    grace_period_s: int | None = Field(
        default=None, ge=0, le=7 * 24 * 3600, description="How long the old secret keeps signing (default 24 h)"
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"since": "2026-05-11T00:00:00+08:00", "until": "2026-05-12T08:00:00+08:00"}]},
    )

    since: AwareDatetime = Field(description="Replay events whose time is at or after this instant")
    until: AwareDatetime | None = None


class ReplayRead(BaseModel):
    matched_events: int
    scheduled: int = Field(description="Deliveries created or rescheduled (already delivered events are skipped)")
    truncated: bool


DeliveryStatus = Literal["pending", "succeeded", "failed", "failing"]


class DeliveryRead(BaseModel):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID = Field(description="Also the `webhook-id` header of every attempt")
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryRead:
        return cls.model_validate(delivery, from_attributes=True)


class AttemptRead(BaseModel):
    attempt_no: int
    attempted_at: datetime
    url: str = Field(description="The URL called, without its query string")
    status_code: int | None
    latency_ms: int
    outcome: Outcome = Field(
        description="succeeded | retry (failed, will be retried) | failed (no retries left) | gone (410)"
    )
    response_body: str | None = Field(description="Truncated")
    error: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptRead:
        return cls.model_validate(attempt, from_attributes=True)
