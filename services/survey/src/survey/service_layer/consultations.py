"""Consultation use cases: create, open, close, publish, results, exports, charts, rankings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.projects import ProjectCompleted
from renovation_common.contracts.survey import (
    MENU_CATALOG,
    ConsultationClosed,
    ConsultationOpened,
    RankingEntry,
    RankingPublished,
    SelectedItem,
)
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest, DomainError, Forbidden, InvalidState, NotFound
from renovation_common.events import new_event
from survey.adapters.orm import CommunityRow, ConsultationRow, RankingRow
from survey.adapters.repositories import (
    CommunityRepository,
    ConsultationRepository,
    HouseholdRepository,
    ResponseRepository,
    TallyRepository,
)
from survey.domain import ranking
from survey.domain.consultation import (
    ConsultationError,
    ConsultationKind,
    Setup,
    State,
    Window,
    check_setup,
    transition,
)
from survey.domain.exports import demand_chart_svg, export_columns, export_row
from survey.domain.questions import CHOICE_KINDS, QuestionKind, Questionnaire, QuestionnaireError
from survey.domain.results import AgeGroups, HouseholdFact, ResponseFact, Result, compute_result, headline_approval
from survey.domain.rules import DecisionRule, RuleError, RuleKind, fraction_str, parse_fraction, percent
from survey.domain.tallies import Answer, Tallies, result_from_tallies, tallies_of
from survey.service_layer.registry import community_scope, ensure_staff_covers, load_community, resident_community
from survey.service_layer.setup import question_from_dict, setup_of

log = structlog.get_logger("survey.consultations")


def domain_error(exc: ConsultationError | QuestionnaireError | RuleError) -> DomainError:
    code = getattr(exc, "code", "invalid_rule")
    if code in ("invalid_transition", "consultation_not_open", "outside_answer_window"):
        return InvalidState(str(exc), code=code)
    return DomainError(str(exc), code=code)


@dataclass(frozen=True)
class NewConsultation:
    community_id: uuid.UUID
    kind: str
    title: str
    batch: str | None
    questions: list[dict[str, Any]]
    rule: str
    threshold: str | None
    decision_question_id: str | None
    approve_options: list[str]
    menu_question_id: str | None
    menu_threshold: str
    age_middle_from: int
    age_elderly_from: int
    opens_at: datetime | None
    closes_at: datetime | None


def ensure_staff_covers_consultation(principal: Principal, row: ConsultationRow) -> None:
    if not (principal.is_staff and principal.covers(Scope(row.district_id, row.street_id, str(row.community_id)))):
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")


async def load_consultation(
    repo: ConsultationRepository, consultation_id: uuid.UUID, lock: str | None = None
) -> ConsultationRow:
    row = await repo.consultation(consultation_id, lock=lock)
    if row is None:
        raise NotFound("consultation not found", code="consultation_not_found")
    return row


def _checked(cmd: NewConsultation) -> tuple[str | None, str]:
    """Validate a consultation's definition; its stored threshold and menu threshold (exact fractions)."""
    try:
        threshold = parse_fraction(cmd.threshold) if cmd.threshold else None
        if threshold is not None and cmd.rule != RuleKind.HOUSEHOLD_SHARE:
            raise RuleError(f"{cmd.rule} has fixed legal thresholds; a custom threshold is not allowed")
        menu_threshold = parse_fraction(cmd.menu_threshold)
        setup = Setup(
            kind=ConsultationKind(cmd.kind),
            questionnaire=Questionnaire(tuple(question_from_dict(q) for q in cmd.questions)),
            rule=DecisionRule.preset(cmd.rule, threshold),
            decision_question_id=cmd.decision_question_id,
            approve_options=tuple(cmd.approve_options),
            menu_question_id=cmd.menu_question_id,
            menu_threshold=menu_threshold,
        )
        check_setup(setup, MENU_CATALOG)
        Window(cmd.opens_at, cmd.closes_at)
        AgeGroups(cmd.age_middle_from, cmd.age_elderly_from)
    except (ConsultationError, QuestionnaireError, RuleError) as exc:
        raise domain_error(exc) from None
    except ValueError as exc:
        raise DomainError(str(exc), code="invalid_consultation") from None
    return (fraction_str(threshold) if threshold is not None else None), fraction_str(menu_threshold)


