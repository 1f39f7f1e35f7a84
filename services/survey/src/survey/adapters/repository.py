"""SQL of the survey service (the only place that speaks to the database)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from survey.adapters.orm import (
    BuildingRow,
    CommunityRow,
    ConsultationRow,
    HouseholdAnswerCountRow,
    HouseholdRow,
    RankingRow,
    RegistryAuditRow,
    ResidentRow,
    ResponseAuditRow,
    ResponseRow,
    StreetRow,
    TallyRow,
)
from survey.domain.registry import HouseholdSpec
from survey.domain.tallies import Registry, Tallies


class HouseholdFacts(NamedTuple):
    id: uuid.UUID
    community_id: uuid.UUID
    floor_area_m2: Decimal
    code: str


class StoredSubmission(NamedTuple):
    submission_id: uuid.UUID
    body_hash: str
    status_code: int
    result: dict[str, Any]


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _driver(self) -> Any:
        """The transaction's asyncpg connection, for the write path's hottest statements (SQLAlchemy's statement
        building and result processing were 42 % of a write's CPU). Only after a statement through the session
        has begun the transaction; fixed SQL, parameters bound by the driver."""
        conn = await self.session.connection()
        raw = await conn.get_raw_connection()
        return raw.driver_connection

    # -- registry --------------------------------------------------------------------------------------------
    async def street(self, street_id: str) -> StreetRow | None:
        return await self.session.get(StreetRow, street_id)

    async def record_street(self, street_id: str, district_id: str, recorded_by: str) -> StreetRow:
        """The street's record: this one if it is new, else the one a concurrent caller recorded first."""
        await self.session.execute(
            pg_insert(StreetRow)
            .values(id=street_id, district_id=district_id, recorded_by=recorded_by)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return (await self.session.scalars(sa.select(StreetRow).where(StreetRow.id == street_id))).one()

    async def community(self, community_id: uuid.UUID, *, for_update: bool = False) -> CommunityRow | None:
        return await self.session.get(CommunityRow, community_id, with_for_update=for_update)

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def household_count(self, community_id: uuid.UUID) -> int:
        stmt = sa.select(sa.func.count()).select_from(HouseholdRow).where(HouseholdRow.community_id == community_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def ensure_buildings(self, community_id: uuid.UUID, codes: set[str]) -> dict[str, uuid.UUID]:
        if codes:
            await self.session.execute(
                pg_insert(BuildingRow)
                .values([{"id": uuid.uuid4(), "community_id": community_id, "code": c} for c in sorted(codes)])
                .on_conflict_do_nothing(index_elements=["community_id", "code"])
            )
        rows = await self.session.execute(
            sa.select(BuildingRow.code, BuildingRow.id).where(
                BuildingRow.community_id == community_id, BuildingRow.code.in_(codes)
            )
        )
        return {code: bid for code, bid in rows.all()}

    async def insert_households(
        self, community_id: uuid.UUID, specs: Sequence[HouseholdSpec], buildings: dict[str, uuid.UUID]
    ) -> dict[tuple[str, str, str], uuid.UUID]:
        """Insert; rows that already exist (same building/unit/room) are skipped. Returns key → new id."""
        if not specs:
            return {}
        values = [
            {
                "id": uuid.uuid4(),
                "community_id": community_id,
                "building_id": buildings[s.building],
                "unit": s.unit,
                "room": s.room,
                "floor_area_m2": s.floor_area,
                "owner_name": s.owner_name,
                "owner_phone": s.owner_phone,
            }
            for s in specs
        ]
        created: dict[tuple[str, str, str], uuid.UUID] = {}
        code_of = {bid: code for code, bid in buildings.items()}
        for chunk in _chunks(values, 1000):
            result = await self.session.execute(
                pg_insert(HouseholdRow)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["building_id", "unit", "room"])
                .returning(HouseholdRow.id, HouseholdRow.building_id, HouseholdRow.unit, HouseholdRow.room)
            )
            for hid, bid, unit, room in result.all():
                created[(code_of[bid], unit, room)] = hid
        return created

    async def insert_residents(self, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows, 2000):
            await self.session.execute(sa.insert(ResidentRow), chunk)

    async def replace_residents(self, household_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.delete(ResidentRow).where(ResidentRow.household_id == household_id))
        if rows:
            await self.insert_residents(rows)

    async def audit_registry(self, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows, 2000):
            await self.session.execute(sa.insert(RegistryAuditRow), chunk)

    async def household(self, household_id: uuid.UUID, *, for_update: bool = False) -> HouseholdRow | None:
        return await self.session.get(HouseholdRow, household_id, with_for_update=for_update)

    async def building_code(self, building_id: uuid.UUID) -> str:
        return str(
            (await self.session.execute(sa.select(BuildingRow.code).where(BuildingRow.id == building_id))).scalar_one()
        )

    async def residents(self, household_ids: Sequence[uuid.UUID]) -> list[ResidentRow]:
        if not household_ids:
            return []
        stmt = (
            sa.select(ResidentRow)
            .where(ResidentRow.household_id.in_(household_ids))
            .order_by(ResidentRow.household_id, ResidentRow.birth_year, ResidentRow.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def households_page(
        self, community_id: uuid.UUID, after: tuple[str, str, str, str] | None, limit: int
    ) -> list[tuple[HouseholdRow, str]]:
        key = sa.tuple_(BuildingRow.code, HouseholdRow.unit, HouseholdRow.room, sa.cast(HouseholdRow.id, sa.String))
        stmt = (
            sa.select(HouseholdRow, BuildingRow.code)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .where(HouseholdRow.community_id == community_id)
            .order_by(BuildingRow.code, HouseholdRow.unit, HouseholdRow.room, sa.cast(HouseholdRow.id, sa.String))
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(key > sa.tuple_(*(sa.literal(v) for v in after)))
        return [(h, code) for h, code in (await self.session.execute(stmt)).all()]

    async def household_facts(self, community_id: uuid.UUID) -> list[tuple[uuid.UUID, str, Decimal]]:
        stmt = (
            sa.select(HouseholdRow.id, BuildingRow.code, HouseholdRow.floor_area_m2)
            .join(BuildingRow, BuildingRow.id == HouseholdRow.building_id)
            .where(HouseholdRow.community_id == community_id)
        )
        return [(hid, code, area) for hid, code, area in (await self.session.execute(stmt)).all()]

    # -- consultations ---------------------------------------------------------------------------------------
    async def communities_page(self, equals: dict[str, Any], after: uuid.UUID | None, limit: int) -> list[CommunityRow]:
        """A page of communities whose columns equal ``equals`` (``None``: no filter), by id after the cursor."""
        stmt = sa.select(CommunityRow).order_by(CommunityRow.id).limit(limit)
        for column, value in equals.items():
            if value is not None:
                stmt = stmt.where(getattr(CommunityRow, column) == value)
        if after is not None:
            stmt = stmt.where(CommunityRow.id > after)
        return list(await self.session.scalars(stmt))

    async def consultations_page(
        self, equals: dict[str, Any], states: Sequence[str] | None, after: uuid.UUID | None, limit: int
    ) -> list[ConsultationRow]:
        """A page of consultations whose columns equal ``equals`` and in ``states``, by id after the cursor."""
        stmt = sa.select(ConsultationRow).order_by(ConsultationRow.id).limit(limit)
        for column, value in equals.items():
            if value is not None:
                stmt = stmt.where(getattr(ConsultationRow, column) == value)
        if states is not None:
            stmt = stmt.where(ConsultationRow.state.in_(list(states)))
        if after is not None:
            stmt = stmt.where(ConsultationRow.id > after)
        return list(await self.session.scalars(stmt))

    async def consultation(self, consultation_id: uuid.UUID, *, lock: str | None = None) -> ConsultationRow | None:
        stmt = sa.select(ConsultationRow).where(ConsultationRow.id == consultation_id)
        if lock == "update":
            stmt = stmt.with_for_update()
        elif lock == "share":
            stmt = stmt.with_for_update(read=True)
        return (await self.session.scalars(stmt)).one_or_none()

    async def due_consultations(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Open consultations whose answer window has ended (``closes_at <= now``: the window accepts answers
        only while ``now < closes_at``), earliest first."""
        stmt = (
            sa.select(ConsultationRow.id)
            .where(ConsultationRow.state == "open", ConsultationRow.closes_at <= now)
            .order_by(ConsultationRow.closes_at, ConsultationRow.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def lock_answers(self, consultation_id: uuid.UUID, *, exclusive: bool) -> None:
        """Transaction-scoped advisory lock on the consultation's answers: submissions take it shared (they run
        side by side), closing takes it exclusive (waits for submissions in flight and keeps new ones out until
        it commits). Cheaper than FOR SHARE row locks, which turn into multixacts under concurrency."""
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self.session.execute(
            sa.text(f"select {fn}(hashtextextended(:key, 0))"), {"key": f"survey.answers:{consultation_id}"}
        )

    async def passed_willingness(self, district_id: str, batch: str | None) -> list[ConsultationRow]:
        stmt = sa.select(ConsultationRow).where(
            ConsultationRow.district_id == district_id,
            ConsultationRow.kind == "willingness",
            ConsultationRow.outcome == "passed",
            ConsultationRow.state.in_(("closed", "published")),
        )
        if batch is not None:
            stmt = stmt.where(ConsultationRow.batch == batch)
        return list((await self.session.scalars(stmt)).all())

    # -- responses (set-based: a batch of 500 offline submissions is a handful of statements) ----------------
    async def household_communities(self, household_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        if not household_ids:
            return {}
        stmt = sa.select(HouseholdRow.id, HouseholdRow.community_id).where(HouseholdRow.id.in_(household_ids))
        return {hid: cid for hid, cid in (await self.session.execute(stmt)).all()}

    async def answering_households(self, household_ids: set[uuid.UUID]) -> dict[uuid.UUID, HouseholdFacts]:
        """Community, floor area and building code of each household, share-locked until commit: a concurrent
        change of its area or residents waits for this write (and then moves its tallies), or this write waits
        for it and counts the new facts."""
        if not household_ids:
            return {}
        rows = await (await self._driver()).fetch(
            "select h.id, h.community_id, h.floor_area_m2, b.code from households h "
            "join buildings b on b.id = h.building_id where h.id = any($1::uuid[]) order by h.id for share of h",
            list(household_ids),
        )
        return {r[0]: HouseholdFacts(r[0], r[1], r[2], r[3]) for r in rows}

    async def birth_years(self, household_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
        """household id -> {resident id: birth year} for every resident of these households."""
        if not household_ids:
            return {}
        rows = await (await self._driver()).fetch(
            "select household_id, id, birth_year from residents where household_id = any($1::uuid[])",
            list(household_ids),
        )
        out: dict[uuid.UUID, dict[uuid.UUID, int]] = {h: {} for h in household_ids}
        for hid, rid, year in rows:
            out[hid][rid] = year
        return out

    # -- tallies -------------------------------------------------------------------------------------------------
    async def apply_tallies(
        self, consultation_id: uuid.UUID, change: Tallies, *, touch: tuple[tuple[str, str], ...] = ()
    ) -> dict[tuple[str, str], int]:
        """Add ``change`` to the consultation's tallies, atomically per row (``n = n + excluded.n``) and in key
        order (concurrent writers lock rows in one order). Returns the new count of every row touched (rows in
        ``touch`` are touched even when they do not change)."""
        zero = (0, Decimal(0))
        entries = dict(change) | {k: change.get(k, zero) for k in touch}
        if not entries:
            return {}
        rows = [
            {"consultation_id": consultation_id, "metric": m, "key": k, "n": n, "amount": a}
            for (m, k), (n, a) in sorted(entries.items())
        ]
        t = TallyRow.__table__
        out: dict[tuple[str, str], int] = {}
        for chunk in _chunks(rows, 3000):
            stmt = pg_insert(t).values(chunk)
            stmt = stmt.on_conflict_do_update(
                index_elements=["consultation_id", "metric", "key"],
                set_={"n": t.c.n + stmt.excluded.n, "amount": t.c.amount + stmt.excluded.amount},
            ).returning(t.c.metric, t.c.key, t.c.n)
            out.update({(m, k): n for m, k, n in (await self.session.execute(stmt)).all()})
        return out

    async def add_tally_deltas(self, consultation_id: uuid.UUID, change: Tallies) -> None:
        """Queue ``change`` for this transaction's commit (``TallyDeltaRow``), in key order: one INSERT, no lock
        on the shared tally rows until COMMIT."""
        await self.add_tally_deltas_and_count(consultation_id, None, change)

    async def add_tally_deltas_and_count(
        self, consultation_id: uuid.UUID, community_id: uuid.UUID | None, change: Tallies
    ) -> tuple[int, int]:
        """:meth:`add_tally_deltas`, and in the same round trip (committed answers of the consultation,
        households of the community) from the counters — what a count(*) would have seen."""
        keys = sorted(change)
        row = await (await self._driver()).fetchrow(
            _ADD_DELTAS_AND_COUNT,
            consultation_id,
            community_id,
            [m for m, _ in keys],
            [k for _, k in keys],
            [change[k][0] for k in keys],
            [change[k][1] for k in keys],
        )
        return int(row[0] or 0), int(row[1] or 0)

    async def count_household_answers(
        self, consultation_id: uuid.UUID, deltas: dict[uuid.UUID, int]
    ) -> dict[uuid.UUID, tuple[int, int]]:
        """Per-resident surveys: add to each household's answer count; returns household -> (before, after)."""
        deltas = {h: d for h, d in deltas.items() if d}
        if not deltas:
            return {}
        t = HouseholdAnswerCountRow.__table__
        stmt = pg_insert(t).values(
            [{"consultation_id": consultation_id, "household_id": h, "n": d} for h, d in sorted(deltas.items())]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["consultation_id", "household_id"], set_={"n": t.c.n + stmt.excluded.n}
        ).returning(t.c.household_id, t.c.n)
        return {h: (n - deltas[h], n) for h, n in (await self.session.execute(stmt)).all()}

    async def tallies(self, consultation_id: uuid.UUID) -> Tallies:
        stmt = sa.select(TallyRow.metric, TallyRow.key, TallyRow.n, TallyRow.amount).where(
            TallyRow.consultation_id == consultation_id
        )
        out = Tallies()
        for metric, key, n, amount in (await self.session.execute(stmt)).all():
            if n or amount:
                out[(metric, key)] = (int(n), Decimal(amount))
        return out

    async def replace_tallies(
        self, consultation_id: uuid.UUID, tallies: Tallies, household_answers: dict[uuid.UUID, int]
    ) -> None:
        """Repair: the consultation's tallies become ``tallies`` (a full recount); the caller holds the answers
        lock exclusively."""
        await self.session.execute(sa.delete(TallyRow).where(TallyRow.consultation_id == consultation_id))
        await self.session.execute(
            sa.delete(HouseholdAnswerCountRow).where(HouseholdAnswerCountRow.consultation_id == consultation_id)
        )
        await self.apply_tallies(consultation_id, tallies)
        if household_answers:
            await self.count_household_answers(consultation_id, household_answers)

    async def household_answer_counts(self, consultation_id: uuid.UUID) -> dict[uuid.UUID, int]:
        stmt = sa.select(HouseholdAnswerCountRow.household_id, HouseholdAnswerCountRow.n).where(
            HouseholdAnswerCountRow.consultation_id == consultation_id, HouseholdAnswerCountRow.n != 0
        )
        return {h: int(n) for h, n in (await self.session.execute(stmt)).all()}

    async def result_inputs(
        self, consultation_id: uuid.UUID, community_id: uuid.UUID, suggestions: int
    ) -> tuple[Registry, Tallies, list[str]]:
        """What a result is computed from, in one round trip: the consultation's tallies, the community's
        household and area counters, its households per building, and its first ``suggestions`` suggestions
        (partial index). No answer and no household is read."""
        rows = await (await self._driver()).fetch(_RESULT_INPUTS, consultation_id, community_id, suggestions)
        t = Tallies()
        per_building: dict[str, int] = {}
        households, area = 0, Decimal(0)
        texts: list[tuple[int, str]] = []
        for part, key, n, amount in rows:
            if part == "t":
                metric, _, k = key.partition("\x1e")
                if n or amount:
                    t[(metric, k)] = (int(n), Decimal(amount))
            elif part == "b":
                per_building[key] = int(n)
            elif part == "c":
                households, area = int(n), Decimal(amount)
            else:
                texts.append((int(n), key))
        texts.sort()
        return Registry(households, area, per_building), t, [x for _, x in texts if x]

    async def registry_totals(self, community_id: uuid.UUID) -> Registry:
        """The community's household and area counters and its households per building (no household is read)."""
        c = (
            await self.session.execute(
                sa.select(CommunityRow.household_count, CommunityRow.floor_area_m2).where(
                    CommunityRow.id == community_id
                )
            )
        ).one()
        per_building = (
            await self.session.execute(
                sa.select(BuildingRow.code, BuildingRow.household_count).where(
                    BuildingRow.community_id == community_id, BuildingRow.household_count > 0
                )
            )
        ).all()
        return Registry(int(c.household_count), Decimal(c.floor_area_m2), {code: int(n) for code, n in per_building})

    async def suggestions(self, consultation_id: uuid.UUID, limit: int) -> list[str]:
        stmt = (
            sa.select(ResponseRow.suggestion)
            .where(ResponseRow.consultation_id == consultation_id, ResponseRow.suggestion.is_not(None))
            .order_by(ResponseRow.created_at, ResponseRow.id)
            .limit(limit)
        )
        return [s for s in (await self.session.scalars(stmt)).all() if s]

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

    async def consultations(self, ids: set[uuid.UUID]) -> list[ConsultationRow]:
        if not ids:
            return []
        stmt = sa.select(ConsultationRow).where(ConsultationRow.id.in_(ids)).order_by(ConsultationRow.id)
        return list((await self.session.scalars(stmt)).all())

    async def count_registry(
        self, community_id: uuid.UUID, households: int, area: Decimal, per_building: dict[uuid.UUID, int]
    ) -> None:
        """Add to the community's and its buildings' counters (household insert, area change)."""
        await self.session.execute(
            sa.update(CommunityRow)
            .where(CommunityRow.id == community_id)
            .values(
                household_count=CommunityRow.household_count + households,
                floor_area_m2=CommunityRow.floor_area_m2 + area,
            )
        )
        if per_building:
            t = BuildingRow.__table__
            await self.session.execute(
                sa.update(t)
                .where(t.c.id == sa.bindparam("b_id"))
                .values(household_count=t.c.household_count + sa.bindparam("b_n")),
                [{"b_id": b, "b_n": n} for b, n in sorted(per_building.items())],
            )

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

    async def responses_by_keys(
        self, consultation_id: uuid.UUID, keys: set[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[uuid.UUID, int]]:
        if not keys:
            return {}
        stmt = sa.select(ResponseRow.respondent_key, ResponseRow.id, ResponseRow.version).where(
            ResponseRow.consultation_id == consultation_id, ResponseRow.respondent_key.in_(keys)
        )
        return {key: (rid, version) for key, rid, version in (await self.session.execute(stmt)).all()}

    async def audit_responses(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        await self._insert_many("response_audit", _AUDIT_COLUMNS, rows)

    async def _insert_many(
        self, table: str, columns: dict[str, str], rows: list[dict[str, Any]], suffix: str = ""
    ) -> list[Any]:
        """One INSERT of every row, in the given order (``unnest`` of one array per column, ``WITH ORDINALITY``),
        on the driver: the order concurrent writers lock rows in, and the order of an audit trail."""
        if not rows:
            return []
        cols = ", ".join(columns)
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(columns.values()))
        sql = (
            f"insert into {table} ({cols}) select {cols} from unnest({arrays}) with ordinality as u({cols}, i) "
            f"order by i {suffix}"
        )
        params = [[_db_value(t, r.get(c)) for r in rows] for c, t in columns.items()]
        return list(await (await self._driver()).fetch(sql, *params))

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

    async def add_ranking(self, row: RankingRow) -> None:
        self.session.add(row)
        await self.session.flush()

    async def closed_before(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
        stmt = sa.select(ConsultationRow.id, ConsultationRow.closed_at).where(ConsultationRow.id.in_(ids))
        return {i: t for i, t in (await self.session.execute(stmt)).all()}


# rows in array order (key order: the deferred trigger applies them in insertion order, so concurrent commits
# lock the shared tally rows in one order)
_ADD_DELTAS_AND_COUNT = """
    with queued as (
        insert into consultation_tally_deltas (consultation_id, metric, key, n, amount)
        select $1::uuid, d.metric, d.key, d.n, d.amount
        from unnest($3::text[], $4::text[], $5::bigint[], $6::numeric[]) with ordinality as d(metric, key, n, amount, i)
        order by d.i
        returning 1
    )
    select (select n from consultation_tallies
             where consultation_id = $1::uuid and metric = 'responses' and key = '') as responses,
           (select household_count from communities where id = $2::uuid) as households,
           (select count(*) from queued) as queued
"""
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


def _db_value(pg_type: str, value: Any) -> Any:
    if pg_type == "jsonb":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


# ``metric`` and ``key`` travel joined by U+001E (neither holds it: metrics are constants, keys join question
# ids and options with U+001F)
_RESULT_INPUTS = """
    select 't' as part, metric || chr(30) || key as key, n, amount
      from consultation_tallies where consultation_id = $1::uuid
    union all
    select 'b', code, household_count, 0 from buildings
     where community_id = $2::uuid and household_count > 0
    union all
    select 'c', '', household_count, floor_area_m2 from communities where id = $2::uuid
    union all
    select 's', s.suggestion, s.rn, 0 from (
        select suggestion, row_number() over (order by created_at, id) as rn from responses
         where consultation_id = $1::uuid and suggestion is not null
         order by created_at, id limit $3
    ) s
"""


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _respondent_sources() -> tuple[Any, Any]:
    """What a respondent's birth year is read from: the answering resident (``own``, joined on the response's
    ``resident_id``), else the household's oldest resident (``oldest``, joined on its ``household_id``)."""
    oldest = (
        sa.select(ResidentRow.household_id, sa.func.min(ResidentRow.birth_year).label("birth_year"))
        .group_by(ResidentRow.household_id)
        .subquery()
    )
    return sa.orm.aliased(ResidentRow), oldest
