"""Residents' feedback on a version: one per household per version, idempotent; the feedback of a version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal, Role
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import Conflict, DomainError, Forbidden, NotFound
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import (
    SchemeFeedbackRow,
    SchemeRoundRow,
)
from survey.domain import deliberation as d
from survey.service_layer.deliberation.common import Feedback, ensure_staff, error_of, load_round, stage_of


@dataclass(frozen=True)
class FeedbackResult:
    feedback: dict[str, Any]
    replayed: bool


async def give_feedback(
    uow: UnitOfWork, principal: Principal, version_id: uuid.UUID, cmd: Feedback, *, now: datetime
) -> FeedbackResult:
    """One feedback per household per version, while the round is up: a resident for their own household (app),
    a community worker for a household of their community (door to door, paper, meeting). The same feedback sent
    again is a replay; different feedback on the same version is 409 ``feedback_already_given``."""
    async with uow:
        repo = SchemeRepository(uow.session)
        version = await repo.version(version_id)
        if version is None:
            raise NotFound("scheme version not found", code="scheme_version_not_found")
        row = await load_round(repo, version.round_id)
        household_id, channel = _respondent(principal, row, cmd)
        household = await repo.household(household_id)
        if household is None or household.community_id != row.community_id:
            raise Forbidden("this household is outside the scheme round's community", code="out_of_scope")
        proposal = await repo.proposal(version.proposal_id)
        group = await repo.group_of_building(row.id, household.building_id)
        if proposal is None or group is None or group.code not in proposal.group_codes:
            raise DomainError(
                "this household's building is not in a group of this scheme", code="household_not_in_group"
            )
        chain = await repo.proposal_versions(version.proposal_id)
        try:
            d.ensure_accepts_feedback(stage_of(row), version_is_current=chain[-1].id == version.id)
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        stance = d.Stance(cmd.stance).value
        inserted = await repo.insert_feedback(
            {
                "id": uuid.uuid4(),
                "version_id": version.id,
                "round_id": row.id,
                "household_id": household_id,
                "stance": stance,
                "text": cmd.text,
                "channel": channel,
                "recorded_by": principal.sub,
                "created_at": now,
            }
        )
        stored = await repo.feedback_of(version.id, household_id)
        assert stored is not None
        if not inserted and (stored.stance, stored.text) != (stance, cmd.text):
            raise Conflict("this household already gave other feedback on this version", code="feedback_already_given")
        snapshot = _feedback_doc(stored)
        await uow.commit()
    return FeedbackResult(snapshot, replayed=not inserted)


def _feedback_doc(f: SchemeFeedbackRow) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "version_id": str(f.version_id),
        "household_id": str(f.household_id),
        "stance": f.stance,
        "text": f.text,
        "channel": f.channel,
        "created_at": f.created_at.isoformat(),
    }


def _respondent(principal: Principal, row: SchemeRoundRow, cmd: Feedback) -> tuple[uuid.UUID, str]:
    if principal.role is Role.RESIDENT:
        own = principal.household_id
        if own is None or (cmd.household_id is not None and str(cmd.household_id) != own):
            raise Forbidden("residents give feedback for their own household", code="out_of_scope")
        if cmd.channel not in (None, "app"):
            raise DomainError("residents answer through the app", code="invalid_channel")
        try:
            return uuid.UUID(own), "app"
        except ValueError:
            raise Forbidden("this household is outside the scheme round's community", code="out_of_scope") from None
    ensure_staff(principal, row)
    if cmd.household_id is None:
        raise DomainError("name the household the feedback is recorded for", code="household_required")
    if cmd.channel in (None, "app"):
        raise DomainError("a worker records door_to_door, paper or meeting feedback", code="invalid_channel")
    return cmd.household_id, cmd.channel


async def list_feedback(
    uow: ReadOnlyUnitOfWork, principal: Principal, version_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    """The feedback on a version (staff in scope): what the proposers answer in the next version."""
    async with uow:
        repo = SchemeRepository(uow.session)
        version = await repo.version(version_id)
        if version is None:
            raise NotFound("scheme version not found", code="scheme_version_not_found")
        ensure_staff(principal, await load_round(repo, version.round_id))
        return [_feedback_doc(f) for f in await repo.feedback_page(version.id, after, limit)]
