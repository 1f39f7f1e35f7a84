"""Device payload validation: every malformed shape becomes a Rejected with a reason, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smart_community.domain.model import DeviceEvent, DeviceKind
from smart_community.domain.payloads import _NOT_JSON, MAX_PAYLOAD_BYTES, Rejected, loads, parse_payload

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def parse(body: object, kind: DeviceKind = DeviceKind.GAS_DETECTOR) -> DeviceEvent | Rejected:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_payload(raw, device_id="d1", kind=kind, received_at=NOW)


def test_valid_payload():
    ev = parse({"type": "alarm", "time": "2026-03-01T07:59:00+08:00", "readings": {"lel_percent": 12.5}})
    assert isinstance(ev, DeviceEvent)
    assert ev.device_time == datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
    assert ev.readings == {"lel_percent": 12.5}
    assert ev.received_at == NOW


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        ([1, 2], "JSON object"),
        ({"type": "door_open", "time": NOW.isoformat()}, "not an event of a gas_detector"),
        ({"type": "alarm"}, "RFC 3339"),
        ({"type": "alarm", "time": "2026-03-01T08:00:00"}, "RFC 3339"),  # no offset
        ({"type": "alarm", "time": (NOW + timedelta(minutes=11)).isoformat()}, "future"),
        ({"type": "alarm", "time": (NOW - timedelta(days=31)).isoformat()}, "older"),
        ({"type": "alarm", "time": NOW.isoformat(), "readings": [1]}, "object"),
        ({"type": "alarm", "time": NOW.isoformat(), "readings": {"Bad Key": 1}}, "lower_snake_case"),
        ({"type": "alarm", "time": NOW.isoformat(), "readings": {"x": {"nested": 1}}}, "string, number"),
        ({"type": "alarm", "time": NOW.isoformat(), "readings": {"x": "y" * 300}}, "longer"),
        ({"type": "alarm", "time": NOW.isoformat(), "readings": {f"k{i}": i for i in range(51)}}, "at most 50"),
    ],
)
def test_malformed_payloads_are_rejected_with_a_reason(body, reason):
    result = parse(body)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_clock_skew_boundary():
    assert isinstance(parse({"type": "alarm", "time": (NOW + timedelta(minutes=10)).isoformat()}), DeviceEvent)


def test_oversized_payload():
    result = parse(b"{" + b" " * MAX_PAYLOAD_BYTES + b"}")
    assert isinstance(result, Rejected) and "larger" in result.reason


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw):
    assert isinstance(
        parse_payload(raw, device_id="d", kind=DeviceKind.DOOR_SENSOR, received_at=NOW), DeviceEvent | Rejected
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "alarm", "time": "T", "readings": {"note": "a\x00b"}}', "NUL byte"),
        (b'{"type": "alarm", "time": "T", "readings": {"note": "a\\u0000b"}}', "NUL character"),
        (b'{"type": "alarm", "time": "T", "readings": {"note": "\\ud800"}}', "surrogate"),
        (b'{"type": "alarm", "time": "T", "readings": {"\\udc80": 1}}', "lower_snake_case"),
        (b'{"type": "al\\u0000arm", "time": "T"}', "is not an event"),
        (b'{"type": "alarm", "time": "2026-12-02T10:00:00\\u0000+08:00"}', "RFC 3339"),
        (b'{"type": "alarm", "time": "2026-12-02T10:00:00+08:00\\n"}', "RFC 3339"),
        (b'{"type": "alarm", "readings": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests deeper"),
        (b'{"type": "alarm", "readings": {"a": {"b": {"c": {"d": 1}}}}}', "nests deeper"),
    ],
)
def test_poison_payloads_are_rejected_before_they_reach_the_database(raw, reason):
    now = datetime.now(UTC)
    raw = raw.replace(b'"T"', json.dumps((now - timedelta(seconds=5)).isoformat()).encode())
    result = parse_payload(raw, device_id="d-1", kind=DeviceKind.GAS_DETECTOR, received_at=now)
    assert isinstance(result, Rejected) and reason in result.reason, result


def test_brackets_inside_strings_do_not_count_as_nesting():
    now = datetime.now(UTC)
    raw = json.dumps({"type": "alarm", "time": now.isoformat(), "readings": {"note": "[[[[[[{{{{{{"}}).encode()
    assert isinstance(parse_payload(raw, device_id="d-1", kind=DeviceKind.GAS_DETECTOR, received_at=now), DeviceEvent)


def _reference(raw: bytes) -> object:
    """What the standard library reads (the rules ``payloads.loads`` keeps), or the marker of a refusal."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.binary(max_size=200))
def test_the_fast_json_reader_reads_arbitrary_bytes_as_the_standard_library_does(raw):
    assert repr(loads(raw)) == repr(_reference(raw))


@given(_json_values, st.booleans(), st.sampled_from([b"", b" ", b"x", b"\\ud800", b'"', b"\xff"]))
def test_the_fast_json_reader_reads_json_text_as_the_standard_library_does(value, ascii_only, spoiler):
    """JSON text (escaped or raw UTF-8, surrogates included), whole or spoiled: the same value or the same refusal."""
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", errors="surrogatepass")
    for raw in (text, text + spoiler, text[: len(text) // 2] + spoiler + text[len(text) // 2 :]):
        assert repr(loads(raw)) == repr(_reference(raw))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T10:00:00Z", datetime(2026, 12, 2, 10, tzinfo=UTC)),
        ("2026-12-02T10:00:00z", datetime(2026, 12, 2, 10, tzinfo=UTC)),
        ("2026-12-02t18:00:00+08:00", datetime(2026, 12, 2, 10, tzinfo=UTC)),
        ("2026-12-02 18:00:00.123456789+08:00", datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-02T10:00:00", None),
        ("2026-12-02T10:00:00+0800", None),
        ("2026-12-02T10:00:00Zz", None),
    ],
)
def test_device_times_are_rfc_3339_with_an_offset(text, expected):
    from smart_community.domain.payloads import parse_time

    assert parse_time(text) == expected
