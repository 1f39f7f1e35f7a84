"""Ingestion of device events (MQTT through the DEVICES stream, or gateway batches over HTTP).

One transaction per batch: bulk insert of the new events, rejects with their reason, last-seen times, and the
effects of the alarm rules (alarms + outbox events, welfare deadlines, parking counts).

From the DEVICES stream, two consumers of the common runner share the work (``ingest_deliveries``): one takes the
alarm-bearing kinds only (``ALARM_KINDS``: gas, smoke, water leak, door sensors, access gates), so a gas alarm
never waits behind a telemetry backlog; the other takes everything else. A payload that
fails validation (not UTF-8 JSON, NUL bytes, lone surrogates, too large, nested too deep, unknown device, wrong topic
or kind, a clock too far ahead) is a reject with its reason, counted — never a stop; a message the database still
refuses is isolated by the runner and dead-lettered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic_core import to_json

from renovation_common.auth import Principal
from renovation_common.clock import system_clock
from renovation_common.db import UnitOfWork
from renovation_common.errors import Forbidden
from renovation_common.messaging import Delivery
from smart_community.adapters.repositories import (
    AlarmRepository,
    DeviceContext,
    DeviceEventRepository,
    DeviceRepository,
    EventRow,
    HouseholdRepository,
    ParkingRepository,
    WelfareTimerRepository,
)
from smart_community.domain.model import AlarmType, DeviceEvent, DeviceKind, DeviceRecord, parse_device_subject
from smart_community.domain.payloads import Rejected, parse_payload, validate_event
from smart_community.domain.rules import (
    DEVICE_ONLINE_CLEARER,
    ArmWelfareTimer,
    ParkingChange,
    RaiseAlarm,
    RequestRepair,
    SensorNormal,
    evaluate,
)
from smart_community.service_layer.alarms import CLEAR, raise_alarm, take_step
from smart_community.service_layer.devices import announce_liveness

DEVICE_EVENTS = Counter(
    "smart_community_device_events_total", "Device events received, by source and outcome", ["source", "outcome"]
)
# From a device event's arrival (``received_at``: when the DEVICES stream stored the MQTT message, or when the
# gateway's request was received; both wall clock) to the commit of the transaction that opened its alarm and wrote
# the ``alarm.raised`` event into the outbox. Only alarms a device event opens (not repeats, not the scanner's
# welfare or offline alarms, whose moment is decided by time). Publication by the relay is not included.
ALARM_LATENCY = Histogram(
    "smart_community_alarm_latency_seconds",
    "Device event arrival -> its alarm committed with alarm.raised in the outbox",
    ["severity"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
MAX_REJECT_PAYLOAD = 4000
_SLICE = 100  # messages parsed between two pauses of a telemetry batch (a few ms of the event loop)

# Kinds whose events can raise an alarm or arm a welfare timer (the rules of ``domain/rules.py``): their own
# consumer, ahead of telemetry. Elevator monitors and e-bike chargers raise no alarm (no rule reads them) and send
# the bulk of the readings: they travel with the telemetry, so their backlog never delays a gas alarm. Cameras'
# recognitions are high-volume too: an unaccompanied exit seen by a camera (a warning) rides the telemetry path.
ALARM_KINDS = frozenset(
    {
        DeviceKind.GAS_DETECTOR,
        DeviceKind.SMOKE_ALARM,
        DeviceKind.WATER_LEAK_SENSOR,
        DeviceKind.DOOR_SENSOR,
        DeviceKind.ACCESS_GATE,
    }
)
ALARM_SUBJECTS = sorted(f"devices.*.*.{kind.value}" for kind in ALARM_KINDS)
_ALARM_KIND_VALUES = frozenset(k.value for k in ALARM_KINDS)


def on_alarm_path(subject: str) -> bool:
    """Whether the alarm consumer's filter (``ALARM_SUBJECTS``) takes this subject."""
    parts = subject.split(".")
    return len(parts) == 4 and parts[0] == "devices" and parts[3] in _ALARM_KIND_VALUES


