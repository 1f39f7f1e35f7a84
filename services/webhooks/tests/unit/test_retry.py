from datetime import UTC, datetime, timedelta

import pytest

from webhooks.domain.retry import (
    MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    Outcome,
    classify,
    decide_after_failure,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_schedule_is_the_specified_one():
    assert [d.total_seconds() for d in RETRY_SCHEDULE] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert MAX_ATTEMPTS == 8


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, Outcome.SUCCEEDED), (204, Outcome.SUCCEEDED), (299, Outcome.SUCCEEDED), (199, Outcome.RETRY),
     (300, Outcome.RETRY), (302, Outcome.RETRY), (400, Outcome.RETRY), (410, Outcome.GONE), (500, Outcome.RETRY),
     (None, Outcome.RETRY)],
)  # fmt: skip
def test_classify(status, outcome):
    assert classify(status) is outcome


def test_retry_delay_jitter_bounds_and_exhaustion():
    assert retry_delay(1, 0.5) == timedelta(seconds=5)
    assert retry_delay(1, 0.0) == timedelta(seconds=4.5)
    assert retry_delay(1, 0.999999) < timedelta(seconds=5.5)
    assert retry_delay(7, 0.5) == timedelta(hours=10)
    assert retry_delay(8, 0.5) is None
    with pytest.raises(ValueError):
        retry_delay(0, 0.5)
    with pytest.raises(ValueError):
        retry_delay(1, 1.0)


def test_retry_after_seconds_and_date():
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Sun, 22 Nov 2026 08:10:00 GMT", NOW) == timedelta(minutes=10)
    assert parse_retry_after("Sun, 22 Nov 2026 07:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("999999999", NOW) == timedelta(hours=24)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_decide_retry_honours_longer_retry_after():
    d = decide_after_failure(
        status_code=503, failures=1, now=NOW, jitter_unit=0.5, retry_after=timedelta(minutes=1), failing_since=None
    )
    assert d.outcome is Outcome.RETRY and d.next_attempt_at == NOW + timedelta(minutes=1) and d.disable_endpoint is None
    d = decide_after_failure(
        status_code=503, failures=2, now=NOW, jitter_unit=0.5, retry_after=timedelta(seconds=1), failing_since=None
    )
    assert d.next_attempt_at == NOW + timedelta(minutes=5)


def test_decide_exhausted_gone_and_failing_for_five_days():
    d = decide_after_failure(status_code=500, failures=8, now=NOW, jitter_unit=0.5, retry_after=None, failing_since=NOW)
    assert d.outcome is Outcome.FAILED and d.next_attempt_at is None
    d = decide_after_failure(
        status_code=410, failures=1, now=NOW, jitter_unit=0.5, retry_after=None, failing_since=None
    )
    assert d.outcome is Outcome.GONE and d.disable_endpoint == "gone_410"
    just_under = NOW - timedelta(days=5) + timedelta(seconds=1)
    d = decide_after_failure(
        status_code=500, failures=1, now=NOW, jitter_unit=0.5, retry_after=None, failing_since=just_under
    )
    assert d.disable_endpoint is None
    d = decide_after_failure(
        status_code=500, failures=1, now=NOW, jitter_unit=0.5, retry_after=None, failing_since=NOW - timedelta(days=5)
    )
    assert d.disable_endpoint == "failing_5_days"
