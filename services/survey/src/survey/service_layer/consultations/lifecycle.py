"""A consultation's life: create, the satisfaction round a completed project drafts, open, close (by staff or
by the auto-closer at the end of the window), publish. One transaction each; events through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from typing import Any

import structlog

from renovation_common.auth import Principal
from renovation_common.contracts.projects import ProjectCompleted
from renovation_common.contracts.survey import ConsultationClosed, ConsultationOpened, SelectedItem
from renovation_common.db import UnitOfWork
from renovation_common.errors import DomainError, InvalidState
from renovation_common.events import new_event
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import CommunityRepository, ConsultationRepository, TallyRepository
from survey.domain.consultation import ConsultationError, ConsultationKind, State, transition
from survey.domain.results import headline_approval
from survey.domain.rules import RuleKind, fraction_str, percent
from survey.service_layer.consultations.access import domain_error, ensure_staff_covers_consultation, load_consultation
from survey.service_layer.consultations.mapping import NewConsultation, checked_definition, draft_row, setup_of
from survey.service_layer.consultations.results import compute, result_document
from survey.service_layer.registry import ensure_staff_covers, load_community

log = structlog.get_logger("survey.consultations")


async def create_consultation(
    uow: UnitOfWork, principal: Principal, cmd: NewConsultation, *, now: datetime
) -> ConsultationRow:
    checked_definition(cmd)  # a bad definition is refused before any read
    async with uow:
        repo = ConsultationRepository(uow.session)
        c = await load_community(CommunityRepository(uow.session), cmd.community_id)
        ensure_staff_covers(principal, c)
        row = draft_row(c, cmd, consultation_id=uuid.uuid4(), created_by=principal.sub, now=now)
        repo.add(row)
        await repo.flush()
        await uow.commit()
    return row


SATISFACTION_DRAFTER = "system:project-completed"


SATISFACTION_OPTIONS = ["very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied"]


def satisfaction_round_id(project_id: str) -> uuid.UUID:
    """The draft satisfaction round of a completed project (one per project, whichever replica drafts it)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"renovation:satisfaction:{project_id}")


async def draft_satisfaction_round(uow: UnitOfWork, data: ProjectCompleted, *, now: datetime) -> ConsultationRow | None:
    """When a project completes, its community gets a draft satisfaction round (评议反馈, the seventh step of the
    democratic decision method): staff review and open it. Once per project; a community the registry does not
    hold gets none (the event is acknowledged, nothing is drafted)."""
    try:
        community_id = uuid.UUID(data.community_id)
    except ValueError:
        log.warning("satisfaction_round_skipped", project_id=data.project_id, reason="community_id_not_a_uuid")
        return None
    repo = ConsultationRepository(uow.session)
    if await repo.consultation(satisfaction_round_id(data.project_id)) is not None:
        return None  # drafted already (a redelivery, another replica)
    c = await CommunityRepository(uow.session).community(community_id)
    if c is None:
        log.warning("satisfaction_round_skipped", project_id=data.project_id, reason="community_unknown")
        return None
    cmd = NewConsultation(
        community_id=c.id,
        kind=ConsultationKind.SATISFACTION.value,
        title=f"{c.name} 改造满意度评议（{data.completed_on.isoformat()} 竣工）",
        batch=None,
        questions=[
            {
                "id": "satisfied",
                "kind": "single_choice",
                "text": "您对本次老旧小区改造是否满意？",
                "options": SATISFACTION_OPTIONS,
                "required": True,
            },
            {"id": "feedback", "kind": "text", "text": "意见和建议", "required": False},
        ],
        rule=RuleKind.NONE.value,
        threshold=None,
        decision_question_id="satisfied",
        approve_options=["very_satisfied", "satisfied"],
        menu_question_id=None,
        menu_threshold="1/2",
        age_middle_from=35,
        age_elderly_from=60,
        opens_at=None,
        closes_at=None,
    )
    row = draft_row(
        c, cmd, consultation_id=satisfaction_round_id(data.project_id), created_by=SATISFACTION_DRAFTER, now=now
    )
    repo.add(row)
    await repo.flush()
    return row


async def open_consultation(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime, source: str
) -> ConsultationRow:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id, lock="update")
        ensure_staff_covers_consultation(principal, row)
        try:
            row.state = transition(State(row.state), State.OPEN).value
        except ConsultationError as exc:
            raise domain_error(exc) from None
        if row.closes_at is not None and row.closes_at <= now:
            raise InvalidState("the answer window has already ended", code="outside_answer_window")
        row.opened_at = now
        uow.publish(
            new_event(
                ConsultationOpened(
                    consultation_id=str(row.id),
                    community_id=str(row.community_id),
                    district_id=row.district_id,
                    street_id=row.street_id,
                    kind=row.kind,
                    title=row.title,
                    opens_at=row.opens_at or now,
                    closes_at=row.closes_at,
                ),
                source=source,
                subject=str(row.id),
            )
        )
        await uow.commit()
    return row


