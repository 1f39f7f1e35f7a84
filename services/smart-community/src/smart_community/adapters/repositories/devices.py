"""The device registry: devices, their MQTT credentials (bcrypt hashes only) and when they were last heard of."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import rows_after_id
from smart_community.adapters.orm import devices, households, rule_settings
from smart_community.adapters.repositories.households import household_flags
from smart_community.adapters.repositories.rule_settings import settings_of
from smart_community.domain.model import Device, DeviceKind, DeviceRecord, HouseholdFlags, Placement, RuleSettings

_HOME = "home__"  # prefixes of the joined columns of :meth:`DeviceRepository.for_ingest`
_RULES = "rules__"
_FOR_INGEST = (
    sa.select(
        devices,
        *(c.label(_HOME + c.name) for c in households.c),
        *(c.label(_RULES + c.name) for c in rule_settings.c),
    )
    .select_from(
        devices.outerjoin(households, households.c.id == devices.c.household_id).outerjoin(
            rule_settings, rule_settings.c.community_id == devices.c.community_id
        )
    )
    .where(devices.c.id == sa.func.any(sa.bindparam("ids", type_=sa.ARRAY(sa.Text))))
)


class DeviceContext(NamedTuple):
    """A device with what the rules read about it: its household's care flags, its community's rule settings."""

    record: DeviceRecord
    home: HouseholdFlags | None
    settings: RuleSettings


def _record(row: Any) -> DeviceRecord:
    return DeviceRecord(
        device=Device(
            id=row.id,
            community_id=row.community_id,
            kind=DeviceKind(row.kind),
            placement=Placement(row.placement),
            heartbeat_interval_s=row.heartbeat_interval_s,
            district_id=row.district_id,
            building_id=row.building_id,
            household_id=row.household_id,
        ),
        street_id=row.street_id,
        label=row.label,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        offline=row.offline,
        credential_issued_at=row.credential_issued_at,
    )


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(devices).values(**values))

    async def get(self, device_id: str, *, for_update: bool = False) -> DeviceRecord | None:
        stmt = sa.select(devices).where(devices.c.id == device_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return _record(row) if row else None

    async def find(self, equals: dict[str, Any], after: str | None, limit: int) -> list[DeviceRecord]:
        """A page of devices whose columns equal ``equals`` (``None``: no filter), by id after the cursor."""
        return [_record(r) for r in await rows_after_id(self.session, devices, equals, after, limit)]

    async def by_ids(self, ids: Iterable[str]) -> dict[str, DeviceRecord]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(sa.select(devices).where(devices.c.id.in_(wanted)))
        return {r.id: _record(r) for r in rows}

    async def for_ingest(self, ids: Iterable[str]) -> dict[str, DeviceContext]:
        """The devices of a batch of events, each with its household's flags and its community's rule settings (the
        defaults when it set none), in one statement."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        out: dict[str, DeviceContext] = {}
        for row in await self.session.execute(_FOR_INGEST, {"ids": wanted}):
            m = row._mapping
            home = rules = None
            if m[_HOME + "id"] is not None:
                home = household_flags(SimpleNamespace(**{c.name: m[_HOME + c.name] for c in households.c}))
            if m[_RULES + "community_id"] is not None:
                rules = settings_of(SimpleNamespace(**{c.name: m[_RULES + c.name] for c in rule_settings.c}))
            out[row.id] = DeviceContext(_record(row), home, rules or RuleSettings())
        return out

    # ---- credentials

    async def set_credential(self, device_id: str, password_hash: str, at: datetime) -> None:
        await self.session.execute(
            sa.update(devices)
            .where(devices.c.id == device_id)
            .values(credential_hash=password_hash, credential_issued_at=at)
        )

    async def login_record(self, device_id: str) -> tuple[str, str | None] | None:
        """(community id, bcrypt hash or ``None``) of a device, or ``None`` when there is no such device."""
        row = (
            await self.session.execute(
                sa.select(devices.c.community_id, devices.c.credential_hash).where(devices.c.id == device_id)
            )
        ).first()
        return (row.community_id, row.credential_hash) if row else None

    async def credential_hashes(self, device_ids: Sequence[str]) -> dict[str, str | None]:
        """Current bcrypt hash (``None``: revoked or never issued) of each of these devices that exists."""
        if not device_ids:
            return {}
        rows = await self.session.execute(
            sa.select(devices.c.id, devices.c.credential_hash).where(devices.c.id.in_(list(device_ids)))
        )
        return {r.id: r.credential_hash for r in rows}

    async def credential(self, device_id: str) -> tuple[str | None, datetime | None]:
        row = (
            await self.session.execute(
                sa.select(devices.c.credential_hash, devices.c.credential_issued_at).where(devices.c.id == device_id)
            )
        ).first()
        return (row.credential_hash, row.credential_issued_at) if row else (None, None)

    async def clear_credential(self, device_id: str) -> None:
        await self.session.execute(
            sa.update(devices).where(devices.c.id == device_id).values(credential_hash=None, credential_issued_at=None)
        )

    async def restore_credential(
        self, device_id: str, *, replaced_hash: str, previous_hash: str | None, previous_at: datetime | None
    ) -> bool:
        """Put the previous credential back, only while ``replaced_hash`` is still the current one (compare and
        set)."""
        result = await self.session.execute(
            sa.update(devices)
            .where(devices.c.id == device_id, devices.c.credential_hash == replaced_hash)
            .values(credential_hash=previous_hash, credential_issued_at=previous_at)
        )
        return bool(getattr(result, "rowcount", 0))

    # ---- liveness

    async def silent(self, now: datetime, limit: int) -> list[DeviceRecord]:
        """Devices past heartbeat × grace (community setting or the default) that are not yet marked offline."""
        d, rs = devices, rule_settings
        grace = sa.func.coalesce(rs.c.offline_grace_factor, 1.5)
        enabled = sa.func.coalesce(rs.c.offline_enabled, sa.true())
        base = sa.func.coalesce(d.c.last_seen_at, d.c.created_at)
        deadline = base + sa.func.make_interval(0, 0, 0, 0, 0, 0, d.c.heartbeat_interval_s * grace)
        rows = await self.session.execute(
            sa.select(d)
            .select_from(d.outerjoin(rs, rs.c.community_id == d.c.community_id))
            .where(d.c.offline.is_(False), enabled, deadline < now)
            .order_by(d.c.id)
            .limit(limit)
            .with_for_update(of=d, skip_locked=True)
        )
        return [_record(r) for r in rows]

    async def mark_offline(self, device_id: str) -> None:
        await self.session.execute(sa.update(devices).where(devices.c.id == device_id).values(offline=True))
