"""Consultations (with their locks and the auto-closer's scan) and rankings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from survey.adapters.orm import ConsultationRow, RankingRow
from survey.adapters.repositories._base import SqlRepository


class ConsultationRepository(SqlRepository):
    """Consultation rows, the answers lock, the rounds a ranking ranks, and rankings."""

    async def consultations_page(
        self,
        equals: dict[str, Any],
        states: Sequence[str] | None,
        after: uuid.UUID | None,
        limit: int,
        *,
        building: str | None = None,
    ) -> list[ConsultationRow]:
        """A page of consultations whose columns equal ``equals`` and in ``states``, by id after the cursor; with
        ``building``, only the whole community's and that building's group's own."""
        stmt = sa.select(ConsultationRow).order_by(ConsultationRow.id).limit(limit)
        if building is not None:
            stmt = stmt.where(
                sa.or_(ConsultationRow.building_codes.is_(None), ConsultationRow.building_codes.contains([building]))
            )
        for column, value in equals.items():
            if value is not None:
                stmt = stmt.where(getattr(ConsultationRow, column) == value)
        if states is not None:
            stmt = stmt.where(ConsultationRow.state.in_(list(states)))
        if after is not None:
            stmt = stmt.where(ConsultationRow.id > after)
        return list(await self.session.scalars(stmt))

    async def consultation(self, consultation_id: uuid.UUID, *, lock: str | None = None) -> ConsultationRow | None:
        stmt = sa.select(ConsultationRow).where(ConsultationRow.id == consultation_id)
        if lock == "update":
            stmt = stmt.with_for_update()
        elif lock == "share":
            stmt = stmt.with_for_update(read=True)
        return (await self.session.scalars(stmt)).one_or_none()

    async def consultations(self, ids: set[uuid.UUID]) -> list[ConsultationRow]:
        if not ids:
            return []
        stmt = sa.select(ConsultationRow).where(ConsultationRow.id.in_(ids)).order_by(ConsultationRow.id)
        return list((await self.session.scalars(stmt)).all())

    async def due_consultations(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Open consultations whose answer window has ended (``closes_at <= now``: the window accepts answers
        only while ``now < closes_at``), earliest first."""
        stmt = (
            sa.select(ConsultationRow.id)
            .where(ConsultationRow.state == "open", ConsultationRow.closes_at <= now)
            .order_by(ConsultationRow.closes_at, ConsultationRow.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def lock_answers(self, consultation_id: uuid.UUID, *, exclusive: bool) -> None:
        """Transaction-scoped advisory lock on the consultation's answers: submissions take it shared (they run
        side by side), closing takes it exclusive (waits for submissions in flight and keeps new ones out until
        it commits). Cheaper than FOR SHARE row locks, which turn into multixacts under concurrency."""
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self.session.execute(
            sa.text(f"select {fn}(hashtextextended(:key, 0))"), {"key": f"survey.answers:{consultation_id}"}
        )

    async def passed_willingness(self, district_id: str, batch: str | None) -> list[ConsultationRow]:
        stmt = sa.select(ConsultationRow).where(
            ConsultationRow.district_id == district_id,
            ConsultationRow.kind == "willingness",
            ConsultationRow.outcome == "passed",
            ConsultationRow.state.in_(("closed", "published")),
        )
        if batch is not None:
            stmt = stmt.where(ConsultationRow.batch == batch)
        return list((await self.session.scalars(stmt)).all())

    async def add_ranking(self, row: RankingRow) -> None:
        self.session.add(row)
        await self.session.flush()