@dataclass(slots=True)
class Incoming:
    """One message as it arrived: from MQTT (``subject`` + ``raw``) or from a gateway (``fields``)."""

    source: str  # mqtt | http
    received_at: datetime
    subject: str = ""
    raw: bytes | None = None
    stream_seq: int | None = None
    device_id: str | None = None  # http
    fields: dict[str, Any] | None = None  # http: type, time, readings
    client_event_id: str | None = None  # http: the gateway's own id of the event


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)
    alarms_raised: int = 0
    # (severity, arrival of the event) of each alarm this batch opened: the latency observed after the commit
    opened: list[tuple[str, datetime]] = field(default_factory=list)


def _storable(text: str) -> str:
    """Any text as Postgres can store it: NUL and lone surrogates escaped."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _reject_row(item: Incoming, device_id: str | None, reason: str) -> dict[str, Any]:
    if item.raw is not None:
        payload = item.raw[:MAX_REJECT_PAYLOAD].decode("utf-8", errors="backslashreplace")
    else:
        payload = ascii(item.fields)[:MAX_REJECT_PAYLOAD]
    return {
        "received_at": item.received_at,
        "subject": _storable(item.subject or f"http:{device_id}")[:255],
        "device_id": _storable(device_id)[:64] if device_id else None,
        "source": item.source,
        "reason": _storable(reason)[:500],
        "payload": _storable(payload),
        "stream_seq": item.stream_seq,
    }


async def ingest(
    uow: UnitOfWork,
    items: list[Incoming],
    *,
    source_uri: str,
    now: datetime,
    gateway_community: str | None = None,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> IngestResult:
    """``pause`` (telemetry): awaited between the steps of the batch and every ``_SLICE`` messages of its parsing,
    so that an alarm batch waiting for the event loop gets it at once (see ``entrypoints/consumers.AlarmsFirst``)."""
    result = IngestResult()
    async with uow:
        session = uow.session
        # (community, device, kind) of each MQTT subject, parsed once per subject of the batch (a device sends many)
        subjects: dict[str, tuple[str, str, str] | None] = {}
        device_ids: list[str | None] = []
        for item in items:
            if item.fields is not None:
                device_ids.append(item.device_id)
            else:
                parts = subjects.get(item.subject, ())
                if parts == ():
                    parts = subjects[item.subject] = parse_device_subject(item.subject)
                device_ids.append(parts[1] if parts else None)
        # the devices with their households' flags and their communities' rule settings: one statement
        context = await DeviceRepository(session).for_ingest({d for d in device_ids if d})
        known = {device_id: c.record for device_id, c in context.items()}

        accepted: list[tuple[int, DeviceEvent, DeviceRecord, Incoming]] = []
        rows: list[EventRow] = []
        rejects: list[dict[str, Any]] = []
        dumps = to_json  # readings as stored: compact JSON (pydantic-core's serializer; the column is jsonb)
        for index, (item, device_id) in enumerate(zip(items, device_ids, strict=True)):
            if pause is not None and index % _SLICE == 0:
                await pause()
            record = known.get(device_id) if device_id else None
            reason: str | None = None
            parsed: DeviceEvent | Rejected | None = None
            if device_id is None:
                reason = "subject is not devices.<community>.<device>.<kind>"
            elif record is None:
                reason = "unknown device"
            elif gateway_community is not None and record.device.community_id != gateway_community:
                reason = "device is outside the gateway's community"
            elif item.fields is None:
                parts = subjects[item.subject]
                assert parts is not None
                if parts[0] != record.device.community_id:
                    reason = "topic names another community"
                elif parts[2] != record.device.kind.value:
                    reason = f"topic kind {parts[2]} is not the device's kind"
                else:
                    assert item.raw is not None
                    parsed = parse_payload(
                        item.raw, device_id=device_id, kind=record.device.kind, received_at=item.received_at
                    )
            else:
                parsed = validate_event(
                    device_id=device_id,
                    kind=record.device.kind,
                    event_type=item.fields.get("type"),
                    device_time=item.fields.get("time"),
                    readings=item.fields.get("readings"),
                    received_at=item.received_at,
                )
            if isinstance(parsed, Rejected):
                reason = parsed.reason
            if reason is not None or not isinstance(parsed, DeviceEvent) or record is None:
                reason = reason or "invalid"
                rejects.append(_reject_row(item, device_id, reason))
                result.rejected.append((index, reason))
                continue
            accepted.append((index, parsed, record, item))
            rows.append(
                EventRow(
                    parsed.device_id,
                    record.device.community_id,
                    parsed.event_type,
                    parsed.device_time,
                    parsed.received_at,
                    dumps(parsed.readings).decode(),
                    item.source,
                    item.stream_seq,
                    item.client_event_id,
                )
            )

        events = DeviceEventRepository(session)
        if pause is not None:
            await pause()
        stored = await events.add_new(rows)  # with the devices' last-seen times, in one statement
        await events.add_rejects(rejects)
        new_events = [a for a, is_new in zip(accepted, stored.fresh, strict=True) if is_new]
        result.accepted = len(new_events)
        result.duplicates = len(accepted) - len(new_events)
        if stored.online_again:
            await _back_online(uow, stored.online_again, new_events, context, source_uri=source_uri, now=now)
        if pause is not None:
            await pause()
        result.opened = await _apply_rules(uow, new_events, context, source_uri=source_uri, now=now)
        result.alarms_raised = len(result.opened)
        await uow.commit()
    if result.opened:
        committed = system_clock()  # the wall clock, as ``received_at`` is
        for severity, arrived in result.opened:
            ALARM_LATENCY.labels(severity).observe(max(0.0, (committed - arrived).total_seconds()))

    for source in {i.source for i in items}:
        DEVICE_EVENTS.labels(source, "rejected").inc(sum(1 for i, _ in result.rejected if items[i].source == source))
    if items:
        DEVICE_EVENTS.labels(items[0].source, "accepted").inc(result.accepted)
        DEVICE_EVENTS.labels(items[0].source, "duplicate").inc(result.duplicates)
    return result


async def ingest_deliveries(
    uow: UnitOfWork,
    deliveries: list[Delivery],
    *,
    source_uri: str,
    now: datetime,
    skip_alarm_path: bool = False,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> IngestResult:
    """A batch from the DEVICES stream (the consumer runner's batch handler). ``skip_alarm_path``: the telemetry
    consumer leaves what the alarm consumer takes; ``pause``: as in :func:`ingest`."""
    if skip_alarm_path:  # each subject looked at once per batch (a device sends many messages)
        alarm_path: dict[str, bool] = {}
        for d in deliveries:
            if d.subject not in alarm_path:
                alarm_path[d.subject] = on_alarm_path(d.subject)
        deliveries = [d for d in deliveries if not alarm_path[d.subject]]
    items = [Incoming("mqtt", d.received_at or now, d.subject, d.data, d.stream_seq) for d in deliveries]
    if not items:
        return IngestResult()
    return await ingest(uow, items, source_uri=source_uri, now=now, pause=pause)


@dataclass(frozen=True)
class GatewayEvent:
    """One event of a gateway's batch, as the gateway sent it (validated by the ingestion, not before)."""

    device_id: str
    type: object
    time: object
    readings: object
    event_id: str | None = None


async def ingest_gateway_batch(
    uow: UnitOfWork,
    principal: Principal,
    events: list[GatewayEvent],
    *,
    source_uri: str,
    now: datetime,
    received_at: datetime,
) -> IngestResult:
    """A gateway's batch: only devices of the community its token names are accepted (per-item rejects)."""
    if principal.community_id is None:
        raise Forbidden("a gateway token needs a community_id", code="out_of_scope")
    items = [
        Incoming(
            source="http",
            received_at=received_at,
            device_id=e.device_id,
            fields={"type": e.type, "time": e.time, "readings": e.readings},
            client_event_id=e.event_id,
        )
        for e in events
    ]
    return await ingest(uow, items, source_uri=source_uri, now=now, gateway_community=principal.community_id)


async def _back_online(
    uow: UnitOfWork,
    device_ids: list[str],
    new_events: list[tuple[int, DeviceEvent, DeviceRecord, Incoming]],
    context: dict[str, DeviceContext],
    *,
    source_uri: str,
    now: datetime,
) -> None:
    """Devices that were marked offline and were heard from again (marked online by the events' insert):
    ``device.online`` and their offline alarm cleared (``auto:device_online``), in the batch's transaction."""
    heard: dict[str, datetime] = {}
    for _, ev, _, _ in new_events:
        seen = min(ev.device_time, ev.received_at)
        if ev.device_id not in heard or heard[ev.device_id] < seen:
            heard[ev.device_id] = seen
    for device_id in sorted(device_ids):
        d = context[device_id].record.device
        announce_liveness(uow, d, online=True, seen_at=heard[d.id], source=source_uri, now=now)
        alarm = await AlarmRepository(uow.session).open_of(d.id, AlarmType.OFFLINE.value, for_update=True)
        if alarm is not None:
            await take_step(uow, alarm, CLEAR, by=DEVICE_ONLINE_CLEARER, now=now, source=source_uri)


_RULE_KINDS = {
    DeviceKind.GAS_DETECTOR,
    DeviceKind.SMOKE_ALARM,
    DeviceKind.DOOR_SENSOR,
    DeviceKind.ACCESS_GATE,
    DeviceKind.CAMERA,
    DeviceKind.WATER_LEAK_SENSOR,
    DeviceKind.LPR_CAMERA,
    DeviceKind.BARRIER_GATE,
}


async def _apply_rules(
    uow: UnitOfWork,
    events: list[tuple[int, DeviceEvent, DeviceRecord, Incoming]],
    context: dict[str, DeviceContext],
    *,
    source_uri: str,
    now: datetime,
) -> list[tuple[str, datetime]]:
    """Apply the rules' effects; return (severity, event arrival) of each alarm opened."""
    relevant = [
        (ev, rec) for _, ev, rec, _ in events if rec.device.kind in _RULE_KINDS and ev.event_type != "heartbeat"
    ]
    if not relevant:
        return []
    session = uow.session
    homes = {c.home.household_id: c.home for c in context.values() if c.home is not None}
    residents: set[str] = set()  # households named in a gate's or camera's readings (an exit seen there)
    for ev, _ in relevant:
        resident = ev.readings.get("household_id")
        if isinstance(resident, str) and len(resident) <= 64 and resident not in homes:
            residents.add(resident)
    if residents:
        homes.update(await HouseholdRepository(session).by_ids(residents))
    opened: list[tuple[str, datetime]] = []
    parking: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ev, rec in relevant:
        device = rec.device
        resident = ev.readings.get("household_id")
        effects = evaluate(
            ev,
            device,
            homes.get(device.household_id) if device.household_id else None,
            context[device.id].settings,
            gate_resident=homes.get(resident) if isinstance(resident, str) else None,
        )
        repair = next((e for e in effects if isinstance(e, RequestRepair)), None)
        for effect in effects:
            if isinstance(effect, RaiseAlarm):
                upserted = await raise_alarm(
                    uow,
                    effect,
                    community_id=device.community_id,
                    district_id=device.district_id,
                    street_id=rec.street_id,
                    source=source_uri,
                    now=now,
                    repair=repair,
                )
                if upserted.inserted:
                    opened.append((effect.severity.value, ev.received_at))
            elif isinstance(effect, ArmWelfareTimer):
                await WelfareTimerRepository(session).arm(
                    effect.household_id, device.community_id, effect.door_opened_at, effect.due_at
                )
            elif isinstance(effect, SensorNormal):
                await AlarmRepository(session).mark_normal(effect.dedup_key, effect.alarm_type.value, effect.at)
            elif isinstance(effect, ParkingChange):
                counts = parking[device.community_id]
                counts[0 if effect.delta > 0 else 1] += 1
    for community_id, (entries, exits) in sorted(parking.items()):
        await ParkingRepository(session).add(community_id, entries - exits, entries, exits, now)
    return opened
