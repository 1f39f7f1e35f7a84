"""SQL of design-scheme deliberation (rounds, groups, proposals, versions, feedback)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from survey.adapters.orm import BuildingRow, CommunityRow, ConsultationRow, HouseholdRow
from survey.adapters.repositories._base import SqlRepository
from survey.adapters.scheme_tables import (
    SchemeFeedbackRow,
    SchemeGroupBuildingRow,
    SchemeGroupRow,
    SchemeProposalRow,
    SchemeRoundRow,
    SchemeRunoffRow,
    SchemeVersionRow,
)


class SchemeRepository(SqlRepository):
    async def community(self, community_id: uuid.UUID) -> CommunityRow | None:
        return await self.session.get(CommunityRow, community_id)

    async def household(self, household_id: uuid.UUID) -> HouseholdRow | None:
        return await self.session.get(HouseholdRow, household_id)

    async def consultation(self, consultation_id: uuid.UUID) -> ConsultationRow | None:
        return await self.session.get(ConsultationRow, consultation_id)

    async def scheme_round(self, round_id: uuid.UUID, *, for_update: bool = False) -> SchemeRoundRow | None:
        stmt = sa.select(SchemeRoundRow).where(SchemeRoundRow.id == round_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def rounds_page(self, community_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> list[SchemeRoundRow]:
        stmt = sa.select(SchemeRoundRow).where(SchemeRoundRow.community_id == community_id)
        if after is not None:
            stmt = stmt.where(SchemeRoundRow.id > after)
        return list((await self.session.scalars(stmt.order_by(SchemeRoundRow.id).limit(limit))).all())

    async def community_buildings(self, community_id: uuid.UUID) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(
            sa.select(BuildingRow.code, BuildingRow.id).where(BuildingRow.community_id == community_id)
        )
        return {code: bid for code, bid in rows.all()}

    async def groups(self, round_id: uuid.UUID) -> list[SchemeGroupRow]:
        stmt = sa.select(SchemeGroupRow).where(SchemeGroupRow.round_id == round_id).order_by(SchemeGroupRow.position)
        return list((await self.session.scalars(stmt)).all())

    async def group_buildings(self, round_id: uuid.UUID) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
        """Group id -> its buildings (id, code), by code."""
        rows = await self.session.execute(
            sa.select(SchemeGroupBuildingRow.group_id, BuildingRow.id, BuildingRow.code)
            .join(BuildingRow, BuildingRow.id == SchemeGroupBuildingRow.building_id)
            .where(SchemeGroupBuildingRow.round_id == round_id)
            .order_by(BuildingRow.code)
        )
        out: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
        for group_id, building_id, code in rows.all():
            out.setdefault(group_id, []).append((building_id, code))
        return out

    async def group_by_code(self, round_id: uuid.UUID, code: str) -> SchemeGroupRow | None:
        stmt = sa.select(SchemeGroupRow).where(SchemeGroupRow.round_id == round_id, SchemeGroupRow.code == code)
        return (await self.session.scalars(stmt)).one_or_none()

    async def runoffs(self, round_id: uuid.UUID) -> dict[uuid.UUID, list[SchemeRunoffRow]]:
        """Group id -> its run-offs by number."""
        stmt = (
            sa.select(SchemeRunoffRow)
            .where(SchemeRunoffRow.round_id == round_id)
            .order_by(SchemeRunoffRow.group_id, SchemeRunoffRow.number)
        )
        out: dict[uuid.UUID, list[SchemeRunoffRow]] = {}
        for r in (await self.session.scalars(stmt)).all():
            out.setdefault(r.group_id, []).append(r)
        return out

    async def group_of_building(self, round_id: uuid.UUID, building_id: uuid.UUID) -> SchemeGroupRow | None:
        stmt = (
            sa.select(SchemeGroupRow)
            .join(SchemeGroupBuildingRow, SchemeGroupBuildingRow.group_id == SchemeGroupRow.id)
            .where(SchemeGroupBuildingRow.round_id == round_id, SchemeGroupBuildingRow.building_id == building_id)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def proposals(self, round_id: uuid.UUID) -> list[SchemeProposalRow]:
        stmt = (
            sa.select(SchemeProposalRow)
            .where(SchemeProposalRow.round_id == round_id)
            .order_by(SchemeProposalRow.created_at, SchemeProposalRow.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def proposal(self, proposal_id: uuid.UUID) -> SchemeProposalRow | None:
        return await self.session.get(SchemeProposalRow, proposal_id)

    async def proposal_count(self, round_id: uuid.UUID) -> int:
        stmt = sa.select(sa.func.count()).select_from(SchemeProposalRow).where(SchemeProposalRow.round_id == round_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def versions(self, round_id: uuid.UUID) -> list[SchemeVersionRow]:
        stmt = (
            sa.select(SchemeVersionRow)
            .where(SchemeVersionRow.round_id == round_id)
            .order_by(SchemeVersionRow.proposal_id, SchemeVersionRow.number)
        )
        return list((await self.session.scalars(stmt)).all())

    async def proposal_versions(self, proposal_id: uuid.UUID) -> list[SchemeVersionRow]:
        stmt = (
            sa.select(SchemeVersionRow)
            .where(SchemeVersionRow.proposal_id == proposal_id)
            .order_by(SchemeVersionRow.number)
        )
        return list((await self.session.scalars(stmt)).all())

    async def version(self, version_id: uuid.UUID) -> SchemeVersionRow | None:
        return await self.session.get(SchemeVersionRow, version_id)

    async def feedback_counts(self, round_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
        """Version id -> stance -> count."""
        rows = await self.session.execute(
            sa.select(SchemeFeedbackRow.version_id, SchemeFeedbackRow.stance, sa.func.count())
            .where(SchemeFeedbackRow.round_id == round_id)
            .group_by(SchemeFeedbackRow.version_id, SchemeFeedbackRow.stance)
        )
        out: dict[uuid.UUID, dict[str, int]] = {}
        for version_id, stance, n in rows.all():
            out.setdefault(version_id, {})[stance] = int(n)
        return out

    async def feedback_ids(self, version_id: uuid.UUID) -> set[str]:
        rows = await self.session.scalars(
            sa.select(SchemeFeedbackRow.id).where(SchemeFeedbackRow.version_id == version_id)
        )
        return {str(i) for i in rows.all()}

    async def feedback_of(self, version_id: uuid.UUID, household_id: uuid.UUID) -> SchemeFeedbackRow | None:
        stmt = sa.select(SchemeFeedbackRow).where(
            SchemeFeedbackRow.version_id == version_id, SchemeFeedbackRow.household_id == household_id
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def insert_feedback(self, values: dict[str, Any]) -> bool:
        """Insert one feedback; ``False`` when the household already gave feedback on the version (the unique
        constraint decides, so concurrent duplicates store one)."""
        stmt = (
            pg_insert(SchemeFeedbackRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["version_id", "household_id"])
            .returning(SchemeFeedbackRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def feedback_page(
        self, version_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[SchemeFeedbackRow]:
        stmt = sa.select(SchemeFeedbackRow).where(SchemeFeedbackRow.version_id == version_id)
        if after is not None:
            stmt = stmt.where(SchemeFeedbackRow.id > after)
        return list((await self.session.scalars(stmt.order_by(SchemeFeedbackRow.id).limit(limit))).all())
