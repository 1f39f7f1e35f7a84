"""Delivery outcomes and the retry schedule (Standard Webhooks / Svix style)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

# Delays before the 2nd, 3rd, ... attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h -> 8 attempts in all.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.1  # +-10 %
MAX_RETRY_AFTER = timedelta(hours=24)
FAILING_DISABLE_AFTER = timedelta(days=5)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"  # failed, will be retried
    FAILED = "failed"  # failed, no retries left
    GONE = "gone"  # 410: the endpoint asked to be disabled


def classify(status_code: int | None) -> Outcome:
    """2xx succeeds; 410 disables the endpoint; anything else (3xx included, redirects are not followed) fails."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome.SUCCEEDED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.RETRY


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date, bounded to [0, 24 h]; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    delay: timedelta
    if value.isdigit():
        delay = timedelta(seconds=int(value[:9]))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def retry_delay(failures: int, jitter_unit: float) -> timedelta | None:
    """Delay after the ``failures``-th failed attempt (1-based) with jitter; ``None`` when no retry is left.

    ``jitter_unit`` is a random number in [0, 1) supplied by the caller; it spreads the delay by +-10 %.
    """
    if failures < 1:
        raise ValueError("failures counts from 1")
    if failures > len(RETRY_SCHEDULE):
        return None
    if not 0.0 <= jitter_unit < 1.0:
        raise ValueError("jitter_unit must be in [0, 1)")
    base = RETRY_SCHEDULE[failures - 1]
    return base * (1 + JITTER * (2 * jitter_unit - 1))


@dataclass(frozen=True)
class FailureDecision:
    outcome: Outcome  # RETRY, FAILED or GONE
    next_attempt_at: datetime | None
    disable_endpoint: str | None  # reason: gone_410 | failing_5_days


def decide_after_failure(
    *,
    status_code: int | None,
    failures: int,
    now: datetime,
    jitter_unit: float,
    retry_after: timedelta | None,
    failing_since: datetime | None,
) -> FailureDecision:
    """What to do after a failed attempt (``failures`` counts this one)."""
    if classify(status_code) is Outcome.GONE:
        return FailureDecision(Outcome.GONE, None, "gone_410")
    since = failing_since or now
    disable = "failing_5_days" if now - since >= FAILING_DISABLE_AFTER else None
    delay = retry_delay(failures, jitter_unit)
    if delay is None:
        return FailureDecision(Outcome.FAILED, None, disable)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return FailureDecision(Outcome.RETRY, now + delay, disable)
