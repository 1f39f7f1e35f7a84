"""Response use cases: submit (with client submission ids), batch sync, read own answers.

A submission runs in one transaction: claim the ``submission_id`` (unique), upsert the respondent's single
response row (unique per consultation and household — per resident for demand surveys), write the audit row,
store the result under the submission id, publish ``survey.response.recorded.v1``. A repeat of the same id with
the same body returns the stored first result; with another body it is a 409 ``submission_id_reused``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from renovation_common import idempotency
from renovation_common.auth import Principal, Role
from renovation_common.contracts.survey import ResponseRecorded
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork, outbox_values
from renovation_common.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from renovation_common.events import CloudEvent, new_event
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import (
    ConsultationRepository,
    HouseholdRepository,
    ResponseRepository,
    TallyRepository,
)
from survey.adapters.repositories.responses import AnswerChanged, AnswerContext
from survey.domain import tallies
from survey.domain.consultation import Channel, ConsultationError, Setup, State, Window, ensure_accepts_answers
from survey.domain.questions import AnswerError
from survey.domain.tallies import Answer, Tallies
from survey.service_layer.consultations.access import (
    domain_error,
    ensure_staff_covers_consultation,
    is_uuid,
    load_consultation,
)
from survey.service_layer.consultations.mapping import setup_of

CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class _Repositories:
    """The repositories a write of answers goes through, on one transaction's session."""

    consultations: ConsultationRepository
    households: HouseholdRepository
    responses: ResponseRepository
    tallies: TallyRepository

    @classmethod
    def of(cls, uow: UnitOfWork) -> _Repositories:
        session = uow.session
        return cls(
            ConsultationRepository(session),
            HouseholdRepository(session),
            ResponseRepository(session, uow),
            TallyRepository(session),
        )