def _draft_row(
    c: CommunityRow, cmd: NewConsultation, *, consultation_id: uuid.UUID, created_by: str, now: datetime
) -> ConsultationRow:
    row_threshold, menu_threshold = _checked(cmd)
    return ConsultationRow(
        id=consultation_id,
        community_id=c.id,
        district_id=c.district_id,
        street_id=c.street_id,
        kind=cmd.kind,
        title=cmd.title,
        batch=cmd.batch,
        state=State.DRAFT.value,
        questions=cmd.questions,
        rule=cmd.rule,
        threshold=row_threshold,
        decision_question_id=cmd.decision_question_id,
        approve_options=cmd.approve_options,
        menu_question_id=cmd.menu_question_id,
        menu_threshold=menu_threshold,
        age_middle_from=cmd.age_middle_from,
        age_elderly_from=cmd.age_elderly_from,
        opens_at=cmd.opens_at,
        closes_at=cmd.closes_at,
        created_by=created_by,
        created_at=now,
    )


async def create_consultation(
    uow: UnitOfWork, principal: Principal, cmd: NewConsultation, *, now: datetime
) -> ConsultationRow:
    _checked(cmd)  # a bad definition is refused before any read
    async with uow:
        repo = ConsultationRepository(uow.session)
        c = await load_community(CommunityRepository(uow.session), cmd.community_id)
        ensure_staff_covers(principal, c)
        row = _draft_row(c, cmd, consultation_id=uuid.uuid4(), created_by=principal.sub, now=now)
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
    row = _draft_row(
        c, cmd, consultation_id=satisfaction_round_id(data.project_id), created_by=SATISFACTION_DRAFTER, now=now
    )
    repo.add(row)
    await repo.flush()
    return row


async def get_consultation(uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID) -> ConsultationRow:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id)
        await ensure_can_read(HouseholdRepository(uow.session), principal, row, results=False)
        uow.session.expunge_all()
        return row


RESIDENT_STATES = (State.OPEN.value, State.PUBLISHED.value)  # what a resident's app lists: to answer, to read


