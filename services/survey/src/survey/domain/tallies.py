"""Incremental tallies: what one answer adds to a consultation's result, and the result read back from them.

A consultation's result is a sum over its answers. Each answer contributes a handful of counters (``Tallies``:
``(metric, key) -> (count, amount)``); a write adds the contribution of the new answer and subtracts the
contribution of the one it replaces, in its own transaction, so a result read sums nothing and a write counts
nothing. Amounts (floor areas in m², number answers) are exact ``Decimal``s; counts are integers.

Household-level figures (participation and approval by households and by area, per building, menu support) count
each household once. On a household survey every answer is its household's only one, so they come with the
answer. On a per-resident demand survey several residents of one household answer: the household counts once
while at least one of its residents has an answer (:func:`household_contribution`, applied on the household's
0 ↔ 1 transitions by the caller).

:func:`result_from_tallies` rebuilds exactly what :func:`survey.domain.results.compute_result` computes from every
stored answer (a test holds the two equal); :func:`tallies_of` is the full recount used for verification, repair
and the migration's backfill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from survey.domain.consultation import Setup
from survey.domain.questions import CHOICE_KINDS, QuestionKind
from survey.domain.results import (
    AgeGroups,
    MenuSelection,
    QuestionTally,
    Result,
)
from survey.domain.rules import Tally, decide, ratio

SEP = "\x1f"  # joins the parts of a key (question id, option): never inside a question id or option text

# metrics
RESPONSES = "responses"  # key '' : answers
PARTICIPATING = "participating"  # key '' : households (count) and their area (amount)
APPROVING = "approving"  # key '' : approving households and their area
CHANNEL = "channel"  # key channel : answers
BUILDING = "building"  # key building code : answering households
BUILDING_APPROVING = "building_approving"  # key building code : approving households
MENU = "menu"  # key item code : households choosing it
ANSWERED = "answered"  # key question id : answers to it
OPTION = "option"  # key qid SEP option : picks (ratings: qid SEP '1'..'5')
RANK = "rank"  # key qid SEP option : Borda points
RATING_SUM = "rating_sum"  # key qid : sum of ratings (count)
NUMBER_SUM = "number_sum"  # key qid : sum of number answers (amount)
AGE = "age"  # key birth year ('' unknown) : answers
AGE_OPTION = "age_option"  # key birth year SEP qid SEP option : picks on choice questions


Key = tuple[str, str]


class Tallies(dict[Key, tuple[int, Decimal]]):
    """``(metric, key) -> (count, amount)``; adding and subtracting contributions, zero entries dropped."""

    def add(self, metric: str, key: str, n: int = 1, amount: Decimal = Decimal(0)) -> None:
        k = (metric, key)
        old_n, old_a = self.get(k, (0, Decimal(0)))
        new = (old_n + n, old_a + amount)
        if new[0] == 0 and new[1] == 0:
            self.pop(k, None)
        else:
            self[k] = new

    def merge(self, other: Mapping[Key, tuple[int, Decimal]], sign: int = 1) -> Tallies:
        for (metric, key), (n, amount) in other.items():
            self.add(metric, key, sign * n, sign * amount)
        return self

    def n(self, metric: str, key: str = "") -> int:
        return self.get((metric, key), (0, Decimal(0)))[0]

    def amount(self, metric: str, key: str = "") -> Decimal:
        return self.get((metric, key), (0, Decimal(0)))[1]


@dataclass(frozen=True)
class Answer:
    """An answer as the tallies see it, with the registry facts of its household at the time it is counted."""

    answers: Mapping[str, Any]
    channel: str
    birth_year: int | None  # the answering resident's, else the household's oldest resident's
    building: str
    area: Decimal


def household_contribution(setup: Setup, answer: Answer | None, *, building: str, area: Decimal) -> Tallies:
    """What a participating household adds: itself (and its area), per building, approval, menu picks. On a
    household survey ``answer`` is its answer; on a per-resident survey ``None`` (no vote rule, no menu)."""
    t = Tallies()
    t.add(PARTICIPATING, "", 1, area)
    t.add(BUILDING, building)
    if answer is not None:
        if setup.approves(dict(answer.answers)):
            t.add(APPROVING, "", 1, area)
            t.add(BUILDING_APPROVING, building)
        if setup.menu_question_id is not None:
            for code in set(answer.answers.get(setup.menu_question_id) or ()):
                t.add(MENU, code)
    return t


def answer_contribution(setup: Setup, answer: Answer) -> Tallies:
    """What one answer adds (the household-level part included on a household survey)."""
    t = Tallies()
    t.add(RESPONSES, "")
    t.add(CHANNEL, answer.channel)
    age = "" if answer.birth_year is None else str(answer.birth_year)
    t.add(AGE, age)
    for q in setup.questionnaire.questions:
        value = answer.answers.get(q.id)
        if value is None:
            continue
        t.add(ANSWERED, q.id)
        picks: list[str] = []
        if q.kind is QuestionKind.SINGLE_CHOICE and value in q.options:
            picks = [value]
        elif q.kind in (QuestionKind.MULTIPLE_CHOICE, QuestionKind.RANKING):
            for pos, v in enumerate(value):
                if v in q.options:
                    picks.append(v)
                    if q.kind is QuestionKind.RANKING:
                        t.add(RANK, q.id + SEP + v, len(q.options) - pos)
        elif q.kind is QuestionKind.RATING:
            t.add(OPTION, q.id + SEP + str(value))
            t.add(RATING_SUM, q.id, int(value))
        elif q.kind is QuestionKind.NUMBER:
            t.add(NUMBER_SUM, q.id, 0, Decimal(str(value)))
        for v in picks:
            t.add(OPTION, q.id + SEP + v)
        if q.kind in CHOICE_KINDS:
            for v in picks:
                t.add(AGE_OPTION, age + SEP + q.id + SEP + v)
    if not setup.per_resident:
        t.merge(household_contribution(setup, answer, building=answer.building, area=answer.area))
    return t


def change(setup: Setup, old: Answer | None, new: Answer | None) -> Tallies:
    """The tallies' change when ``old`` (or nothing) becomes ``new`` (or nothing)."""
    t = Tallies()
    if old is not None:
        t.merge(answer_contribution(setup, old), -1)
    if new is not None:
        t.merge(answer_contribution(setup, new))
    return t


