"""Results: computed from the incremental tallies (or, to verify, from every answer), the recount that
verifies and repairs the tallies, and the result document the API and the frozen result show."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.auth import Principal
from renovation_common.contracts.survey import MENU_CATALOG
from renovation_common.db import UnitOfWork
from renovation_common.versioned_cache import VersionedCache
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import (
    ConsultationRepository,
    HouseholdRepository,
    ResponseRepository,
    TallyRepository,
)
from survey.domain.results import AgeGroups, HouseholdFact, ResponseFact, Result, compute_result, headline_approval
from survey.domain.rules import fraction_str, percent
from survey.domain.tallies import Answer, Registry, Tallies, result_from_tallies, tallies_of
from survey.service_layer.consultations.access import ensure_staff_covers_consultation, load_consultation
from survey.service_layer.consultations.mapping import setup_of

MAX_SUGGESTIONS = 200


async def compute(repo: TallyRepository, row: ConsultationRow, *, final: bool, year: int) -> Result:
    """The result from the incremental tallies, the registry counters of its electorate (the community, or a
    building group's buildings) and the first suggestions: no answer is read."""
    registry, tallies, suggestions = await repo.result_inputs(row.id, MAX_SUGGESTIONS)
    return live_result(row, registry, tallies, suggestions, year=year, final=final)


def live_result(
    row: ConsultationRow,
    registry: Registry,
    tallies: Tallies,
    suggestions: list[str],
    *,
    year: int,
    final: bool = False,
) -> Result:
    """The result from inputs read already (:meth:`TallyRepository.consultation_and_result_inputs`)."""
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


async def compute_from_answers(session: AsyncSession, row: ConsultationRow, *, final: bool, year: int) -> Result:
    """The same result from every stored answer and household of its electorate (verification only: it reads
    them all)."""
    households = [
        HouseholdFact(str(h), code, area)
        for h, code, area in await HouseholdRepository(session).household_facts(row.community_id)
        if row.building_codes is None or code in row.building_codes
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


class ResultCache:
    """Each consultation's result document as the API sends it (JSON bytes, rendered and validated once), kept
    per process with the version of everything it was computed from (:meth:`TallyRepository.result_stamp`): the
    consultation's row, its community's registry row, its result version (every answer written bumps it inside
    its COMMIT, migration 0009) and, for a live result, the calendar year (age groups). A read serves it only for
    the version it has just read, so a result is exact at N replicas. Aggregates only, no personal data.

    A live result's ``computed_at`` is the read's time (the figures are exact as of it): the cached bytes stop
    before it and each read appends its own."""

    def __init__(self, render: Callable[[dict[str, Any]], bytes], max_entries: int = 1024) -> None:
        self._render = render
        self._documents: VersionedCache[uuid.UUID, tuple[bytes, bool]] = VersionedCache(max_entries)

    def get(self, consultation_id: uuid.UUID, version: Hashable, now: datetime) -> bytes | None:
        found = self._documents.get(consultation_id, version)
        if found is None:
            return None
        body, live = found
        return body + _computed_at(now) if live else body

    def put(self, consultation_id: uuid.UUID, version: Hashable, document: dict[str, Any], *, live: bool) -> bytes:
        """Render ``document`` (a live one: computed now), keep it, and return its bytes."""
        body = self._render(document)
        if live:
            cut = body.rfind(_COMPUTED_AT)
            if cut < 0 or not body.endswith(b"}"):
                raise ValueError("a result document ends with its computed_at")
            self._documents.put(consultation_id, version, (body[:cut], True))
        else:
            self._documents.put(consultation_id, version, (body, False))
        return body

    def __len__(self) -> int:
        return len(self._documents)


_COMPUTED_AT = b',"computed_at":'
_TIME = TypeAdapter(datetime)


def _computed_at(now: datetime) -> bytes:
    return _COMPUTED_AT + _TIME.dump_json(now) + b"}"