async def list_consultations(
    uow: UnitOfWork,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    state: str | None,
    kind: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[ConsultationRow]:
    """Consultations in the caller's scope, by id: staff see every state of the communities they cover; a resident
    sees the open and the published ones of their own community (from the registry, never from the token)."""
    async with uow:
        states: list[str] | None = [state] if state is not None else None
        if principal.role is Role.RESIDENT:
            own = await resident_community(HouseholdRepository(uow.session), principal)
            if own is None or (community_id is not None and community_id != own):
                return []
            allowed = [s for s in (states or RESIDENT_STATES) if s in RESIDENT_STATES]
            if not allowed:
                return []
            equals: dict[str, Any] = {"community_id": own, "kind": kind}
            states = allowed
        elif principal.is_staff:
            scope = {k: v for k, v in principal.scope_filters().items() if k != "household_id"}
            claimed = scope.pop("community_id", None)
            if claimed is not None and community_id is not None and str(community_id) != claimed:
                return []
            wanted = (
                community_id
                if community_id is not None
                else (uuid.UUID(claimed) if claimed and _is_uuid(claimed) else None)
            )
            if claimed is not None and wanted is None:
                return []
            equals = {**scope, "community_id": wanted, "kind": kind}
        else:
            raise Forbidden("this list is for staff and residents", code="out_of_scope")
        rows = await ConsultationRepository(uow.session).consultations_page(equals, states, after, limit)
        uow.session.expunge_all()
        return rows


async def ensure_can_read(
    households: HouseholdRepository, principal: Principal, row: ConsultationRow, *, results: bool
) -> None:
    """Staff covering the community always; a resident of the community reads the questionnaire, and the results
    once they are published."""
    if principal.is_staff:
        ensure_staff_covers_consultation(principal, row)
        return
    if principal.household_id is None:
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")
    household = (
        await households.household(uuid.UUID(principal.household_id)) if _is_uuid(principal.household_id) else None
    )
    if household is None or household.community_id != row.community_id:
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")
    if results and row.state != State.PUBLISHED:
        raise Forbidden("results are visible to residents once published", code="results_not_published")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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


MAX_SUGGESTIONS = 200


async def _compute(repo: TallyRepository, row: ConsultationRow, *, final: bool, year: int) -> Result:
    """The result from the incremental tallies, the registry counters and the first suggestions: no answer and
    no household is read."""
    registry, tallies, suggestions = await repo.result_inputs(row.id, row.community_id, MAX_SUGGESTIONS)
    return result_from_tallies(
        setup_of(row),
        registry,
        tallies,
        suggestions,
        catalog=MENU_CATALOG,
        age_groups=AgeGroups(row.age_middle_from, row.age_elderly_from),
        reference_year=year,
        final=final,
    )


async def _compute_from_answers(session: AsyncSession, row: ConsultationRow, *, final: bool, year: int) -> Result:
    """The same result from every stored answer and household (verification only: it reads them all)."""
    households = [
        HouseholdFact(str(h), code, area)
        for h, code, area in await HouseholdRepository(session).household_facts(row.community_id)
    ]
    responses = [
        ResponseFact(str(r.household_id), r.answers, r.birth_year, r.suggestion, r.channel)
        for r in await ResponseRepository(session).response_facts(row.id)
    ]
    return compute_result(
        setup_of(row),
        households,
        responses,
        catalog=MENU_CATALOG,
        age_groups=AgeGroups(row.age_middle_from, row.age_elderly_from),
        reference_year=year,
        final=final,
        max_suggestions=MAX_SUGGESTIONS,
    )


async def recount_tallies(repo: ResponseRepository, row: ConsultationRow) -> tuple[Tallies, dict[uuid.UUID, int]]:
    """The full recount of a consultation's tallies from its stored answers and the registry as it is now
    (and, on per-resident surveys, the answers per household)."""
    setup = setup_of(row)
    facts = await repo.answer_facts(row.id)
    answers = [
        (str(f.household_id), Answer(f.answers, f.channel, f.birth_year, f.code, f.floor_area_m2)) for f in facts
    ]
    per_household: dict[uuid.UUID, int] = {}
    if setup.per_resident:
        for f in facts:
            per_household[f.household_id] = per_household.get(f.household_id, 0) + 1
    return tallies_of(setup, answers), per_household


@dataclass(frozen=True)
class RecountReport:
    consultation_id: uuid.UUID
    consistent: bool
    differences: dict[str, Any]
    repaired: bool


async def recount_consultation(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, repair: bool = False
) -> RecountReport:
    """Verification and repair (staff in scope): recount every stored answer and compare with the incremental
    tallies; with ``repair``, replace the tallies by the recount. Holds the answers lock exclusively, so no
    write is in flight while it counts."""
    async with uow:
        consultations, tally_repo = ConsultationRepository(uow.session), TallyRepository(uow.session)
        await consultations.lock_answers(consultation_id, exclusive=True)
        row = await load_consultation(consultations, consultation_id)
        ensure_staff_covers_consultation(principal, row)
        expected, per_household = await recount_tallies(ResponseRepository(uow.session), row)
        actual = await tally_repo.tallies(row.id)
        stored_households = await tally_repo.household_answer_counts(row.id)
        differences: dict[str, Any] = {
            f"{m}:{k}": {"tallied": str(actual.get((m, k))), "recounted": str(expected.get((m, k)))}
            for (m, k) in sorted(set(actual) | set(expected))
            if actual.get((m, k)) != expected.get((m, k))
        }
        if stored_households != per_household:
            differences["household_answers"] = {"tallied": len(stored_households), "recounted": len(per_household)}
        if repair and differences:
            await tally_repo.replace_tallies(row.id, expected, per_household)
            await uow.commit()
        return RecountReport(row.id, not differences, differences, bool(repair and differences))


def _ratio_view(value: Fraction) -> dict[str, Any]:
    return {"ratio": fraction_str(value), "percent": str(percent(value))}


def result_document(row: ConsultationRow, result: Result, computed_at: datetime) -> dict[str, Any]:
    t, d = result.tally, result.decision
    setup = setup_of(row)
    return {
        "consultation_id": str(row.id),
        "community_id": str(row.community_id),
        "kind": row.kind,
        "state": row.state,
        "rule": d.rule.value,
        "outcome": d.outcome.value,
        "provisional_outcome": d.provisional_outcome.value,
        "decided_by": d.decided_by,
        "conditions": [
            {
                "name": c.name,
                "actual": fraction_str(c.actual),
                "actual_percent": str(percent(c.actual)),
                "comparison": c.comparison.value,
                "required": fraction_str(c.required),
                "required_percent": str(percent(c.required)),
                "met": c.met,
            }
            for c in d.conditions
        ],
        "totals": {"households": t.total_households, "area_m2": str(t.total_area)},
        "participation": {
            "households": t.participating_households,
            "area_m2": str(t.participating_area),
            "households_of_all": _ratio_view(t.participation_households_ratio),
            "area_of_all": _ratio_view(t.participation_area_ratio),
        },
        "approval": {
            "households": t.approving_households,
            "area_m2": str(t.approving_area),
            "households_of_participating": _ratio_view(t.approval_households_ratio),
            "area_of_participating": _ratio_view(t.approval_area_ratio),
            "households_of_all": _ratio_view(t.consent_of_all_ratio),
            "headline": _ratio_view(headline_approval(setup, t)),
        },
        "responses": result.responses,
        "menu": [
            {
                "code": m.code,
                "category": m.category,
                "support_count": m.support_count,
                **_ratio_view(m.support_ratio),
                "selected": m.selected,
            }
            for m in result.menu
        ],
        "menu_threshold": row.menu_threshold if row.menu_question_id else None,
        "questions": [q.as_dict() for q in result.questions.values()],
        "by_age_group": result.by_age_group,
        "age_groups": {"middle_from": row.age_middle_from, "elderly_from": row.age_elderly_from},
        "by_building": result.by_building,
        "by_channel": result.by_channel,
        "suggestions": result.suggestions,
        "computed_at": computed_at.isoformat(),
    }


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
    result = await _compute(TallyRepository(uow.session), row, final=True, year=now.year)
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


async def get_result(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime
) -> dict[str, Any]:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id)
        await ensure_can_read(HouseholdRepository(uow.session), principal, row, results=True)
        if row.final_result is not None:
            return row.final_result  # closed: the result as it was decided
        result = await _compute(TallyRepository(uow.session), row, final=False, year=now.year)
        return result_document(row, result, now)