AUTO_CLOSER = "system:auto-close"  # ``closed_by`` of consultations closed at the end of their window


async def close_consultation(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime, source: str
) -> dict[str, Any]:
    async with uow:
        repo = ConsultationRepository(uow.session)
        # the exclusive answers lock waits for submissions in flight and keeps new ones out until commit
        await repo.lock_answers(consultation_id, exclusive=True)
        row = await load_consultation(repo, consultation_id, lock="update")
        ensure_staff_covers_consultation(principal, row)
        doc = await _close(uow, row, now=now, source=source, closed_by=principal.sub)
        await uow.commit()
    return doc


async def auto_close_consultation(
    uow: UnitOfWork, consultation_id: uuid.UUID, *, now: datetime, source: str
) -> dict[str, Any] | None:
    """Close one consultation whose answer window has ended, as the system; ``None`` if there is nothing to do.

    The same locks in the same order as a manual close (answers advisory lock, then the row ``FOR UPDATE``), and
    the state is checked under them: a second closer (another replica, or a manual close) that waited on the
    locks finds the consultation already closed and does nothing, so exactly one ``closed`` event is written.
    """
    async with uow:
        repo = ConsultationRepository(uow.session)
        await repo.lock_answers(consultation_id, exclusive=True)
        row = await repo.consultation(consultation_id, lock="update")
        if row is None or row.state != State.OPEN or row.closes_at is None or row.closes_at > now:
            return None
        doc = await _close(uow, row, now=now, source=source, closed_by=AUTO_CLOSER)
        await uow.commit()
    return doc


async def close_due_consultations(
    new_uow: Callable[[], UnitOfWork], *, now: datetime, source: str, limit: int = 100
) -> list[uuid.UUID]:
    """The auto-closer's scan: close every open consultation whose ``closes_at`` has passed (at most ``limit``
    per call), each in its own transaction through :func:`auto_close_consultation`. Returns the ids it closed."""
    async with new_uow() as uow:
        due = await ConsultationRepository(uow.session).due_consultations(now, limit)
    closed = []
    for consultation_id in due:
        try:
            if await auto_close_consultation(new_uow(), consultation_id, now=now, source=source) is not None:
                closed.append(consultation_id)
        except DomainError as exc:  # one consultation that cannot close must not block the others
            log.warning("auto_close_failed", consultation_id=str(consultation_id), code=exc.code)
    return closed


async def _close(
    uow: UnitOfWork, row: ConsultationRow, *, now: datetime, source: str, closed_by: str
) -> dict[str, Any]:
    """open → closed under the caller's locks: the final tally, the frozen result and the ``closed`` event."""
    try:
        row.state = transition(State(row.state), State.CLOSED).value
    except ConsultationError as exc:
        raise domain_error(exc) from None
    result = await compute(TallyRepository(uow.session), row, final=True, year=now.year)
    row.closed_at = now
    row.closed_by = closed_by
    doc = result_document(row, result, now)
    t = result.tally
    setup = setup_of(row)
    consent = t.consent_of_all_ratio
    area_share = Fraction(t.approving_area) / Fraction(t.total_area) if t.total_area else Fraction(0)
    row.outcome = result.decision.outcome.value
    row.decided_by = result.decision.decided_by
    row.approval_num, row.approval_den = consent.numerator, consent.denominator
    row.approval_area_num, row.approval_area_den = area_share.numerator, area_share.denominator
    row.final_result = doc
    headline = headline_approval(setup, t)
    uow.publish(
        new_event(
            ConsultationClosed(
                consultation_id=str(row.id),
                community_id=str(row.community_id),
                district_id=row.district_id,
                street_id=row.street_id,
                kind=row.kind,
                rule=row.rule,
                outcome=row.outcome,
                decided_by=row.decided_by,
                total_households=t.total_households,
                participating_households=t.participating_households,
                approving_households=t.approving_households,
                approval_ratio=fraction_str(headline),
                approval_percent=percent(headline),
                selected_items=[
                    SelectedItem(
                        code=m.code,
                        category=m.category,
                        support_count=m.support_count,
                        support_ratio=fraction_str(m.support_ratio),
                        support_percent=percent(m.support_ratio),
                    )
                    for m in result.menu
                    if m.selected
                ],
                closed_at=now,
            ),
            source=source,
            subject=str(row.id),
        )
    )
    return doc


async def publish_consultation(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime
) -> ConsultationRow:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id, lock="update")
        ensure_staff_covers_consultation(principal, row)
        try:
            row.state = transition(State(row.state), State.PUBLISHED).value
        except ConsultationError as exc:
            raise domain_error(exc) from None
        row.published_at = now
        if row.final_result is not None:
            row.final_result = {**row.final_result, "state": row.state}
        await uow.commit()
    return row