@dataclass(frozen=True)
class SubmitResponse:
    submission_id: uuid.UUID
    answers: dict[str, Any]
    household_id: uuid.UUID | None = None
    resident_id: uuid.UUID | None = None
    suggestion: str | None = None
    channel: str | None = None
    answered_at: datetime | None = None

    def body_hash(self, consultation_id: uuid.UUID) -> str:
        body = {
            "consultation_id": str(consultation_id),
            "answers": self.answers,
            "household_id": str(self.household_id) if self.household_id else None,
            "resident_id": str(self.resident_id) if self.resident_id else None,
            "suggestion": self.suggestion,
            "channel": self.channel,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class SubmissionResult:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    events: list[str] = field(default_factory=list)


def _respondent(principal: Principal, cmd: SubmitResponse) -> tuple[uuid.UUID, str, str | None]:
    """Household, channel and interviewer the caller may answer for."""
    if principal.role is Role.RESIDENT:
        if principal.household_id is None or not is_uuid(principal.household_id):
            raise Forbidden("your token names no household", code="no_household_claim")
        own = uuid.UUID(principal.household_id)
        if cmd.household_id is not None and cmd.household_id != own:
            raise Forbidden("a resident answers only for their own household", code="not_your_household")
        if cmd.channel not in (None, Channel.APP.value):
            raise Forbidden("residents answer through the app", code="channel_not_allowed")
        return own, Channel.APP.value, None
    if principal.role is Role.COMMUNITY_WORKER:
        if cmd.household_id is None:
            raise BadRequest(
                "household_id is required when answering on a household's behalf", code="household_required"
            )
        if cmd.channel is None:
            raise BadRequest("channel is required when answering on a household's behalf", code="channel_required")
        return cmd.household_id, Channel(cmd.channel).value, principal.sub
    raise Forbidden(f"role {principal.role.value} may not answer consultations", code="role_not_allowed")


@dataclass
class _Item:
    """One submission on its way through a batch: what the caller may answer for, then its outcome."""

    index: int
    cmd: SubmitResponse
    household_id: uuid.UUID = field(default_factory=uuid.uuid4)
    channel: str = ""
    interviewer: str | None = None
    answered_at: datetime | None = None
    body_hash: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    resident_id: uuid.UUID | None = None
    key: uuid.UUID | None = None  # the respondent: the household, or the resident on a demand survey
    error: DomainError | None = None
    result: SubmissionResult | None = None

    @property
    def done(self) -> bool:
        return self.error is not None or self.result is not None


async def submit_response(
    uow: UnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    cmd: SubmitResponse,
    *,
    now: datetime,
    source: str,
) -> SubmissionResult:
    """One submission: the batch path with one item; its refusal is raised."""
    (item,) = await _submit(uow, principal, consultation_id, [cmd], now=now, source=source)
    if item.error is not None:
        raise item.error
    assert item.result is not None
    return item.result


async def submit_batch(
    uow: UnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    cmds: list[SubmitResponse],
    *,
    now: datetime,
    source: str,
) -> list[dict[str, Any]]:
    """Up to 500 offline submissions in one transaction, each answered on its own: a refused item writes
    nothing and sinks none of the others."""
    out: list[dict[str, Any]] = []
    for item in await _submit(uow, principal, consultation_id, cmds, now=now, source=source):
        entry: dict[str, Any] = {"index": item.index, "submission_id": str(item.cmd.submission_id)}
        if item.error is not None:
            exc = item.error
            entry |= {"status": exc.status, "problem": {"code": exc.code, "title": exc.title, "detail": exc.detail}}
        else:
            assert item.result is not None
            status = 200 if item.result.replayed else item.result.status_code  # a replay answers 200, as alone
            entry |= {"status": status, "replayed": item.result.replayed, "result": item.result.body}
        out.append(entry)
    return out


class _Changed(Exception):
    """The one-statement write of a single submission wrote nothing (what it read without locks changed, or the
    answer is not a new respondent's): the general path answers it."""


async def _submit(
    uow: UnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    cmds: list[SubmitResponse],
    *,
    now: datetime,
    source: str,
) -> list[_Item]:
    """A single submission first tries the write as one statement that is its own transaction (two round trips:
    the read without locks, then the locks, the check that the read still holds and every write — see
    :meth:`ResponseRepository.record_new_answer_at_once`); whatever that cannot answer, and every batch, takes the
    general path (one transaction, the locks before the read). Not under an ``Idempotency-Key``, whose record
    must be written in the effect's transaction."""
    if len(cmds) == 1 and not idempotency.key_pending():
        try:
            return await _submit_in(uow, principal, consultation_id, cmds, now=now, source=source, at_once=True)
        except _Changed:
            pass  # the general path answers it
    return await _submit_in(uow, principal, consultation_id, cmds, now=now, source=source, at_once=False)


async def _submit_in(
    uow: UnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    cmds: list[SubmitResponse],
    *,
    now: datetime,
    source: str,
    at_once: bool,
) -> list[_Item]:
    """The checks and writes of every submission, set-based: each step is one statement for the whole batch.

    Order of the checks for each item (as a single submission has always seen them): who may answer for whom,
    the household belongs to the consultation's community, the caller's scope, a known submission id replays
    its first result, the answer window, the answers themselves, the resident. A submission id repeated inside
    the batch is handled in a later round, where it meets its first occurrence as a replay."""
    items = [_Item(i, c) for i, c in enumerate(cmds)]
    for item in items:
        try:
            item.household_id, item.channel, item.interviewer = _respondent(principal, item.cmd)
            item.answered_at = item.cmd.answered_at or now
            if item.answered_at > now + CLOCK_SKEW:
                raise BadRequest("answered_at is in the future", code="answered_at_in_future")
            item.body_hash = item.cmd.body_hash(consultation_id)
        except DomainError as exc:
            item.error = exc
    async with uow:
        repo = _Repositories.of(uow)
        # shared lock: submissions run side by side; closing (exclusive) waits for them and shuts out new ones;
        # then the households, share-locked (a registry change of them waits for this write, or this write for
        # it); then what the checks read, as it is once the locks are held — one statement
        if at_once:
            (item,) = items
            context = await repo.responses.unlocked_answer_context(
                consultation_id, item.household_id, item.cmd.submission_id
            )
        else:
            context = await repo.responses.answer_context(
                consultation_id, {i.household_id for i in items}, {i.cmd.submission_id for i in items}
            )
        if context is None:
            for item in items:
                item.error = item.error or NotFound("consultation not found", code="consultation_not_found")
            return items
        row = context.consultation
        rounds: list[list[_Item]] = []
        seen: dict[uuid.UUID, int] = {}
        for item in items:
            if not item.done:
                k = seen.get(item.cmd.submission_id, 0)
                seen[item.cmd.submission_id] = k + 1
                if k == len(rounds):
                    rounds.append([])
                rounds[k].append(item)
        setup = setup_of(row)
        if at_once and setup.per_resident:
            raise _Changed  # per-resident surveys count households too: the general path
        change = Tallies()
        household_deltas: dict[uuid.UUID, int] = {}
        recorded: list[_Item] = []
        # one round of one item: a new answer is written by one statement (_write_one), its event too
        queued = None
        if len(rounds) == 1:
            queued = _Queued(outbox_values(_event(row, source), uow.subject_prefix), context.versions)
        for batch in rounds:
            recorded += await _submit_round(
                repo, principal, row, setup, batch, change, household_deltas, now=now, queued=queued, context=context
            )
            context = None  # later rounds (a submission id repeated in the batch) read what the first wrote
        if queued is not None and queued.written:
            uow.published_in_statement()  # the relay is woken after commit
        elif recorded:
            await _count_households(repo, row.id, setup, household_deltas, change)
            # the deltas are applied inside COMMIT (deferred trigger): the tally rows every writer shares stay
            # unlocked until then; the counts are as a count(*) would see them (committed + this transaction's)
            committed, households_total = await repo.tallies.add_tally_deltas_and_count(
                consultation_id, row.community_id, change
            )
            count = committed + change.n(tallies.RESPONSES)
            created_after = sum(1 for i in recorded if i.result and i.result.body["status"] == "created")
            for item in recorded:
                assert item.result is not None
                # the count as it stood right after this item (the ones created later in the batch excluded)
                if item.result.body["status"] == "created":
                    created_after -= 1
                uow.publish(_event(row, source, count - created_after, households_total))
        await uow.commit()
    return items


def _event(row: ConsultationRow, source: str, responses_count: int = 0, households_total: int = 0) -> CloudEvent:
    """``survey.response.recorded.v1`` of a write of answers (the one-statement write fills in the counts)."""
    return new_event(
        ResponseRecorded(
            consultation_id=str(row.id),
            community_id=str(row.community_id),
            district_id=row.district_id,
            street_id=row.street_id,
            kind=row.kind,
            responses_count=responses_count,
            households_total=households_total,
        ),
        source=source,
        subject=str(row.id),
    )


async def _submit_round(
    repo: _Repositories,
    principal: Principal,
    row: ConsultationRow,
    setup: Setup,
    items: list[_Item],
    change: Tallies,
    household_deltas: dict[uuid.UUID, int],
    *,
    now: datetime,
    queued: _Queued | None = None,
    context: AnswerContext | None = None,
) -> list[_Item]:
    """Items with distinct submission ids. Returns those that changed a response (created or updated); their
    tallies' change is added to ``change`` (and, on per-resident surveys, new answers per household to
    ``household_deltas``)."""
    if context is not None:
        households, known = context.households, context.submissions
    else:
        households, known = await repo.responses.households_and_submissions(
            {i.household_id for i in items}, {i.cmd.submission_id for i in items}
        )
    communities = {h: r.community_id for h, r in households.items()}
    scope_error: DomainError | None = None
    if principal.role is Role.COMMUNITY_WORKER:
        try:
            ensure_staff_covers_consultation(principal, row)
        except DomainError as exc:
            scope_error = exc
    for item in items:
        if communities.get(item.household_id) != row.community_id:
            item.error = NotFound("household not found in this consultation's community", code="household_not_found")
        elif row.building_codes is not None and households[item.household_id].code not in row.building_codes:
            item.error = Forbidden(
                "this consultation is a courtyard's own (一院一策): the household's building is not among its"
                " buildings",
                code="household_outside_consultation",
            )
        elif scope_error is not None:
            item.error = scope_error
    for item in items:
        if not item.done and item.cmd.submission_id in known:
            _replay(item, known[item.cmd.submission_id])
    window_error: DomainError | None = None
    try:
        ensure_accepts_answers(State(row.state), Window(row.opens_at, row.closes_at), now)
    except ConsultationError as exc:
        window_error = domain_error(exc)
    for item in items:
        if item.done:
            continue
        assert item.answered_at is not None
        if window_error is not None:
            item.error = window_error
        elif item.answered_at < (row.opened_at or item.answered_at):
            item.error = domain_error(
                ConsultationError("answered before the consultation opened", code="outside_answer_window")
            )
        else:
            try:
                item.answers = setup.questionnaire.validate_answers(item.cmd.answers)
            except AnswerError as exc:
                item.error = DomainError(str(exc), code=exc.code, question_id=exc.question_id)
    pending = [i for i in items if not i.done]
    if context is not None:
        residents = context.residents
    else:
        residents = await repo.households.birth_years({i.household_id for i in pending})
    for item in pending:
        if item.cmd.resident_id is None:
            if setup.per_resident:
                item.error = BadRequest(
                    "a demand survey is answered per resident: give resident_id", code="resident_required"
                )
        elif item.cmd.resident_id not in residents.get(item.household_id, {}):
            item.error = NotFound("resident not found in this household", code="resident_not_found")
        else:
            item.resident_id = item.cmd.resident_id
    for item in pending:
        # a resident named on a household survey is recorded, but the household stays the respondent
        item.key = item.resident_id if setup.per_resident and item.resident_id else item.household_id
    pending = [i for i in pending if not i.done]
    facts = {h: (r.code, r.floor_area_m2, residents.get(h, {})) for h, r in households.items()}
    if queued is not None and len(pending) == 1 and not setup.per_resident:
        return await _write_one(repo, principal, row, setup, pending[0], facts, change, household_deltas, queued)
    claimed = await repo.responses.claim_submissions(row.id, {i.cmd.submission_id: i.body_hash for i in pending})
    raced = {i.cmd.submission_id for i in pending} - claimed
    if raced:  # claimed and committed by a concurrent submission of the same id since we looked
        stored = await repo.responses.submissions(raced)
        for item in pending:
            if item.cmd.submission_id in raced:
                _replay(item, stored[item.cmd.submission_id])
    pending = [i for i in pending if not i.done]
    return await _write(repo, principal, row, setup, pending, facts, change, household_deltas)


@dataclass
class _Queued:
    """A one-statement write: the event it writes to the outbox (its counts filled in by the statement), and
    whether it did (a new answer: its tallies and its event are queued; otherwise the general path follows)."""

    event: tuple[str, str, str, str]  # renovation_common.db.outbox_values of the event
    versions: dict[uuid.UUID, str] | None = None  # read without locks: the write is one statement (at once)
    written: bool = False


async def _write_one(
    repo: _Repositories,
    principal: Principal,
    row: ConsultationRow,
    setup: Setup,
    item: _Item,
    facts: Facts,
    change: Tallies,
    household_deltas: dict[uuid.UUID, int],
    queued: _Queued,
) -> list[_Item]:
    """A household survey's single submission, as a new answer in one statement (claim, answer, audit row,
    tally deltas, counters); a lost claim replays the winner's result, an answered respondent goes the way of
    :func:`_write` (the claim is then already ours)."""
    assert item.key is not None and item.answered_at is not None
    values, audit, body = _records(principal, row, item, uuid.uuid4(), "created", 1)
    delta = tallies.change(setup, None, _answer(facts, item.household_id, item.resident_id, item.answers, item.channel))
    if queued.versions is not None:
        building, _, years = facts[item.household_id]
        checked = (queued.versions[row.id], queued.versions[item.household_id], building, years)
        try:
            await repo.responses.record_new_answer_at_once(
                row.community_id, values, audit, item.body_hash, body, delta, queued.event, checked
            )
        except AnswerChanged:
            raise _Changed from None
        item.result = SubmissionResult(201, body)
        queued.written = True
        return [item]
    got = await repo.responses.record_new_response(
        row.community_id, values, audit, item.body_hash, body, delta, queued.event
    )
    if not got.claimed:  # claimed and committed by a concurrent submission of the same id since we looked
        stored = await repo.responses.submissions({item.cmd.submission_id})
        _replay(item, stored[item.cmd.submission_id])
        return []
    if not got.inserted:
        return await _write(repo, principal, row, setup, [item], facts, change, household_deltas)
    item.result = SubmissionResult(201, body)
    queued.written = True
    return [item]


def _records(
    principal: Principal, row: ConsultationRow, item: _Item, response_id: uuid.UUID, status: str, version: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The response row's values, the audit row and the result body of one item."""
    assert item.answered_at is not None
    values = {
        "id": response_id,
        "consultation_id": row.id,
        "household_id": item.household_id,
        "resident_id": item.resident_id,
        "respondent_key": item.key,
        "answers": item.answers,
        "suggestion": (item.cmd.suggestion or "").strip() or None,
        "channel": item.channel,
        "interviewer": item.interviewer,
        "answered_at": item.answered_at,
        "last_submission_id": item.cmd.submission_id,
    }
    audit = {
        "response_id": response_id,
        "consultation_id": row.id,
        "household_id": item.household_id,
        "resident_id": item.resident_id,
        "submission_id": item.cmd.submission_id,
        "action": status,
        "version": version,
        "answers": item.answers,
        "suggestion": item.cmd.suggestion,
        "channel": item.channel,
        "interviewer": item.interviewer,
        "actor_sub": principal.sub,
        "actor_role": principal.role.value,
        "answered_at": item.answered_at,
    }
    body = {
        "submission_id": str(item.cmd.submission_id),
        "response_id": str(response_id),
        "consultation_id": str(row.id),
        "household_id": str(item.household_id),
        "resident_id": str(item.resident_id) if item.resident_id else None,
        "status": status,
        "version": version,
        "channel": item.channel,
        "answered_at": item.answered_at.isoformat(),
    }
    return values, audit, body


def _replay(item: _Item, stored: Any) -> None:
    if stored.body_hash != item.body_hash:
        item.error = Conflict("this submission_id was already used with a different body", code="submission_id_reused")
    else:
        item.result = SubmissionResult(stored.status_code, stored.result, replayed=True)


Facts = dict[uuid.UUID, tuple[str, Decimal, dict[uuid.UUID, int]]]  # household -> building, area, birth years


def _answer(facts: Facts, household_id: uuid.UUID, resident_id: uuid.UUID | None, answers: Any, channel: str) -> Answer:
    building, area, years = facts[household_id]
    if resident_id is not None and resident_id in years:
        birth: int | None = years[resident_id]
    else:
        birth = min(years.values()) if years else None
    return Answer(answers, channel, birth, building, area)


async def _write(
    repo: _Repositories,
    principal: Principal,
    row: ConsultationRow,
    setup: Setup,
    items: list[_Item],
    facts: Facts,
    change: Tallies,
    household_deltas: dict[uuid.UUID, int],
) -> list[_Item]:
    """Write the answers (in waves when a respondent appears more than once, later items after earlier ones):
    new respondents are inserted; answered ones are locked and overwritten unless the stored answer was given
    later (offline sync out of order: ``superseded``). Each change's tallies (the old answer's out, the new
    one's in) go into ``change``. Audits every item and stores each result under its submission id. Returns the
    items that changed a response."""
    waves: list[list[_Item]] = []
    depth: dict[uuid.UUID, int] = {}
    for item in items:
        assert item.key is not None
        k = depth.get(item.key, 0)
        depth[item.key] = k + 1
        if k == len(waves):
            waves.append([])
        waves[k].append(item)
    audits: list[dict[str, Any]] = []
    completed: list[tuple[uuid.UUID, int, dict[str, Any]]] = []
    changed: list[_Item] = []
    for wave in waves:
        values = {
            i.key: {
                "id": uuid.uuid4(),
                "consultation_id": row.id,
                "household_id": i.household_id,
                "resident_id": i.resident_id,
                "respondent_key": i.key,
                "answers": i.answers,
                "suggestion": (i.cmd.suggestion or "").strip() or None,
                "channel": i.channel,
                "interviewer": i.interviewer,
                "answered_at": i.answered_at,
                "last_submission_id": i.cmd.submission_id,
            }
            for i in wave
        }
        inserted = await repo.responses.insert_new_responses(list(values.values()))
        stored = await repo.responses.lock_responses(row.id, {k for k in values if k not in inserted})
        updates: list[dict[str, Any]] = []
        for item in wave:
            assert item.key is not None and item.answered_at is not None
            new = _answer(facts, item.household_id, item.resident_id, item.answers, item.channel)
            if item.key in inserted:
                response_id, version, status, code = inserted[item.key], 1, "created", 201
                change.merge(tallies.change(setup, None, new))
                if setup.per_resident:
                    household_deltas[item.household_id] = household_deltas.get(item.household_id, 0) + 1
                changed.append(item)
            else:
                old = stored[item.key]
                if old.answered_at <= item.answered_at:
                    response_id, version, status, code = old.id, old.version + 1, "updated", 200
                    before = _answer(facts, old.household_id, old.resident_id, old.answers, old.channel)
                    change.merge(tallies.change(setup, before, new))
                    v = values[item.key]
                    updates.append(
                        {
                            "b_id": old.id,
                            "b_resident_id": v["resident_id"],
                            "b_answers": v["answers"],
                            "b_suggestion": v["suggestion"],
                            "b_channel": v["channel"],
                            "b_interviewer": v["interviewer"],
                            "b_answered_at": v["answered_at"],
                            "b_submission_id": v["last_submission_id"],
                        }
                    )
                    changed.append(item)
                else:
                    response_id, version, status, code = old.id, old.version, "superseded", 200
            _, audit, body = _records(principal, row, item, response_id, status, version)
            audits.append(audit)
            item.result = SubmissionResult(code, body)
            completed.append((item.cmd.submission_id, code, body))
        await repo.responses.update_responses(updates)
    await repo.responses.audit_responses(audits)
    await repo.responses.complete_submissions(completed)
    return changed


async def _count_households(
    repo: _Repositories,
    consultation_id: uuid.UUID,
    setup: Setup,
    household_deltas: dict[uuid.UUID, int],
    change: Tallies,
) -> None:
    """Per-resident surveys: a household counts once in the household-level tallies, from its first answer."""
    if not setup.per_resident or not household_deltas:
        return
    households = await repo.households.answering_households(set(household_deltas))
    for household_id, (before, after) in (
        await repo.tallies.count_household_answers(consultation_id, household_deltas)
    ).items():
        if (before == 0) != (after == 0):
            h = households[household_id]
            sign = 1 if after else -1
            change.merge(tallies.household_contribution(setup, None, building=h.code, area=h.floor_area_m2), sign)


async def household_responses(
    read: ReadOnlyUnitOfWork, principal: Principal, consultation_id: uuid.UUID, household_id: uuid.UUID
) -> tuple[ConsultationRow, list[Any], list[Any]]:
    """The household's own answers (and their audit trail): the household itself, or staff covering it."""
    async with read:
        repo = ResponseRepository(read.session)
        row = await load_consultation(ConsultationRepository(read.session), consultation_id)
        if principal.role is Role.RESIDENT:
            if principal.household_id != str(household_id):
                raise Forbidden("a resident reads only their own household's answers", code="not_your_household")
        elif principal.is_staff:
            ensure_staff_covers_consultation(principal, row)
        else:
            raise Forbidden(f"role {principal.role.value} may not read answers", code="role_not_allowed")
        responses = await repo.responses_of_household(consultation_id, household_id)
        trail = await repo.audit_trail(consultation_id, household_id) if principal.is_staff else []
        return row, responses, trail
