"""Validation of what devices send (MQTT payloads and gateway batches); pure, never raises on bad input."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic_core import from_json

from smart_community.domain.model import DeviceEvent, DeviceKind

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_NESTING = 4  # {"readings": {...}} is two levels deep; anything deeper is refused before it is parsed
MAX_READINGS = 50
MAX_READING_TEXT = 256
MAX_CLOCK_SKEW = timedelta(minutes=10)  # device time this far in the future is refused
MAX_AGE = timedelta(days=30)  # events older than this (buffered too long) are refused

COMMON_TYPES = frozenset({"heartbeat", "status", "fault", "reading"})
TYPES_BY_KIND: dict[DeviceKind, frozenset[str]] = {
    DeviceKind.GAS_DETECTOR: frozenset({"alarm", "clear"}),
    DeviceKind.SMOKE_ALARM: frozenset({"alarm", "clear"}),
    DeviceKind.DOOR_SENSOR: frozenset({"door_open", "door_close"}),
    DeviceKind.ACCESS_GATE: frozenset({"pass"}),
    DeviceKind.CAMERA: frozenset({"pass", "motion"}),
    DeviceKind.LPR_CAMERA: frozenset({"vehicle_entry", "vehicle_exit"}),
    DeviceKind.BARRIER_GATE: frozenset({"vehicle_entry", "vehicle_exit", "open", "close"}),
    DeviceKind.WATER_LEAK_SENSOR: frozenset({"leak", "dry"}),
    DeviceKind.INTERCOM: frozenset({"call", "unlock"}),
    DeviceKind.ELEVATOR_MONITOR: frozenset({"trapped", "stopped", "running"}),
    DeviceKind.EBIKE_CHARGER: frozenset({"charging_started", "charging_finished", "overheat"}),
    DeviceKind.INFO_SCREEN: frozenset({"displayed"}),
}
EVENT_TYPES: frozenset[str] = COMMON_TYPES.union(*TYPES_BY_KIND.values())  # every type some device kind sends
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Rejected:
    reason: str


_ALLOWED_TYPES: dict[DeviceKind, frozenset[str]] = {
    k: COMMON_TYPES | TYPES_BY_KIND.get(k, frozenset()) for k in DeviceKind
}


def allowed_types(kind: DeviceKind) -> frozenset[str]:
    return _ALLOWED_TYPES[kind]


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp with an offset; anything else is ``None``."""
    if not isinstance(value, str) or len(value) > 40 or not _RFC3339.fullmatch(value):
        return None
    try:  # the usual offset (+08:00) as it is; only a lower-case z needs spelling out (Python reads Z itself)
        parsed = datetime.fromisoformat(value if value[-1] != "z" else value[:-1] + "+00:00")
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def clean_text(value: str) -> bool:
    """Text we can store and show: no NUL character, no lone surrogate (it must encode as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def nesting_depth_exceeds(raw: bytes, limit: int = MAX_NESTING) -> bool:
    """True when the JSON text nests objects/arrays deeper than ``limit`` (scanned before parsing: a deeply nested
    payload would make the parser recurse until it fails)."""
    if raw.count(b"{") + raw.count(b"[") <= limit:  # the usual payload: too few brackets to nest deeper (no scan)
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return False


# Reading names already found valid: devices send the same few names again and again, so the pattern is matched
# once per name, not once per reading (bounded: past this many names, each new one is matched every time).
_GOOD_KEYS: set[str] = set()
_GOOD_KEYS_MAX = 4096


def check_readings(readings: object) -> str | None:
    if not isinstance(readings, dict):
        return "readings must be an object"
    if len(readings) > MAX_READINGS:
        return f"at most {MAX_READINGS} readings"
    good = _GOOD_KEYS
    for key, value in readings.items():
        if key not in good:
            if not isinstance(key, str) or not _KEY_RE.match(key):
                return "reading names are lower_snake_case, at most 40 characters"
            if len(good) < _GOOD_KEYS_MAX:
                good.add(key)
        if isinstance(value, str):
            if len(value) > MAX_READING_TEXT:
                return f"reading {key} is longer than {MAX_READING_TEXT} characters"
            if not clean_text(value):
                return f"reading {key} holds a NUL character or an invalid (surrogate) code point"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return f"reading {key} is not a finite number"
        elif value is not None and not isinstance(value, bool | int):
            return f"reading {key} must be a string, number, boolean or null"
    return None


def validate_event(
    *,
    device_id: str,
    kind: DeviceKind,
    event_type: object,
    device_time: object,
    readings: object,
    received_at: datetime,
) -> DeviceEvent | Rejected:
    """Check one event's fields against its device kind and the receiving clock."""
    if not isinstance(event_type, str) or event_type not in _ALLOWED_TYPES[kind]:
        return Rejected(f"type {str(event_type)[:40]!a} is not an event of a {kind.value}")
    when = device_time if isinstance(device_time, datetime) else parse_time(device_time)
    if when is None or when.tzinfo is None:
        return Rejected("time must be RFC 3339 with an offset")
    if when > received_at + MAX_CLOCK_SKEW:
        return Rejected("time is in the future")
    if when < received_at - MAX_AGE:
        return Rejected("time is older than 30 days")
    if readings is None:
        readings = {}
    problem = check_readings(readings)
    if problem is not None:
        return Rejected(problem)
    assert isinstance(readings, dict)
    return DeviceEvent(
        device_id=device_id, event_type=event_type, device_time=when, received_at=received_at, readings=readings
    )


_NOT_JSON = object()


def loads(raw: bytes) -> object:
    """The JSON value of UTF-8 bytes, as ``json.loads`` reads it, or ``_NOT_JSON``. Parsed straight from the bytes
    by pydantic-core's parser (several times faster); what it refuses — it is stricter: a lone surrogate escape,
    say — goes through ``json.loads``, so the rules are exactly those of the standard library's parser."""
    try:
        return from_json(raw)
    except ValueError:
        pass
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def parse_payload(raw: bytes, *, device_id: str, kind: DeviceKind, received_at: datetime) -> DeviceEvent | Rejected:
    """An MQTT payload: ``{"type": "...", "time": "RFC 3339", "readings": {...}}`` (UTF-8 JSON)."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        return Rejected(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    if b"\x00" in raw:
        return Rejected("payload holds a NUL byte")
    if nesting_depth_exceeds(raw):
        return Rejected(f"payload nests deeper than {MAX_NESTING} levels")
    body = loads(raw)
    if body is _NOT_JSON:
        return Rejected("payload is not UTF-8 JSON")
    if not isinstance(body, dict):
        return Rejected("payload must be a JSON object")
    return validate_event(
        device_id=device_id,
        kind=kind,
        event_type=body.get("type"),
        device_time=body.get("time"),
        readings=body.get("readings"),
        received_at=received_at,
    )
