"""Answers (set-based: a batch of 500 offline submissions is a handful of statements), submissions and
the answers' audit trail."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from renovation_common.db import outbox_insert_sql
from survey.adapters.orm import (
    BuildingRow,
    ConsultationRow,
    HouseholdRow,
    ResidentRow,
    ResponseAuditRow,
    ResponseRow,
)
from survey.adapters.repositories._base import SqlRepository
from survey.adapters.repositories.tallies import electorate_households
from survey.domain import tallies
from survey.domain.tallies import Tallies


class StoredSubmission(NamedTuple):
    submission_id: uuid.UUID
    body_hash: str
    status_code: int
    result: dict[str, Any]


class AnsweringHousehold(NamedTuple):
    id: uuid.UUID
    community_id: uuid.UUID
    floor_area_m2: Decimal
    code: str


class AnswerContext(NamedTuple):
    consultation: ConsultationRow
    households: dict[uuid.UUID, AnsweringHousehold]
    residents: dict[uuid.UUID, dict[uuid.UUID, int]]  # household -> resident -> birth year
    submissions: dict[uuid.UUID, StoredSubmission]
    versions: dict[uuid.UUID, str] | None = None  # read without locks: row version of the consultation, households


class AnswerChanged(Exception):
    """:meth:`ResponseRepository.record_new_answer_at_once` wrote nothing: what was read without locks changed,
    the submission id was claimed first, or the respondent has an answer already — the general path decides."""


class NewResponse(NamedTuple):
    """What :meth:`ResponseRepository.record_new_response` reports."""

    claimed: bool  # False: a concurrent transaction claimed the submission id first (nothing written)
    inserted: bool  # False: the respondent has an answer already (only the claim is written)
    responses: int  # the consultation's committed answers (the tally row), before this one
    households: int  # the community's households


class ResponseRepository(SqlRepository):
    """Submissions, answers and their audit trail; the answers read back for a recount or an export."""

    async def answer_context(
        self, consultation_id: uuid.UUID, household_ids: set[uuid.UUID], submission_ids: set[uuid.UUID]
    ) -> AnswerContext | None:
        """The first statement of a write of answers, one round trip (``survey_answer_context``, migration 0012):
        the consultation's answers lock, shared (as ``ConsultationRepository.lock_answers``), then these
        households share-locked in id order (as ``answering_households``), then — in a new snapshot, taken with
        the locks held — the consultation, its households' community, floor area and building code, their
        residents' birth years and the stored submissions of these ids; ``None`` when there is no such
        consultation."""
        row = await (await self._driver()).fetchrow(
            "select * from survey_answer_context($1::uuid, $2::uuid[], $3::uuid[])",
            consultation_id,
            list(household_ids),
            list(submission_ids),
        )
        if row is None:
            return None
        return _context(row, household_ids, "o_")

    async def unlocked_answer_context(
        self, consultation_id: uuid.UUID, household_id: uuid.UUID, submission_id: uuid.UUID
    ) -> AnswerContext | None:
        """What :meth:`answer_context` reads, for one household and one submission id, without locks and outside a
        transaction (a statement of its own), with the row versions of the consultation and the household: what
        :meth:`record_new_answer_at_once` checks are unchanged once it holds the locks."""
        row = await (await self._driver(begin=False)).fetchrow(
            _ANSWER_FACTS, consultation_id, [household_id], [submission_id]
        )
        if row is None:
            return None
        context = _context(row, {household_id}, "")
        versions = {consultation_id: row["version"]} | {uuid.UUID(h): v for h, v in _decoded(row["versions"]) or ()}
        return context._replace(versions=versions)

    async def record_new_answer_at_once(
        self,
        community_id: uuid.UUID,
        response: dict[str, Any],
        audit: dict[str, Any],
        body_hash: str,
        result: dict[str, Any],
        change: Tallies,
        event: tuple[str, str, str, str],
        facts: tuple[str, str, str, dict[uuid.UUID, int]],
    ) -> None:
        """A household survey's single new answer as one statement that is its own transaction
        (``survey_record_new_answer``, migration 0012, and the event's outbox row): the locks, the check that
        ``facts`` — the consultation's and the household's row versions, the building's code and the residents'
        birth years read by :meth:`unlocked_answer_context` — are unchanged, the claim (storing ``result``), the
        answer, its audit row, the tally deltas and the event with the counts read under the locks. Raises
        :class:`AnswerChanged` when it wrote nothing."""
        consultation_version, household_version, building, years = facts
        keys = sorted(change)
        r = response
        try:
            await (await self._driver(begin=False)).fetchrow(
                _RECORD_NEW_ANSWER_AT_ONCE,
                r["consultation_id"],
                consultation_version,
                r["household_id"],
                household_version,
                building,
                _json([[str(k), years[k]] for k in sorted(years)]),
                community_id,
                r["last_submission_id"],
                body_hash,
                _json(result),
                r["id"],
                r["resident_id"],
                r["respondent_key"],
                _json(r["answers"]),
                r["suggestion"],
                r["channel"],
                r["interviewer"],
                r["answered_at"],
                audit["suggestion"],
                audit["actor_sub"],
                audit["actor_role"],
                [m for m, _ in keys],
                [k for _, k in keys],
                [change[k][0] for k in keys],
                [change[k][1] for k in keys],
                *event,
                change.n(tallies.RESPONSES),
            )
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in ("SV001", "SV002", "SV003"):
                raise AnswerChanged(exc.sqlstate) from None
            raise

    async def households_and_submissions(
        self, household_ids: set[uuid.UUID], submission_ids: set[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, AnsweringHousehold], dict[uuid.UUID, StoredSubmission]]:
        """In one round trip: community, floor area and building code of each household, share-locked until commit
        (a concurrent change of its area or residents waits for this write, then moves its tallies; or this write
        waits for it and counts the new facts: the residents are read by a later statement), and the stored
        submissions of these ids."""
        rows = await (await self._driver()).fetch(
            _HOUSEHOLDS_AND_SUBMISSIONS, list(household_ids), list(submission_ids)
        )
        households: dict[uuid.UUID, AnsweringHousehold] = {}
        known: dict[uuid.UUID, StoredSubmission] = {}
        for part, rid, community_id, area, text, code, result in rows:
            if part == "h":
                households[rid] = AnsweringHousehold(rid, community_id, area, text)
            else:
                known[rid] = StoredSubmission(rid, text, code, result)
        return households, known

    async def record_new_response(
        self,
        community_id: uuid.UUID,
        response: dict[str, Any],
        audit: dict[str, Any],
        body_hash: str,
        result: dict[str, Any],
        change: Tallies,
        event: tuple[str, str, str, str],
    ) -> NewResponse:
        """One submission of a respondent without an answer, in one statement: claim the submission id (storing
        ``result``, the 201 it answers), insert the answer, its audit row, the tallies' ``change`` (queued for
        the commit, in key order) and the outbox row of its ``survey.response.recorded.v1`` (``event``:
        ``renovation_common.db.outbox_values`` of the event, whose ``responses_count`` and ``households_total``
        the statement fills in from the counters it reads), and read those counters. When the id was claimed by a
        concurrent transaction nothing is written; when the respondent has an answer already only the claim is
        (the caller then overwrites the answer, completes the claim's result and publishes the event itself)."""
        keys = sorted(change)
        r = response
        row = await (await self._driver()).fetchrow(
            _RECORD_NEW_RESPONSE,
            r["last_submission_id"],
            r["consultation_id"],
            body_hash,
            _json(result),
            r["id"],
            r["household_id"],
            r["resident_id"],
            r["respondent_key"],
            _json(r["answers"]),
            r["suggestion"],
            r["channel"],
            r["interviewer"],
            r["answered_at"],
            audit["suggestion"],
            audit["actor_sub"],
            audit["actor_role"],
            [m for m, _ in keys],
            [k for _, k in keys],
            [change[k][0] for k in keys],
            [change[k][1] for k in keys],
            community_id,
            *event,
            change.n(tallies.RESPONSES),
        )
        return NewResponse(bool(row[0]), bool(row[1]), int(row[2] or 0), int(row[3] or 0))

    async def submissions(self, submission_ids: set[uuid.UUID]) -> dict[uuid.UUID, StoredSubmission]:
        if not submission_ids:
            return {}
        rows = await (await self._driver()).fetch(
            "select submission_id, body_hash, status_code, result from submissions "
            "where submission_id = any($1::uuid[])",
            list(submission_ids),
        )
        return {r[0]: StoredSubmission(r[0], r[1], r[2], r[3]) for r in rows}

    async def claim_submissions(self, consultation_id: uuid.UUID, hashes: dict[uuid.UUID, str]) -> set[uuid.UUID]:
        """Claim these submission ids (sorted, so concurrent batches lock them in one order); returns the ids
        this transaction now owns — an id claimed by a concurrent transaction waits for it, then is skipped."""
        if not hashes:
            return set()
        rows = [
            {"submission_id": sid, "consultation_id": consultation_id, "body_hash": h, "status_code": 0, "result": {}}
            for sid, h in sorted(hashes.items())
        ]
        found = await self._insert_many(
            "submissions", _SUBMISSION_COLUMNS, rows, "on conflict (submission_id) do nothing returning submission_id"
        )
        return {r[0] for r in found}

    async def complete_submissions(self, results: list[tuple[uuid.UUID, int, dict[str, Any]]]) -> None:
        if not results:
            return
        await (await self._driver()).execute(
            "update submissions s set status_code = r.code, result = r.result "
            "from unnest($1::uuid[], $2::smallint[], $3::jsonb[]) as r(id, code, result) "
            "where s.submission_id = r.id",
            [sid for sid, _, _ in results],
            [code for _, code, _ in results],
            [json.dumps(body, separators=(",", ":"), ensure_ascii=False) for _, _, body in results],
        )

    async def insert_new_responses(self, rows: list[dict[str, Any]]) -> dict[uuid.UUID, uuid.UUID]:
        """Insert the answers of respondents who have none yet (sorted by respondent key, so concurrent batches
        lock in one order). Returns respondent key -> id of the rows inserted; a key answered already (or by a
        concurrent transaction, which this one waits for) is left to :meth:`lock_responses` and
        :meth:`update_responses`."""
        if not rows:
            return {}
        found = await self._insert_many(
            "responses",
            _RESPONSE_COLUMNS,
            sorted(rows, key=lambda r: r["respondent_key"]),
            "on conflict (consultation_id, respondent_key) do nothing returning respondent_key, id",
        )
        return {key: rid for key, rid in found}

    async def lock_responses(self, consultation_id: uuid.UUID, keys: set[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
        """The stored answers of these respondents, locked until commit (``FOR UPDATE``, in key order): what an
        update replaces, so its tallies move from the old answer to the new one."""
        if not keys:
            return {}
        stmt = (
            sa.select(
                ResponseRow.respondent_key,
                ResponseRow.id,
                ResponseRow.version,
                ResponseRow.answered_at,
                ResponseRow.answers,
                ResponseRow.channel,
                ResponseRow.household_id,
                ResponseRow.resident_id,
            )
            .where(ResponseRow.consultation_id == consultation_id, ResponseRow.respondent_key.in_(keys))
            .order_by(ResponseRow.respondent_key)
            .with_for_update()
        )
        return {r.respondent_key: r for r in (await self.session.execute(stmt)).all()}

    async def update_responses(self, rows: list[dict[str, Any]]) -> None:
        """Overwrite locked answers (``rows`` carry ``b_id`` and the new values); version + 1."""
        if not rows:
            return
        table = ResponseRow.__table__
        stmt = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                resident_id=sa.bindparam("b_resident_id"),
                answers=sa.bindparam("b_answers", type_=JSONB),
                suggestion=sa.bindparam("b_suggestion"),
                channel=sa.bindparam("b_channel"),
                interviewer=sa.bindparam("b_interviewer"),
                answered_at=sa.bindparam("b_answered_at"),
                last_submission_id=sa.bindparam("b_submission_id"),
                version=table.c.version + 1,
                updated_at=sa.func.now(),
            )
        )
        await self.session.execute(stmt, rows)

    async def audit_responses(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        await self._insert_many("response_audit", _AUDIT_COLUMNS, rows)

    async def responses_of_household(self, consultation_id: uuid.UUID, household_id: uuid.UUID) -> list[ResponseRow]:
        stmt = (
            sa.select(ResponseRow)
            .where(ResponseRow.consultation_id == consultation_id, ResponseRow.household_id == household_id)
            .order_by(ResponseRow.created_at)
        )
        return list((await self.session.scalars(stmt)).all())

    async def audit_trail(self, consultation_id: uuid.UUID, household_id: uuid.UUID) -> list[ResponseAuditRow]:
        stmt = (
            sa.select(ResponseAuditRow)
            .where(ResponseAuditRow.consultation_id == consultation_id, ResponseAuditRow.household_id == household_id)
            .order_by(ResponseAuditRow.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def response_facts(self, consultation_id: uuid.UUID) -> list[sa.Row[Any]]:
        """Responses with the respondent's birth year (resident's, else the household's oldest resident's)."""
        own, oldest = _respondent_sources()
        stmt = (
            sa.select(
                ResponseRow.household_id,
                ResponseRow.answers,
                ResponseRow.suggestion,
                ResponseRow.channel,
                sa.func.coalesce(own.birth_year, oldest.c.birth_year).label("birth_year"),
            )
            .outerjoin(own, own.id == ResponseRow.resident_id)
            .outerjoin(oldest, oldest.c.household_id == ResponseRow.household_id)
            .where(ResponseRow.consultation_id == consultation_id)
            .order_by(ResponseRow.created_at, ResponseRow.id)
        )
        return list((await self.session.execute(stmt)).all())

    async def export_rows(self, consultation_id: uuid.UUID) -> list[sa.Row[Any]]:
        own, oldest = _respondent_sources()
        stmt = (
            sa.select(
                ResponseRow.id.label("response_id"),
                ResponseRow.household_id,
                HouseholdRow.building_id,
                BuildingRow.code.label("building"),
                HouseholdRow.unit,
                HouseholdRow.room,
                HouseholdRow.floor_area_m2,
                ResponseRow.resident_id,
                sa.func.coalesce(own.birth_year, oldest.c.birth_year).label("birth_year"),
                ResponseRow.channel,
                ResponseRow.interviewer,
                ResponseRow.answered_at,
                ResponseRow.version,
                ResponseRow.answers,
                ResponseRow.suggestion,
            )
            .join(HouseholdRow, HouseholdRow.id == ResponseRow.household_id)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .outerjoin(own, own.id == ResponseRow.resident_id)
            .outerjoin(oldest, oldest.c.household_id == ResponseRow.household_id)
            .where(ResponseRow.consultation_id == consultation_id)
            .order_by(BuildingRow.code, HouseholdRow.unit, HouseholdRow.room, ResponseRow.resident_id.nullsfirst())
        )
        return list((await self.session.execute(stmt)).all())

    async def answer_facts(self, consultation_id: uuid.UUID) -> list[sa.Row[Any]]:
        """Every stored answer with its household's current facts (the full recount: verification and repair)."""
        own, oldest = _respondent_sources()
        stmt = (
            sa.select(
                ResponseRow.household_id,
                ResponseRow.answers,
                ResponseRow.channel,
                HouseholdRow.floor_area_m2,
                BuildingRow.code,
                sa.func.coalesce(own.birth_year, oldest.c.birth_year).label("birth_year"),
            )
            .join(HouseholdRow, HouseholdRow.id == ResponseRow.household_id)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .outerjoin(own, own.id == ResponseRow.resident_id)
            .outerjoin(oldest, oldest.c.household_id == ResponseRow.household_id)
            .where(ResponseRow.consultation_id == consultation_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def answers_of_household(self, household_id: uuid.UUID) -> list[sa.Row[Any]]:
        """Every answer of one household, with its consultation (a registry change moves their tallies)."""
        stmt = (
            sa.select(ResponseRow.consultation_id, ResponseRow.answers, ResponseRow.channel, ResponseRow.resident_id)
            .where(ResponseRow.household_id == household_id)
            .order_by(ResponseRow.consultation_id, ResponseRow.id)
        )
        return list((await self.session.execute(stmt)).all())


def _context(row: Any, household_ids: set[uuid.UUID], prefix: str) -> AnswerContext:
    c = row[f"{prefix}consultation"]
    consultation = ConsultationRow(**{k: c[k] for k in _CONSULTATION_COLUMNS})
    households = {
        uuid.UUID(h): AnsweringHousehold(uuid.UUID(h), uuid.UUID(c), Decimal(a), code)
        for h, c, a, code in _decoded(row[f"{prefix}households"]) or ()
    }
    residents: dict[uuid.UUID, dict[uuid.UUID, int]] = {h: {} for h in household_ids}
    for h, r, year in _decoded(row[f"{prefix}residents"]) or ():
        residents[uuid.UUID(h)][uuid.UUID(r)] = int(year)
    known = {
        uuid.UUID(sid): StoredSubmission(uuid.UUID(sid), body_hash, int(code), result)
        for sid, body_hash, code, result in _decoded(row[f"{prefix}submissions"]) or ()
    }
    return AnswerContext(consultation, households, residents, known)


# what survey_answer_context reads (migration 0012), without its locks, with the rows' versions
_ANSWER_FACTS = """
    select c as consultation, c.xmin::text as version,
           (select json_agg(json_build_array(h.id, h.community_id, h.floor_area_m2::text, b.code))
              from households h join buildings b on b.id = h.building_id
             where h.id = any($2::uuid[])) as households,
           (select json_agg(json_build_array(h.id, h.xmin::text)) from households h
             where h.id = any($2::uuid[])) as versions,
           (select json_agg(json_build_array(r.household_id, r.id, r.birth_year))
              from residents r where r.household_id = any($2::uuid[])) as residents,
           (select json_agg(json_build_array(s.submission_id, s.body_hash, s.status_code, s.result))
              from submissions s where s.submission_id = any($3::uuid[])) as submissions
      from consultations c where c.id = $1::uuid
"""

_RECORD_NEW_ANSWER_AT_ONCE = """
    with w as (
        select * from survey_record_new_answer($1::uuid, $2::text, $3::uuid, $4::text, $5::text, $6::jsonb,
            $7::uuid, $8::uuid, $9::text, $10::jsonb, $11::uuid, $12::uuid, $13::uuid, $14::jsonb, $15::text,
            $16::text, $17::text, $18::timestamptz, $19::text, $20::text, $21::text, $22::text[], $23::text[],
            $24::bigint[], $25::numeric[])
    ), event as (
        %s
        returning 1
    )
    select w.o_responses, w.o_households, (select count(*) from event) as published from w
""" % outbox_insert_sql(  # noqa: UP031 (the statement holds braces of its own)
    26,
    # the event's counts as a count(*) in this transaction would see them: the committed answers and this one
    payload="jsonb_set(jsonb_set({payload}::jsonb, '{data,responses_count}', to_jsonb(w.o_responses + $30)),"
    " '{data,households_total}', to_jsonb(w.o_households))",
    source="from w",
)


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_CONSULTATION_COLUMNS = tuple(c.name for c in ConsultationRow.__table__.columns)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_HOUSEHOLDS_AND_SUBMISSIONS = """
    with h as (
        select h.id, h.community_id, h.floor_area_m2, b.code from households h
          join buildings b on b.id = h.building_id
         where h.id = any($1::uuid[]) order by h.id for share of h
    )
    select 'h' as part, id, community_id, floor_area_m2, code as text, null::smallint as code, null::jsonb as result
      from h
    union all
    select 's', submission_id, null, null, body_hash, status_code, result from submissions
     where submission_id = any($2::uuid[])
"""

# the claim stores the answer a created response gives; every later part runs only on what the one before
# returned (a lost claim writes nothing, a respondent answered already gets no second row, and no event)
_RECORD_NEW_RESPONSE = """
    with claim as (
        insert into submissions (submission_id, consultation_id, body_hash, status_code, result)
        values ($1::uuid, $2::uuid, $3::text, 201, $4::jsonb)
        on conflict (submission_id) do nothing
        returning submission_id
    ), answer as (
        insert into responses (id, consultation_id, household_id, resident_id, respondent_key, answers, suggestion,
                               channel, interviewer, answered_at, last_submission_id)
        select $5::uuid, $2::uuid, $6::uuid, $7::uuid, $8::uuid, $9::jsonb, $10::text, $11::text, $12::text,
               $13::timestamptz, $1::uuid
          from claim
        on conflict (consultation_id, respondent_key) do nothing
        returning id
    ), audit as (
        insert into response_audit (response_id, consultation_id, household_id, resident_id, submission_id, action,
                                    version, answers, suggestion, channel, interviewer, actor_sub, actor_role,
                                    answered_at)
        select answer.id, $2::uuid, $6::uuid, $7::uuid, $1::uuid, 'created', 1, $9::jsonb, $14::text, $11::text,
               $12::text, $15::text, $16::text, $13::timestamptz
          from answer
        returning 1
    ), queued as (
        insert into consultation_tally_deltas (consultation_id, metric, key, n, amount)
        select $2::uuid, d.metric, d.key, d.n, d.amount
          from answer,
               unnest($17::text[], $18::text[], $19::bigint[], $20::numeric[])
                 with ordinality as d(metric, key, n, amount, i)
         order by d.i
        returning 1
    ), counters as (
        select (select n from consultation_tallies
                 where consultation_id = $2::uuid and metric = 'responses' and key = '') as responses,
               {households} as households
    ), event as (
        %s
        returning 1
    )
    select (select count(*) from claim) as claimed,
           (select count(*) from answer) as inserted,
           counters.responses,
           counters.households,
           (select count(*) from audit) as audited,
           (select count(*) from queued) as queued,
           (select count(*) from event) as published
      from counters
""" % outbox_insert_sql(  # noqa: UP031 (the statement holds braces of its own)
    22,
    # the event's counts as a count(*) in this transaction would see them: the committed answers and this one
    payload="jsonb_set(jsonb_set({payload}::jsonb, '{data,responses_count}', to_jsonb(coalesce(c.responses, 0) + $26)),"
    " '{data,households_total}', to_jsonb(coalesce(c.households, 0)))",
    source="from answer, counters c",
)
_RECORD_NEW_RESPONSE = _RECORD_NEW_RESPONSE.replace("{households}", electorate_households("$2::uuid", "$21::uuid"))


_AUDIT_COLUMNS = {  # response_audit column -> Postgres type, for the unnest insert
    "response_id": "uuid",
    "consultation_id": "uuid",
    "household_id": "uuid",
    "resident_id": "uuid",
    "submission_id": "uuid",
    "action": "text",
    "version": "int",
    "answers": "jsonb",
    "suggestion": "text",
    "channel": "text",
    "interviewer": "text",
    "actor_sub": "text",
    "actor_role": "text",
    "answered_at": "timestamptz",
}


_SUBMISSION_COLUMNS = {
    "submission_id": "uuid",
    "consultation_id": "uuid",
    "body_hash": "text",
    "status_code": "smallint",
    "result": "jsonb",
}

_RESPONSE_COLUMNS = {
    "id": "uuid",
    "consultation_id": "uuid",
    "household_id": "uuid",
    "resident_id": "uuid",
    "respondent_key": "uuid",
    "answers": "jsonb",
    "suggestion": "text",
    "channel": "text",
    "interviewer": "text",
    "answered_at": "timestamptz",
    "last_submission_id": "uuid",
}


def _respondent_sources() -> tuple[Any, Any]:
    """What a respondent's birth year is read from: the answering resident (``own``, joined on the response's
    ``resident_id``), else the household's oldest resident (``oldest``, joined on its ``household_id``)."""
    oldest = (
        sa.select(ResidentRow.household_id, sa.func.min(ResidentRow.birth_year).label("birth_year"))
        .group_by(ResidentRow.household_id)
        .subquery()
    )
    return sa.orm.aliased(ResidentRow), oldest
