"""The district's ranking of communities whose willingness passed."""

from __future__ import annotations

import uuid
from datetime import datetime
from fractions import Fraction

from renovation_common.auth import Principal
from renovation_common.contracts.survey import RankingEntry, RankingPublished
from renovation_common.db import UnitOfWork
from renovation_common.errors import DomainError, Forbidden
from renovation_common.events import new_event
from survey.adapters.orm import RankingRow
from survey.adapters.repositories import ConsultationRepository
from survey.domain import ranking
from survey.domain.rules import fraction_str, percent


async def publish_ranking(
    uow: UnitOfWork, principal: Principal, district_id: str, batch: str | None, *, now: datetime, source: str
) -> RankingRow:
    # District admins and street officers of the district (the route admits only those roles): a street officer's
    # token also names their street, so ``covers(Scope(district_id=...))`` would refuse every street officer.
    if principal.district_id != district_id:
        raise Forbidden("rankings are made by the district's own office", code="out_of_scope")
    async with uow:
        repo = ConsultationRepository(uow.session)
        rows = await repo.passed_willingness(district_id, batch)
        candidates = [
            ranking.Candidate(
                community_id=str(r.community_id),
                consultation_id=str(r.id),
                approval=Fraction(r.approval_num or 0, r.approval_den or 1),
                approval_area=Fraction(r.approval_area_num or 0, r.approval_area_den or 1),
                closed_at=r.closed_at or now,
            )
            for r in rows
        ]
        ranked = ranking.rank(candidates)
        if not ranked:
            raise DomainError("no passed willingness consultation to rank", code="nothing_to_rank")
        entries = [
            RankingEntry(
                rank=e.rank,
                community_id=e.candidate.community_id,
                consultation_id=e.candidate.consultation_id,
                approval_ratio=fraction_str(e.candidate.approval),
                approval_percent=percent(e.candidate.approval),
            )
            for e in ranked
        ]
        row = RankingRow(
            id=uuid.uuid4(),
            district_id=district_id,
            batch=batch,
            entries=[e.model_dump(mode="json") for e in entries],
            published_by=principal.sub,
            published_at=now,
        )
        await repo.add_ranking(row)
        uow.publish(
            new_event(
                RankingPublished(
                    ranking_id=str(row.id),
                    district_id=district_id,
                    batch=batch,
                    entries=entries,
                    published_at=now,
                    community_ids=[e.community_id for e in entries],
                ),
                source=source,
                subject=str(row.id),
            )
        )
        await uow.commit()
    return row