async def export_table(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime
) -> tuple[ConsultationRow, list[str], list[list[str]]]:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id)
        ensure_staff_covers_consultation(principal, row)
        questions = setup_of(row).questionnaire.questions
        groups = AgeGroups(row.age_middle_from, row.age_elderly_from)
        year = (row.closed_at or now).year
        rows = []
        for r in await ResponseRepository(uow.session).export_rows(row.id):
            fixed = {
                "response_id": str(r.response_id),
                "household_id": str(r.household_id),
                "building": r.building,
                "unit": r.unit,
                "room": r.room,
                "floor_area_m2": r.floor_area_m2,
                "resident_id": str(r.resident_id) if r.resident_id else None,
                "age_group": groups.group(r.birth_year, year),
                "channel": r.channel,
                "interviewed": "yes" if r.interviewer else "no",  # the interviewer's id stays in the audit trail
                "answered_at": r.answered_at.isoformat(),
                "version": r.version,
            }
            rows.append(export_row(questions, fixed, r.answers, r.suggestion))
        uow.session.expunge_all()
        return row, export_columns(questions), rows


async def demand_chart(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, question_id: str | None, *, now: datetime
) -> str:
    async with uow:
        row = await load_consultation(ConsultationRepository(uow.session), consultation_id)
        await ensure_can_read(HouseholdRepository(uow.session), principal, row, results=True)
        setup = setup_of(row)
        choice = [q for q in setup.questionnaire.questions if q.kind in CHOICE_KINDS]
        wanted = (
            question_id
            or setup.menu_question_id
            or next((q.id for q in choice if q.kind is QuestionKind.MULTIPLE_CHOICE), choice[0].id if choice else None)
        )
        q = setup.questionnaire.get(wanted or "")
        if q is None or q.kind not in CHOICE_KINDS:
            raise BadRequest("name a choice question to chart", code="not_a_choice_question")
        doc = row.final_result or result_document(
            row, await _compute(TallyRepository(uow.session), row, final=False, year=now.year), now
        )
        series = {g: v["questions"].get(q.id, {}) for g, v in doc["by_age_group"].items()}
        return demand_chart_svg(f"{row.title}: {q.text}", list(q.options), series)


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


__all__ = ["CommunityRow", "community_scope"]
