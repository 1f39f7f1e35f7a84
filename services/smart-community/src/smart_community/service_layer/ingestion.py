"""Ingestion of device events (MQTT through the DEVICES stream, or gateway batches over HTTP).

One transaction per batch: bulk insert of the new events, rejects with their reason, last-seen times, and the
effects of the alarm rules (alarms + outbox events, welfare deadlines, parking counts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from renovation_common.db import UnitOfWork
from smart_community.adapters import repository as repo
from smart_community.domain.model import DeviceEvent, DeviceKind, parse_device_subject
from smart_community.domain.payloads import Rejected, parse_payload, validate_event
from smart_community.domain.rules import (
    ArmWelfareTimer,
    ParkingChange,
    RaiseAlarm,
    RequestRepair,
    evaluate,
)
from smart_community.service_layer.alarming import raise_alarm

DEVICE_EVENTS = Counter(
    "smart_community_device_events_total", "Device events received, by source and outcome", ["source", "outcome"]
)
MAX_REJECT_PAYLOAD = 4000


@dataclass(frozen=True)
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


def _reject_row(item: Incoming, device_id: str | None, reason: str) -> dict[str, Any]:
    if item.raw is not None:
        payload = item.raw[:MAX_REJECT_PAYLOAD].decode("utf-8", errors="replace")
    else:
        payload = repr(item.fields)[:MAX_REJECT_PAYLOAD]
    return {
        "received_at": item.received_at,
        "subject": (item.subject or f"http:{device_id}")[:255],
        "device_id": device_id[:64] if device_id else None,
        "source": item.source,
        "reason": reason[:500],
        "payload": payload,
        "stream_seq": item.stream_seq,
    }


async def ingest(
    uow: UnitOfWork,
    items: list[Incoming],
    *,
    source_uri: str,
    now: datetime,
    gateway_community: str | None = None,
) -> IngestResult:
    result = IngestResult()
    async with uow:
        session = uow.session
        device_ids: list[str | None] = []
        for item in items:
            if item.fields is not None:
                device_ids.append(item.device_id)
            else:
                parts = parse_device_subject(item.subject)
                device_ids.append(parts[1] if parts else None)
        known = await repo.devices_by_id(session, [d for d in device_ids if d])

        accepted: list[tuple[int, DeviceEvent, repo.DeviceRecord, Incoming]] = []
        rejects: list[dict[str, Any]] = []
        for index, (item, device_id) in enumerate(zip(items, device_ids, strict=True)):
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
                parts = parse_device_subject(item.subject)
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
            if reason is not None or parsed is None or record is None:
                reason = reason or "invalid"
                rejects.append(_reject_row(item, device_id, reason))
                result.rejected.append((index, reason))
                continue
            accepted.append((index, parsed, record, item))

        rows = [
            repo.EventRow(
                device_id=ev.device_id,
                community_id=rec.device.community_id,
                event_type=ev.event_type,
                device_time=ev.device_time,
                received_at=ev.received_at,
                readings=dict(ev.readings),
                source=item.source,
                stream_seq=item.stream_seq,
                client_event_id=item.client_event_id,
            )
            for _, ev, rec, item in accepted
        ]
        fresh = await repo.bulk_insert_events(session, rows)
        await repo.insert_rejects(session, rejects)
        new_events = [a for a, is_new in zip(accepted, fresh, strict=True) if is_new]
        result.accepted = len(new_events)
        result.duplicates = len(accepted) - len(new_events)

        last_seen: dict[str, datetime] = {}
        for _, ev, _, _ in new_events:
            seen = min(ev.device_time, ev.received_at)
            if ev.device_id not in last_seen or last_seen[ev.device_id] < seen:
                last_seen[ev.device_id] = seen
        await repo.touch_devices(session, last_seen)
        result.alarms_raised = await _apply_rules(uow, new_events, source_uri=source_uri, now=now)
        await uow.commit()

    for source in {i.source for i in items}:
        DEVICE_EVENTS.labels(source, "rejected").inc(sum(1 for i, _ in result.rejected if items[i].source == source))
    if items:
        DEVICE_EVENTS.labels(items[0].source, "accepted").inc(result.accepted)
        DEVICE_EVENTS.labels(items[0].source, "duplicate").inc(result.duplicates)
    return result


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
    events: list[tuple[int, DeviceEvent, repo.DeviceRecord, Incoming]],
    *,
    source_uri: str,
    now: datetime,
) -> int:
    relevant = [
        (ev, rec) for _, ev, rec, _ in events if rec.device.kind in _RULE_KINDS and ev.event_type != "heartbeat"
    ]
    if not relevant:
        return 0
    session = uow.session
    household_ids: set[str] = set()
    for ev, rec in relevant:
        if rec.device.household_id:
            household_ids.add(rec.device.household_id)
        resident = ev.readings.get("household_id")
        if isinstance(resident, str) and len(resident) <= 64:
            household_ids.add(resident)
    homes = await repo.households_by_id(session, household_ids)
    settings = await repo.settings_for(session, {rec.device.community_id for _, rec in relevant})
    raised = 0
    parking: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ev, rec in relevant:
        device = rec.device
        resident = ev.readings.get("household_id")
        effects = evaluate(
            ev,
            device,
            homes.get(device.household_id) if device.household_id else None,
            settings[device.community_id],
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
                raised += int(upserted.inserted)
            elif isinstance(effect, ArmWelfareTimer):
                await repo.arm_welfare_timer(
                    session, effect.household_id, device.community_id, effect.door_opened_at, effect.due_at
                )
            elif isinstance(effect, ParkingChange):
                counts = parking[device.community_id]
                counts[0 if effect.delta > 0 else 1] += 1
    for community_id, (entries, exits) in sorted(parking.items()):
        await repo.add_parking(session, community_id, entries - exits, entries, exits, now)
    return raised
