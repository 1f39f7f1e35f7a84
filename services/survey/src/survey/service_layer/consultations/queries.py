"""The read side: a consultation, the list of them in the caller's scope, the live or frozen result, the
answers export and the demand chart. Read-only transactions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from renovation_common.auth import Principal, Role
from renovation_common.db import ReadOnlyUnitOfWork
from renovation_common.errors import BadRequest, Forbidden, NotFound
from renovation_common.exports import zone_name
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import (
    CommunityRepository,
    ConsultationRepository,
    HouseholdRepository,
    ResponseRepository,
    TallyRepository,
)
from survey.domain.charts import demand_chart_svg
from survey.domain.consultation import State
from survey.domain.exports import (
    export_columns,
    export_headers_zh,
    machine_row,
    people_row,
)
from survey.domain.questions import CHOICE_KINDS, QuestionKind
from survey.domain.registry import building_name
from survey.domain.results import AgeGroups
from survey.service_layer.consultations.access import (
    check_can_read,
    ensure_can_read,
    ensure_staff_covers_consultation,
    is_uuid,
    load_consultation,
    resident_household,
)
from survey.service_layer.consultations.mapping import setup_of
from survey.service_layer.consultations.results import (
    MAX_SUGGESTIONS,
    ResultCache,
    compute,
    live_result,
    result_document,
)
from survey.service_layer.registry import load_community, resident_community


async def get_consultation(
    read: ReadOnlyUnitOfWork, principal: Principal, consultation_id: uuid.UUID
) -> ConsultationRow:
    async with read:
        row = await load_consultation(ConsultationRepository(read.session), consultation_id)
        await ensure_can_read(HouseholdRepository(read.session), principal, row, results=False)
        return row


RESIDENT_STATES = (State.OPEN.value, State.PUBLISHED.value)  # what a resident's app lists: to answer, to read


async def list_consultations(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    state: str | None,
    kind: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[ConsultationRow]:
    """Consultations in the caller's scope, by id: staff see every state of the communities they cover; a resident
    sees the open and the published ones of their own community (from the registry, never from the token), of the
    whole community or of their own courtyard (a scheme round's group vote)."""
    async with read:
        states: list[str] | None = [state] if state is not None else None
        building: str | None = None
        if principal.role is Role.RESIDENT:
            own = await resident_community(HouseholdRepository(read.session), principal)
            if own is None or (community_id is not None and community_id != own):
                return []
            allowed = [s for s in (states or RESIDENT_STATES) if s in RESIDENT_STATES]
            if not allowed:
                return []
            equals: dict[str, Any] = {"community_id": own, "kind": kind}
            states = allowed
            assert principal.household_id is not None  # resident_community found it
            building = await HouseholdRepository(read.session).household_building_code(
                uuid.UUID(principal.household_id)
            )
        elif principal.is_staff:
            scope = {k: v for k, v in principal.scope_filters().items() if k != "household_id"}
            claimed = scope.pop("community_id", None)
            if claimed is not None and community_id is not None and str(community_id) != claimed:
                return []
            wanted = (
                community_id
                if community_id is not None
                else (uuid.UUID(claimed) if claimed and is_uuid(claimed) else None)
            )
            if claimed is not None and wanted is None:
                return []
            equals = {**scope, "community_id": wanted, "kind": kind}
        else:
            raise Forbidden("this list is for staff and residents", code="out_of_scope")
        rows = await ConsultationRepository(read.session).consultations_page(
            equals, states, after, limit, building=building
        )
        return rows


async def get_result(
    read: ReadOnlyUnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime, cache: ResultCache
) -> bytes:
    """The live result (open), or the frozen one (closed), as the API's JSON document. One primary-key read
    decides access (as every read: scope from the consultation's record, a resident's community from their
    household's) and gives the version of what the result is computed from; the document this replica rendered
    for that very version is sent as it is, else it is computed from the tallies (one more round trip) and kept."""
    async with read:
        tallies = TallyRepository(read.session)
        stamp = await tallies.result_stamp(consultation_id, resident_household(principal))
        if stamp is None:
            raise NotFound("consultation not found", code="consultation_not_found")
        check_can_read(principal, stamp, stamp.household_community, results=True)
        body = cache.get(consultation_id, _result_key(stamp.version, stamp.final, now), now)
        if body is not None:
            return body
        found = await tallies.consultation_and_result_inputs(consultation_id, MAX_SUGGESTIONS)
        if found is None:
            raise NotFound("consultation not found", code="consultation_not_found")
        row, registry, inputs, suggestions, version = found
        check_can_read(principal, row, stamp.household_community, results=True)  # as read with the inputs
        key = _result_key(version, row.final_result is not None, now)
        if row.final_result is not None:
            return cache.put(consultation_id, key, row.final_result, live=False)  # the result as it was decided
        document = result_document(row, live_result(row, registry, inputs, suggestions, year=now.year), now)
        return cache.put(consultation_id, key, document, live=True)


def _result_key(version: tuple[str, str, int], final: bool, now: datetime) -> tuple[object, ...]:
    return (*version, None if final else now.year)  # a live result's age groups follow the calendar year


@dataclass(frozen=True)
class AnswerExport:
    """The answers of a consultation, one row per response, in two faces of the same rows: ``columns``/``rows``
    for programs (machine header row, codes, ISO times with offset) and ``headers_zh``/``people`` for people
    (Chinese headers and names, wall times in the service's zone)."""

    consultation: ConsultationRow
    community_name: str
    exported_at: datetime  # in the service's zone
    columns: list[str]
    rows: list[list[Any]]
    headers_zh: list[str]
    people: list[list[Any]]


async def export_table(
    read: ReadOnlyUnitOfWork, principal: Principal, consultation_id: uuid.UUID, *, now: datetime, tz: tzinfo
) -> AnswerExport:
    """Every response with its household's place (community and building, ids beside names), never a name or
    a phone number of a person."""
    async with read:
        row = await load_consultation(ConsultationRepository(read.session), consultation_id)
        ensure_staff_covers_consultation(principal, row)
        community = await load_community(CommunityRepository(read.session), row.community_id)
        questions = setup_of(row).questionnaire.questions
        groups = AgeGroups(row.age_middle_from, row.age_elderly_from)
        year = (row.closed_at or now).year
        rows, people = [], []
        for r in await ResponseRepository(read.session).export_rows(row.id):
            fixed = {
                "response_id": str(r.response_id),
                "household_id": str(r.household_id),
                "community_id": str(row.community_id),
                "community_name": community.name,
                "building_id": str(r.building_id),
                "building": r.building,
                "building_name": building_name(r.building),
                "unit": r.unit,
                "room": r.room,
                "floor_area_m2": r.floor_area_m2,
                "resident_id": str(r.resident_id) if r.resident_id else None,
                "age_group": groups.group(r.birth_year, year),
                "channel": r.channel,
                "interviewed": "yes" if r.interviewer else "no",  # the interviewer's id stays in the audit trail
                "answered_at": r.answered_at.astimezone(tz),
                "version": r.version,
            }
            rows.append(machine_row(questions, fixed, r.answers, r.suggestion))
            people.append(people_row(questions, fixed, r.answers, r.suggestion))
        exported_at = now.astimezone(tz)
        return AnswerExport(
            consultation=row,
            community_name=community.name,
            exported_at=exported_at,
            columns=export_columns(questions),
            rows=rows,
            headers_zh=export_headers_zh(questions, zone_name(exported_at)),
            people=people,
        )


async def demand_chart(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    consultation_id: uuid.UUID,
    question_id: str | None,
    *,
    now: datetime,
) -> str:
    async with read:
        row = await load_consultation(ConsultationRepository(read.session), consultation_id)
        await ensure_can_read(HouseholdRepository(read.session), principal, row, results=True)
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
            row, await compute(TallyRepository(read.session), row, final=False, year=now.year), now
        )
        series = {g: v["questions"].get(q.id, {}) for g, v in doc["by_age_group"].items()}
        return demand_chart_svg(f"{row.title}: {q.text}", q, series)