def tallies_of(setup: Setup, answers: Iterable[tuple[str, Answer]]) -> Tallies:
    """The full recount: every stored answer, as ``(household id, answer)`` (verification, repair, backfill)."""
    t = Tallies()
    households: dict[str, Answer] = {}
    for household_id, answer in answers:
        t.merge(answer_contribution(setup, answer))
        households.setdefault(household_id, answer)
    if setup.per_resident:
        for a in households.values():
            t.merge(household_contribution(setup, None, building=a.building, area=a.area))
    return t


@dataclass(frozen=True)
class Registry:
    """The community's registry totals, kept as counters by the registry's writes."""

    households: int
    area: Decimal
    households_per_building: Mapping[str, int]


def result_from_tallies(
    setup: Setup,
    registry: Registry,
    t: Tallies,
    suggestions: Sequence[str],
    *,
    catalog: dict[str, str],
    age_groups: AgeGroups,
    reference_year: int,
    final: bool,
) -> Result:
    """The result :func:`compute_result` gives for the same answers, read from the tallies alone."""
    tally = Tally(
        total_households=registry.households,
        total_area=registry.area,
        participating_households=t.n(PARTICIPATING),
        participating_area=t.amount(PARTICIPATING),
        approving_households=t.n(APPROVING),
        approving_area=t.amount(APPROVING),
    )
    questions = setup.questionnaire.questions
    tallies: dict[str, QuestionTally] = {}
    for q in questions:
        qt = QuestionTally(
            q.id,
            q.kind.value,
            answered=t.n(ANSWERED, q.id),
            options={o: t.n(OPTION, q.id + SEP + o) for o in q.options} if q.kind in CHOICE_KINDS else {},
            rank_points={o: t.n(RANK, q.id + SEP + o) for o in q.options} if q.kind is QuestionKind.RANKING else {},
        )
        if q.kind is QuestionKind.RATING:
            qt.options = {str(v): t.n(OPTION, f"{q.id}{SEP}{v}") for v in range(1, 6) if t.n(OPTION, f"{q.id}{SEP}{v}")}
            qt.rating_sum = t.n(RATING_SUM, q.id)
        elif q.kind is QuestionKind.NUMBER:
            qt.number_sum = t.amount(NUMBER_SUM, q.id)
        tallies[q.id] = qt
    choice = [q for q in questions if q.kind in CHOICE_KINDS]
    by_age: dict[str, dict[str, Any]] = {
        name: {"responses": 0, "questions": {q.id: {o: 0 for o in q.options} for q in choice}}
        for name in AgeGroups.NAMES
    }
    group_of: dict[str, str] = {}
    for (metric, key), (n, _) in t.items():
        if metric == AGE:
            by_age[_group(key, age_groups, reference_year, group_of)]["responses"] += n
        elif metric == AGE_OPTION:
            year, qid, option = key.split(SEP, 2)
            opts = by_age[_group(year, age_groups, reference_year, group_of)]["questions"].get(qid)
            if opts is not None and option in opts:
                opts[option] += n
    by_building = {
        code: {
            "households": registry.households_per_building[code],
            "responses": t.n(BUILDING, code),
            "approving": t.n(BUILDING_APPROVING, code),
        }
        for code in sorted(registry.households_per_building)
    }
    menu: list[MenuSelection] = []
    mq = setup.questionnaire.get(setup.menu_question_id) if setup.menu_question_id else None
    if mq is not None:
        base = t.n(PARTICIPATING)
        order = {code: i for i, code in enumerate(mq.options)}
        for code in mq.options:
            support = ratio(t.n(MENU, code), base)
            menu.append(
                MenuSelection(
                    code, catalog.get(code, "unknown"), t.n(MENU, code), support, support >= setup.menu_threshold
                )
            )
        menu.sort(key=lambda s: (-s.support_count, order[s.code]))
    return Result(
        tally=tally,
        decision=decide(setup.rule, tally, final=final),
        responses=t.n(RESPONSES),
        menu=menu,
        questions=tallies,
        by_age_group=by_age,
        by_building=by_building,
        by_channel={key: n for (metric, key), (n, _) in t.items() if metric == CHANNEL and n},
        suggestions=list(suggestions),
    )


def _group(year: str, age_groups: AgeGroups, reference_year: int, cache: dict[str, str]) -> str:
    if year not in cache:
        cache[year] = age_groups.group(int(year) if year else None, reference_year)
    return cache[year]
