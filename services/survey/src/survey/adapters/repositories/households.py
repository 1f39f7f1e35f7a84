"""Households, their buildings and residents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from survey.adapters.orm import BuildingRow, HouseholdRow, ResidentRow
from survey.adapters.repositories._base import SqlRepository, chunks
from survey.domain.registry import HouseholdSpec


class HouseholdFacts(NamedTuple):
    id: uuid.UUID
    community_id: uuid.UUID
    floor_area_m2: Decimal
    code: str


class HouseholdRepository(SqlRepository):
    """Buildings, households and residents; the facts an answer is counted with."""

    async def ensure_buildings(self, community_id: uuid.UUID, codes: set[str]) -> dict[str, uuid.UUID]:
        if codes:
            await self.session.execute(
                pg_insert(BuildingRow)
                .values([{"id": uuid.uuid4(), "community_id": community_id, "code": c} for c in sorted(codes)])
                .on_conflict_do_nothing(index_elements=["community_id", "code"])
            )
        rows = await self.session.execute(
            sa.select(BuildingRow.code, BuildingRow.id).where(
                BuildingRow.community_id == community_id, BuildingRow.code.in_(codes)
            )
        )
        return {code: bid for code, bid in rows.all()}

    async def insert_households(
        self, community_id: uuid.UUID, specs: Sequence[HouseholdSpec], buildings: dict[str, uuid.UUID]
    ) -> dict[tuple[str, str, str], uuid.UUID]:
        """Insert; rows that already exist (same building/unit/room) are skipped. Returns key → new id."""
        if not specs:
            return {}
        values = [
            {
                "id": uuid.uuid4(),
                "community_id": community_id,
                "building_id": buildings[s.building],
                "unit": s.unit,
                "room": s.room,
                "floor_area_m2": s.floor_area,
                "owner_name": s.owner_name,
                "owner_phone": s.owner_phone,
            }
            for s in specs
        ]
        created: dict[tuple[str, str, str], uuid.UUID] = {}
        code_of = {bid: code for code, bid in buildings.items()}
        for chunk in chunks(values, 1000):
            result = await self.session.execute(
                pg_insert(HouseholdRow)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["building_id", "unit", "room"])
                .returning(HouseholdRow.id, HouseholdRow.building_id, HouseholdRow.unit, HouseholdRow.room)
            )
            for hid, bid, unit, room in result.all():
                created[(code_of[bid], unit, room)] = hid
        return created

    async def insert_residents(self, rows: list[dict[str, Any]]) -> None:
        for chunk in chunks(rows, 2000):
            await self.session.execute(sa.insert(ResidentRow), chunk)

    async def replace_residents(self, household_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.delete(ResidentRow).where(ResidentRow.household_id == household_id))
        if rows:
            await self.insert_residents(rows)

    async def household(self, household_id: uuid.UUID, *, for_update: bool = False) -> HouseholdRow | None:
        return await self.session.get(HouseholdRow, household_id, with_for_update=for_update)

    async def household_building_code(self, household_id: uuid.UUID) -> str | None:
        """The code of the household's building."""
        stmt = (
            sa.select(BuildingRow.code)
            .join(HouseholdRow, HouseholdRow.building_id == BuildingRow.id)
            .where(HouseholdRow.id == household_id)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def buildings_page(
        self,
        community_id: uuid.UUID,
        *,
        code: str | None,
        with_households: bool | None,
        after: tuple[str, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[BuildingRow, Decimal]]:
        """A page of the community's buildings by code (then id), each with the exclusive floor area of its
        households; ``code``: only that building; ``with_households``: only buildings with (or without)
        registered households."""
        area = (
            sa.select(HouseholdRow.building_id, sa.func.sum(HouseholdRow.floor_area_m2).label("area"))
            .where(HouseholdRow.community_id == community_id)
            .group_by(HouseholdRow.building_id)
            .subquery()
        )
        stmt = (
            sa.select(BuildingRow, sa.func.coalesce(area.c.area, 0))
            .outerjoin(area, area.c.building_id == BuildingRow.id)
            .where(BuildingRow.community_id == community_id)
            .order_by(BuildingRow.code, BuildingRow.id)
            .limit(limit)
        )
        if code is not None:
            stmt = stmt.where(BuildingRow.code == code)
        if with_households is not None:
            stmt = stmt.where(BuildingRow.household_count > 0 if with_households else BuildingRow.household_count == 0)
        if after is not None:
            stmt = stmt.where(
                sa.or_(BuildingRow.code > after[0], sa.and_(BuildingRow.code == after[0], BuildingRow.id > after[1]))
            )
        return [(b, Decimal(a)) for b, a in (await self.session.execute(stmt)).all()]

    async def building_code(self, building_id: uuid.UUID) -> str:
        return str(
            (await self.session.execute(sa.select(BuildingRow.code).where(BuildingRow.id == building_id))).scalar_one()
        )

    async def residents(self, household_ids: Sequence[uuid.UUID]) -> list[ResidentRow]:
        if not household_ids:
            return []
        stmt = (
            sa.select(ResidentRow)
            .where(ResidentRow.household_id.in_(household_ids))
            .order_by(ResidentRow.household_id, ResidentRow.birth_year, ResidentRow.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def households_page(
        self, community_id: uuid.UUID, after: tuple[str, str, str, str] | None, limit: int
    ) -> list[tuple[HouseholdRow, str]]:
        key = sa.tuple_(BuildingRow.code, HouseholdRow.unit, HouseholdRow.room, sa.cast(HouseholdRow.id, sa.String))
        stmt = (
            sa.select(HouseholdRow, BuildingRow.code)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .where(HouseholdRow.community_id == community_id)
            .order_by(BuildingRow.code, HouseholdRow.unit, HouseholdRow.room, sa.cast(HouseholdRow.id, sa.String))
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(key > sa.tuple_(*(sa.literal(v) for v in after)))
        return [(h, code) for h, code in (await self.session.execute(stmt)).all()]

    async def household_facts(self, community_id: uuid.UUID) -> list[tuple[uuid.UUID, str, Decimal]]:
        stmt = (
            sa.select(HouseholdRow.id, BuildingRow.code, HouseholdRow.floor_area_m2)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .where(HouseholdRow.community_id == community_id)
        )
        return [(hid, code, area) for hid, code, area in (await self.session.execute(stmt)).all()]

    async def answering_households(self, household_ids: set[uuid.UUID]) -> dict[uuid.UUID, HouseholdFacts]:
        """Community, floor area and building code of each household, share-locked until commit: a concurrent
        change of its area or residents waits for this write (and then moves its tallies), or this write waits
        for it and counts the new facts."""
        if not household_ids:
            return {}
        rows = await (await self._driver()).fetch(
            "select h.id, h.community_id, h.floor_area_m2, b.code from households h "
            "join buildings b on b.id = h.building_id where h.id = any($1::uuid[]) order by h.id for share of h",
            list(household_ids),
        )
        return {r[0]: HouseholdFacts(r[0], r[1], r[2], r[3]) for r in rows}

    async def birth_years(self, household_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
        """household id -> {resident id: birth year} for every resident of these households."""
        if not household_ids:
            return {}
        rows = await (await self._driver()).fetch(
            "select household_id, id, birth_year from residents where household_id = any($1::uuid[])",
            list(household_ids),
        )
        out: dict[uuid.UUID, dict[uuid.UUID, int]] = {h: {} for h in household_ids}
        for hid, rid, year in rows:
            out[hid][rid] = year
        return out
