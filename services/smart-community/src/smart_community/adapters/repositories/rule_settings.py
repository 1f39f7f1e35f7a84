"""Alarm rule settings per community (defaults until a community sets its own)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import rule_settings
from smart_community.domain.model import RuleSettings


def settings_of(row: Any) -> RuleSettings:
    return RuleSettings(
        gas_smoke_enabled=row.gas_smoke_enabled,
        welfare_check_enabled=row.welfare_check_enabled,
        welfare_check_window=timedelta(hours=float(row.welfare_check_hours)),
        accompaniment_enabled=row.accompaniment_enabled,
        offline_enabled=row.offline_enabled,
        offline_grace_factor=float(row.offline_grace_factor),
        water_leak_enabled=row.water_leak_enabled,
        escalation_after=timedelta(minutes=row.escalation_minutes),
        max_escalation_level=row.max_escalation_level,
        parking_capacity=row.parking_capacity,
        gas_auto_clear_after=_quiet(row.gas_auto_clear_s),
        smoke_auto_clear_after=_quiet(row.smoke_auto_clear_s),
        water_leak_auto_clear_after=_quiet(row.water_leak_auto_clear_s),
    )


def _quiet(seconds: int) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds > 0 else None


def _seconds(quiet: timedelta | None) -> int:
    return int(quiet.total_seconds()) if quiet is not None else 0


class RuleSettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_communities(self, community_ids: Iterable[str]) -> dict[str, RuleSettings]:
        """The settings of each community (the defaults for one that set none)."""
        wanted = sorted(set(community_ids))
        found: dict[str, RuleSettings] = {}
        if wanted:
            rows = await self.session.execute(sa.select(rule_settings).where(rule_settings.c.community_id.in_(wanted)))
            found = {r.community_id: settings_of(r) for r in rows}
        return {c: found.get(c, RuleSettings()) for c in wanted}

    async def of(self, community_id: str) -> RuleSettings:
        return (await self.for_communities([community_id]))[community_id]

    async def put(self, community_id: str, s: RuleSettings, by: str, at: datetime) -> None:
        values = {
            "gas_smoke_enabled": s.gas_smoke_enabled,
            "welfare_check_enabled": s.welfare_check_enabled,
            "welfare_check_hours": Decimal(str(round(s.welfare_check_window.total_seconds() / 3600, 2))),
            "accompaniment_enabled": s.accompaniment_enabled,
            "offline_enabled": s.offline_enabled,
            "offline_grace_factor": Decimal(str(round(s.offline_grace_factor, 2))),
            "water_leak_enabled": s.water_leak_enabled,
            "escalation_minutes": int(s.escalation_after.total_seconds() // 60),
            "max_escalation_level": s.max_escalation_level,
            "parking_capacity": s.parking_capacity,
            "gas_auto_clear_s": _seconds(s.gas_auto_clear_after),
            "smoke_auto_clear_s": _seconds(s.smoke_auto_clear_after),
            "water_leak_auto_clear_s": _seconds(s.water_leak_auto_clear_after),
            "updated_by": by,
            "updated_at": at,
        }
        stmt = pg_insert(rule_settings).values(community_id=community_id, **values)
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=[rule_settings.c.community_id], set_=values)
        )
