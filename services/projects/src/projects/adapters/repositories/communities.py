"""The survey's registry as projects keeps it: communities, their ranks, households (→ buildings) and sites."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import CommunityRankRow, CommunityRow, HouseholdRow, SiteRow
from projects.domain.catalog import FaceKind
from projects.domain.model import Community, FaceSource, SiteFace
from projects.domain.planning import building_size, site_size
from renovation_common.db import upsert_newest


def _community(row: CommunityRow) -> Community:
    return Community(row.community_id, row.district_id, row.street_id, row.name, row.household_count)


def building_face_code(building_code: str) -> str:
    return f"B{building_code}"[:40]


def building_face_name(building_code: str) -> str:
    return f"{building_code}号楼" if building_code.isdigit() else building_code


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, community_id: str) -> Community | None:
        row = await self.session.get(CommunityRow, community_id)
        return _community(row) if row is not None else None

    async def many(self, ids: Sequence[str]) -> dict[str, Community]:
        stmt = sa.select(CommunityRow).where(CommunityRow.community_id.in_(list(ids)))
        return {r.community_id: _community(r) for r in (await self.session.scalars(stmt)).all()}

    async def record(self, community: Community, *, version: int) -> bool:
        """Keep the newest registration (an older version arriving late changes nothing)."""
        return await upsert_newest(
            self.session,
            CommunityRow.__table__,  # type: ignore[arg-type]
            "community_id",
            {
                "community_id": community.community_id,
                "district_id": community.district_id,
                "street_id": community.street_id,
                "name": community.name[:200],
                "household_count": community.household_count,
                "source_version": version,
            },
        )

    async def record_rank(
        self, community_id: str, district_id: str, rank: int, ranking_id: str, published_at: datetime
    ) -> None:
        """A ranking published later than the one kept replaces it."""
        insert = pg_insert(CommunityRankRow).values(
            community_id=community_id,
            district_id=district_id,
            priority_rank=rank,
            ranking_id=ranking_id[:64],
            published_at=published_at,
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[CommunityRankRow.community_id],
                set_={
                    "district_id": insert.excluded.district_id,
                    "priority_rank": insert.excluded.priority_rank,
                    "ranking_id": insert.excluded.ranking_id,
                    "published_at": insert.excluded.published_at,
                },
                where=CommunityRankRow.published_at <= insert.excluded.published_at,
            )
        )

    async def ranks(self, ids: Sequence[str]) -> dict[str, int]:
        stmt = sa.select(CommunityRankRow.community_id, CommunityRankRow.priority_rank).where(
            CommunityRankRow.community_id.in_(list(ids))
        )
        return {row.community_id: row.priority_rank for row in (await self.session.execute(stmt)).all()}

    async def record_household(
        self, household_id: str, community_id: str, building_id: str, building_code: str, *, version: int
    ) -> bool:
        return await upsert_newest(
            self.session,
            HouseholdRow.__table__,  # type: ignore[arg-type]
            "household_id",
            {
                "household_id": household_id[:64],
                "community_id": community_id[:64],
                "building_id": building_id[:64],
                "building_code": building_code[:20],
                "source_version": version,
            },
        )

    async def record_site(
        self,
        *,
        site_id: str,
        community_id: str,
        code: str,
        name: str,
        kind: str,
        length_m: int | None,
        area_m2: Decimal | None,
        retired: bool,
        version: int,
    ) -> bool:
        return await upsert_newest(
            self.session,
            SiteRow.__table__,  # type: ignore[arg-type]
            "site_id",
            {
                "site_id": site_id[:64],
                "community_id": community_id[:64],
                "code": code[:20],
                "name": name[:100],
                "kind": kind,
                "length_m": length_m,
                "area_m2": area_m2,
                "retired": retired,
                "source_version": version,
            },
        )

    async def site_faces(self, community_id: str) -> list[SiteFace]:
        """The buildings (with their number of homes) and the live lanes and courtyards of a community."""
        buildings = (
            await self.session.execute(
                sa.select(HouseholdRow.building_id, sa.func.min(HouseholdRow.building_code), sa.func.count())
                .where(HouseholdRow.community_id == community_id)
                .group_by(HouseholdRow.building_id)
            )
        ).all()
        faces = [
            SiteFace(
                FaceSource.SURVEY_BUILDING,
                building_id,
                building_face_code(code),
                building_face_name(code),
                FaceKind.BUILDING,
                building_size(homes),
            )
            for building_id, code, homes in buildings
        ]
        sites = (
            await self.session.scalars(
                sa.select(SiteRow).where(SiteRow.community_id == community_id, SiteRow.retired.is_(False))
            )
        ).all()
        for s in sites:
            kind = FaceKind(s.kind)
            faces.append(
                SiteFace(
                    FaceSource.SURVEY_SITE, s.site_id, s.code, s.name, kind, site_size(kind, s.length_m, s.area_m2)
                )
            )
        return sorted(faces, key=_face_order)


def _face_order(face: SiteFace) -> tuple[int, int, str]:
    """Lanes, courtyards, then buildings; numeric codes in numeric order (B2 before B10)."""
    kind_rank = {FaceKind.LANE: 0, FaceKind.COURTYARD: 1, FaceKind.BUILDING: 2}[face.kind]
    digits = "".join(ch for ch in face.code if ch.isdigit())
    return kind_rank, int(digits) if digits and len(digits) < 10 else 0, face.code
