"""The incremental tallies of each consultation and what a result is computed from."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from survey.adapters.orm import (
    BuildingRow,
    CommunityRow,
    ConsultationRow,
    HouseholdAnswerCountRow,
    TallyRow,
)
from survey.adapters.repositories._base import SqlRepository, chunks
from survey.domain.tallies import Registry, Tallies


@dataclass(frozen=True)
class ResultStamp:
    """A consultation's scope and state, the community of the caller's household (``None``: no household or
    another's), and the version of what its result is computed from (:meth:`TallyRepository.result_stamp`)."""

    community_id: uuid.UUID
    district_id: str
    street_id: str
    state: str
    final: bool
    household_community: uuid.UUID | None
    version: tuple[str, str, int]


class TallyRepository(SqlRepository):
    """Tally rows and deltas, per-household answer counts (per-resident surveys), result inputs."""

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
        for chunk in chunks(rows, 3000):
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
        # the tallies change outside the deltas' trigger: the result's version moves all the same (first, as the
        # trigger does: the version row before any tally row)
        await self.session.execute(sa.text("select survey_bump_result_version(:c)"), {"c": consultation_id})
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

    async def result_inputs(self, consultation_id: uuid.UUID, suggestions: int) -> tuple[Registry, Tallies, list[str]]:
        """What a result is computed from, in one round trip: the consultation's tallies, its electorate's
        household and area counters (:data:`_ELECTORATE`), its households per building, and its first
        ``suggestions`` suggestions (partial index). No answer is read."""
        rows = await (await self._driver()).fetch(_RESULT_INPUTS, consultation_id, suggestions)
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

    async def result_stamp(self, consultation_id: uuid.UUID, household_id: uuid.UUID | None) -> ResultStamp | None:
        """What a result read decides on before anything else, in one primary-key read: the consultation's scope
        and state, the community of the caller's household (a resident), and the version of everything its result
        is computed from. ``None``: no such consultation."""
        found = await (await self._driver()).fetchrow(_RESULT_STAMP, consultation_id, household_id)
        if found is None:
            return None
        return ResultStamp(
            community_id=found["community_id"],
            district_id=found["district_id"],
            street_id=found["street_id"],
            state=found["state"],
            final=found["final"],
            household_community=found["household_community"],
            version=(found["consultation_version"], found["registry_version"], found["result_version"]),
        )

    async def consultation_and_result_inputs(
        self, consultation_id: uuid.UUID, suggestions: int
    ) -> tuple[ConsultationRow, Registry, Tallies, list[str], tuple[str, str, int]] | None:
        """The consultation, what its live result is computed from (:meth:`result_inputs`) and their version (as
        :meth:`result_stamp` reads it), in one round trip; ``None`` when there is no such consultation. Nothing
        but the consultation is read once it holds its final result."""
        found = (
            await self.session.execute(
                _CONSULTATION_AND_RESULT_INPUTS, {"consultation_id": consultation_id, "suggestions": suggestions}
            )
        ).one_or_none()
        if found is None:
            return None
        values = found._mapping
        row = ConsultationRow(**{c: values[c] for c in _CONSULTATION_COLUMNS})  # plain columns: no ORM load
        tally_rows, building_rows = values["tally_rows"], values["building_rows"]
        households_count, area_m2, suggestion_texts = (
            values["households_count"],
            values["area_m2"],
            _decoded(values["suggestion_texts"]),
        )
        t = Tallies()
        for metric, key, n, amount in _decoded(tally_rows) or ():
            t[(metric, key)] = (int(n), Decimal(amount))
        registry = Registry(
            int(households_count or 0),
            Decimal(area_m2 or 0),
            {code: int(n) for code, n in _decoded(building_rows) or ()},
        )
        version = (values["consultation_version"], values["registry_version"], int(values["result_version"]))
        return row, registry, t, [x for x in suggestion_texts or () if x], version

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


# a consultation's electorate (``c``): the community's households and their exclusive floor area (its registry
# counters); a building group's own consultation (``building_codes``, migration 0008) counts only the households
# of its buildings — each building's counter, and their exact area
_ELECTORATE = """
    select m.household_count as households, m.floor_area_m2 as area
      from communities m where m.id = c.community_id and c.building_codes is null
    union all
    select (select coalesce(sum(b.household_count), 0) from buildings b
             where b.community_id = c.community_id and b.code in (select jsonb_array_elements_text(c.building_codes))),
           (select coalesce(sum(h.floor_area_m2), 0) from households h join buildings b on b.id = h.building_id
             where b.community_id = c.community_id and b.code in (select jsonb_array_elements_text(c.building_codes)))
     where c.building_codes is not null
"""


def electorate_households(consultation: str, community: str) -> str:
    """SQL of a consultation's electorate headcount (as :data:`_ELECTORATE` counts it: the community's households, or
    a building group's own consultation's households of its buildings), for the count a write's event carries;
    ``consultation`` and ``community`` are the SQL of their ids (a consultation of another community counts 0)."""
    return (
        "(select case when c.building_codes is null"
        " then (select m.household_count from communities m where m.id = c.community_id)"
        " else (select coalesce(sum(b.household_count), 0) from buildings b where b.community_id = c.community_id"
        " and b.code in (select jsonb_array_elements_text(c.building_codes))) end"
        f" from consultations c where c.id = {consultation} and c.community_id = {community})"
    )


# numbers that must stay exact travel as text inside the JSON; nothing but the consultation is read once it holds
# its final result
_CONSULTATION_AND_RESULT_INPUTS = sa.text(
    """
    select c.*,
           (select json_agg(json_build_array(t.metric, t.key, t.n, t.amount::text)) from consultation_tallies t
             where t.consultation_id = c.id and c.final_result is null and (t.n <> 0 or t.amount <> 0)
           ) as tally_rows,
           (select json_agg(json_build_array(b.code, b.household_count)) from buildings b
             where b.community_id = c.community_id and c.final_result is null and b.household_count > 0
               and (c.building_codes is null or b.code in (select jsonb_array_elements_text(c.building_codes)))
           ) as building_rows,
           e.households as households_count,
           e.area::text as area_m2,
           c.xmin::text as consultation_version,
           (select m.xmin::text from communities m where m.id = c.community_id) as registry_version,
           coalesce((select v.version from consultation_result_versions v where v.consultation_id = c.id), 0)
             as result_version,
           (select json_agg(s.suggestion order by s.created_at, s.id) from (
               select r.suggestion, r.created_at, r.id from responses r
                where r.consultation_id = c.id and c.final_result is null and r.suggestion is not null
                order by r.created_at, r.id limit :suggestions
           ) s) as suggestion_texts
      from consultations c
      left join lateral ("""
    + _ELECTORATE
    + """) e on c.final_result is null
     where c.id = :consultation_id
"""
)

_CONSULTATION_COLUMNS = tuple(c.name for c in ConsultationRow.__table__.columns)


def _json_rows(*columns: Any) -> Any:
    """The rows as one JSON array of arrays: one value to decode (``json.loads``), where an array of 300 records
    or 300 rows with a numeric each took asyncpg 1–2 ms."""
    return sa.type_coerce(sa.func.json_agg(sa.func.json_build_array(*columns)), sa.types.NullType())


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


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
           {households} as households,
           (select count(*) from queued) as queued
""".format(households=electorate_households("$1::uuid", "$2::uuid"))


# ``metric`` and ``key`` travel joined by U+001E (neither holds it: metrics are constants, keys join question
# ids and options with U+001F)
_RESULT_INPUTS = (
    """
    select 't' as part, metric || chr(30) || key as key, n, amount
      from consultation_tallies where consultation_id = $1::uuid
    union all
    select 'b', b.code, b.household_count, 0 from consultations c join buildings b on b.community_id = c.community_id
     where c.id = $1::uuid and b.household_count > 0
       and (c.building_codes is null or b.code in (select jsonb_array_elements_text(c.building_codes)))
    union all
    select 'c', '', e.households, e.area from consultations c cross join lateral ("""
    + _ELECTORATE
    + """) e
     where c.id = $1::uuid
    union all
    select 's', s.suggestion, s.rn, 0 from (
        select suggestion, row_number() over (order by created_at, id) as rn from responses
         where consultation_id = $1::uuid and suggestion is not null
         order by created_at, id limit $2
    ) s
"""
)

# one primary-key read: scope, state, the caller's household's community, and the versions of what the result is
# computed from — the consultation's row (definition, state, frozen result), the community's row (its registry
# counters change with every household added or re-measured: the electorate) and the result version (tallies,
# suggestions; migration 0009). A row's ``xmin`` changes with every committed update of it.
_RESULT_STAMP = """
    select c.community_id, c.district_id, c.street_id, c.state, c.final_result is not null as final,
           c.xmin::text as consultation_version, m.xmin::text as registry_version,
           coalesce((select v.version from consultation_result_versions v where v.consultation_id = c.id), 0)
             as result_version,
           (select h.community_id from households h where h.id = $2::uuid) as household_community
      from consultations c join communities m on m.id = c.community_id
     where c.id = $1::uuid
"""
