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
from typing import Any

from renovation_common.auth import Principal, Role
from renovation_common.contracts.survey import ResponseRecorded
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from renovation_common.events import new_event
from survey.adapters.orm import ConsultationRow
from survey.adapters.repository import Repository
from survey.domain.consultation import Channel, ConsultationError, State, Window, ensure_accepts_answers
from survey.domain.questions import AnswerError
from survey.service_layer.consultations import (
    _is_uuid,
    domain_error,
    ensure_staff_covers_consultation,
    load_consultation,
    setup_of,
)

CLOCK_SKEW = timedelta(minutes=5)


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
        if principal.household_id is None or not _is_uuid(principal.household_id):
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


async def submit_response(
    uow: UnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    cmd: SubmitResponse,
    *,
    now: datetime,
    source: str,
) -> SubmissionResult:
    household_id, channel, interviewer = _respondent(principal, cmd)
    answered_at = cmd.answered_at or now
    if answered_at > now + CLOCK_SKEW:
        raise BadRequest("answered_at is in the future", code="answered_at_in_future")
    body_hash = cmd.body_hash(consultation_id)
    async with uow:
        repo = Repository(uow.session)
        # shared lock: submissions run side by side; closing (exclusive) waits for them and shuts out new ones
        await repo.lock_answers(consultation_id, exclusive=False)
        row = await load_consultation(repo, consultation_id)
        household_community = await repo.household_community(household_id)
        if household_community is None or household_community != row.community_id:
            raise NotFound("household not found in this consultation's community", code="household_not_found")
        if principal.role is Role.COMMUNITY_WORKER:
            ensure_staff_covers_consultation(principal, row)
        if not await repo.claim_submission(cmd.submission_id, consultation_id, body_hash):
            return await _replay(repo, cmd.submission_id, body_hash)
        try:
            ensure_accepts_answers(State(row.state), Window(row.opens_at, row.closes_at), now)
            if answered_at < (row.opened_at or answered_at):
                raise ConsultationError("answered before the consultation opened", code="outside_answer_window")
        except ConsultationError as exc:
            raise domain_error(exc) from None
        setup = setup_of(row)
        try:
            answers = setup.questionnaire.validate_answers(cmd.answers)
        except AnswerError as exc:
            raise DomainError(str(exc), code=exc.code, question_id=exc.question_id) from None
        resident_id = await _check_resident(repo, setup.per_resident, household_id, cmd.resident_id)
        respondent_key = resident_id if setup.per_resident and resident_id else household_id
        upserted = await repo.upsert_response(
            {
                "id": uuid.uuid4(),
                "consultation_id": consultation_id,
                "household_id": household_id,
                "resident_id": resident_id,
                "respondent_key": respondent_key,
                "answers": answers,
                "suggestion": (cmd.suggestion or "").strip() or None,
                "channel": channel,
                "interviewer": interviewer,
                "answered_at": answered_at,
                "last_submission_id": cmd.submission_id,
            }
        )
        if upserted is None:
            current = await repo.response_by_key(consultation_id, respondent_key)
            assert current is not None
            response_id, version, status, code = current.id, current.version, "superseded", 200
        else:
            response_id, version, inserted = upserted
            status, code = ("created", 201) if inserted else ("updated", 200)
        await repo.audit_response(
            {
                "response_id": response_id,
                "consultation_id": consultation_id,
                "household_id": household_id,
                "resident_id": resident_id,
                "submission_id": cmd.submission_id,
                "action": status,
                "version": version,
                "answers": answers,
                "suggestion": cmd.suggestion,
                "channel": channel,
                "interviewer": interviewer,
                "actor_sub": principal.sub,
                "actor_role": principal.role.value,
                "answered_at": answered_at,
            }
        )
        body = {
            "submission_id": str(cmd.submission_id),
            "response_id": str(response_id),
            "consultation_id": str(consultation_id),
            "household_id": str(household_id),
            "resident_id": str(resident_id) if resident_id else None,
            "status": status,
            "version": version,
            "channel": channel,
            "answered_at": answered_at.isoformat(),
        }
        await repo.complete_submission(cmd.submission_id, code, body)
        if status != "superseded":
            uow.publish(
                new_event(
                    ResponseRecorded(
                        consultation_id=str(consultation_id),
                        community_id=str(row.community_id),
                        district_id=row.district_id,
                        street_id=row.street_id,
                        kind=row.kind,
                        responses_count=await repo.response_count(consultation_id),
                        households_total=await repo.household_count(row.community_id),
                    ),
                    source=source,
                    subject=str(consultation_id),
                )
            )
        await uow.commit()
    return SubmissionResult(code, body)


async def _replay(repo: Repository, submission_id: uuid.UUID, body_hash: str) -> SubmissionResult:
    stored = await repo.submission(submission_id)
    if stored is None or stored.body_hash != body_hash:
        raise Conflict("this submission_id was already used with a different body", code="submission_id_reused")
    return SubmissionResult(stored.status_code, stored.result, replayed=True)


async def _check_resident(
    repo: Repository, per_resident: bool, household_id: uuid.UUID, resident_id: uuid.UUID | None
) -> uuid.UUID | None:
    if resident_id is None:
        if per_resident:
            raise BadRequest("a demand survey is answered per resident: give resident_id", code="resident_required")
        return None
    residents = await repo.residents([household_id])
    if not any(r.id == resident_id for r in residents):
        raise NotFound("resident not found in this household", code="resident_not_found")
    return resident_id


async def submit_batch(
    uow_factory: Any,
    principal: Principal,
    consultation_id: uuid.UUID,
    items: list[SubmitResponse],
    *,
    now: datetime,
    source: str,
) -> list[dict[str, Any]]:
    """Each item in its own transaction, answered on its own (one bad item does not sink the others)."""
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            result = await submit_response(uow_factory(), principal, consultation_id, item, now=now, source=source)
            out.append(
                {
                    "index": index,
                    "submission_id": str(item.submission_id),
                    "status": result.status_code,
                    "replayed": result.replayed,
                    "result": result.body,
                }
            )
        except DomainError as exc:
            out.append(
                {
                    "index": index,
                    "submission_id": str(item.submission_id),
                    "status": exc.status,
                    "problem": {"code": exc.code, "title": exc.title, "detail": exc.detail},
                }
            )
    return out


async def household_responses(
    uow: UnitOfWork, principal: Principal, consultation_id: uuid.UUID, household_id: uuid.UUID
) -> tuple[ConsultationRow, list[Any], list[Any]]:
    """The household's own answers (and their audit trail): the household itself, or staff covering it."""
    async with uow:
        repo = Repository(uow.session)
        row = await load_consultation(repo, consultation_id)
        if principal.role is Role.RESIDENT:
            if principal.household_id != str(household_id):
                raise Forbidden("a resident reads only their own household's answers", code="not_your_household")
        elif principal.is_staff:
            ensure_staff_covers_consultation(principal, row)
        else:
            raise Forbidden(f"role {principal.role.value} may not read answers", code="role_not_allowed")
        responses = await repo.responses_of_household(consultation_id, household_id)
        trail = await repo.audit_trail(consultation_id, household_id) if principal.is_staff else []
        uow.session.expunge_all()
        return row, responses, trail
