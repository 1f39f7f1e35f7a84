"""The design basis of communities: per survey scheme round and courtyard/building group, the scheme it chose."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import DesignBasisRow
from projects.domain.model import DesignBasis

MAX_DESIGN_BASES = 100  # per community, as reads show them (newest rounds first)


def _basis(r: DesignBasisRow) -> DesignBasis:
    return DesignBasis(
        round_id=r.round_id,
        round_title=r.round_title,
        rounds_held=r.rounds_held,
        group_code=r.group_code,
        building_codes=tuple(r.building_codes or ()),
        status=r.status,
        proposal_id=r.proposal_id,
        proposal_code=r.proposal_code,
        version_id=r.version_id,
        version=r.version,
        title=r.title,
        consultation_id=r.consultation_id,
        decided_by=r.decided_by,
        runoff_number=r.runoff_number,
        decided_at=r.decided_at,
    )


class DesignBasisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, community_id: str, basis: DesignBasis) -> bool:
        """A decided group is written once and never changed (a redelivery changes nothing); a pending mark only
        creates the row (it never undoes a decision that arrived first). ``True`` when a row changed."""
        values = {
            "round_id": basis.round_id[:64],
            "group_code": basis.group_code[:20],
            "community_id": community_id[:64],
            "round_title": basis.round_title[:200],
            "rounds_held": basis.rounds_held,
            "building_codes": list(basis.building_codes),
            "status": basis.status,
            "proposal_id": basis.proposal_id,
            "proposal_code": basis.proposal_code,
            "version_id": basis.version_id,
            "version": basis.version,
            "title": basis.title[:200] if basis.title else None,
            "consultation_id": basis.consultation_id,
            "decided_by": basis.decided_by,
            "runoff_number": basis.runoff_number,
            "decided_at": basis.decided_at,
        }
        insert = pg_insert(DesignBasisRow).values(**values)
        keys = [DesignBasisRow.round_id, DesignBasisRow.group_code]
        if not basis.decided:
            stmt = insert.on_conflict_do_nothing(index_elements=keys)
        else:
            changing = {k: v for k, v in values.items() if k not in ("round_id", "group_code", "community_id")}
            stmt = insert.on_conflict_do_update(
                index_elements=keys,
                set_={k: insert.excluded[k] for k in changing},
                where=DesignBasisRow.status == "pending",
            )
        result = await self.session.execute(stmt.returning(DesignBasisRow.round_id))
        return result.scalar_one_or_none() is not None

    async def of_community(self, community_id: str) -> list[DesignBasis]:
        """The community's groups: pending ones first, then the newest decisions, at most ``MAX_DESIGN_BASES``."""
        stmt = (
            sa.select(DesignBasisRow)
            .where(DesignBasisRow.community_id == community_id[:64])
            .order_by(
                DesignBasisRow.decided_at.desc().nulls_first(), DesignBasisRow.round_id, DesignBasisRow.group_code
            )
            .limit(MAX_DESIGN_BASES)
        )
        return [_basis(r) for r in (await self.session.scalars(stmt)).all()]
