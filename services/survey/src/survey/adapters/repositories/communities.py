"""Communities and their streets (the registry's top level), the registry counters and the registry's audit trail."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from survey.adapters.orm import BuildingRow, CommunityRow, RegistryAuditRow, StreetRow
from survey.adapters.repositories._base import SqlRepository, chunks


class CommunityRepository(SqlRepository):
    """Streets, communities and the household/area counters of a community and its buildings."""

    async def street(self, street_id: str) -> StreetRow | None:
        return await self.session.get(StreetRow, street_id)

    async def record_street(self, street_id: str, district_id: str, recorded_by: str) -> StreetRow:
        """The street's record: this one if it is new, else the one a concurrent caller recorded first."""
        await self.session.execute(
            pg_insert(StreetRow)
            .values(id=street_id, district_id=district_id, recorded_by=recorded_by)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return (await self.session.scalars(sa.select(StreetRow).where(StreetRow.id == street_id))).one()

    async def community(self, community_id: uuid.UUID, *, for_update: bool = False) -> CommunityRow | None:
        return await self.session.get(CommunityRow, community_id, with_for_update=for_update)

    async def communities_page(self, equals: dict[str, Any], after: uuid.UUID | None, limit: int) -> list[CommunityRow]:
        """A page of communities whose columns equal ``equals`` (``None``: no filter), by id after the cursor."""
        stmt = sa.select(CommunityRow).order_by(CommunityRow.id).limit(limit)
        for column, value in equals.items():
            if value is not None:
                stmt = stmt.where(getattr(CommunityRow, column) == value)
        if after is not None:
            stmt = stmt.where(CommunityRow.id > after)
        return list(await self.session.scalars(stmt))

    async def count_registry(
        self, community_id: uuid.UUID, households: int, area: Decimal, per_building: dict[uuid.UUID, int]
    ) -> None:
        """Add to the community's and its buildings' counters (household insert, area change)."""
        await self.session.execute(
            sa.update(CommunityRow)
            .where(CommunityRow.id == community_id)
            .values(
                household_count=CommunityRow.household_count + households,
                floor_area_m2=CommunityRow.floor_area_m2 + area,
            )
        )
        if per_building:
            t = BuildingRow.__table__
            await self.session.execute(
                sa.update(t)
                .where(t.c.id == sa.bindparam("b_id"))
                .values(household_count=t.c.household_count + sa.bindparam("b_n")),
                [{"b_id": b, "b_n": n} for b, n in sorted(per_building.items())],
            )

    async def audit_registry(self, rows: list[dict[str, Any]]) -> None:
        for chunk in chunks(rows, 2000):
            await self.session.execute(sa.insert(RegistryAuditRow), chunk)
