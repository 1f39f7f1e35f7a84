"""Answers (set-based: a batch of 500 offline submissions is a handful of statements), submissions and
the answers' audit trail."""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from survey.adapters.orm import BuildingRow, HouseholdRow, ResidentRow, ResponseAuditRow, ResponseRow
from survey.adapters.repositories._base import SqlRepository


class StoredSubmission(NamedTuple):
    submission_id: uuid.UUID
    body_hash: str
    status_code: int
    result: dict[str, Any]


class ResponseRepository(SqlRepository):
    """Submissions, answers and their audit trail; the answers read back for a recount or an export."""

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
