"""Live tallies and final results: decision, menu selection, breakdowns by age group and building."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from survey.domain.consultation import Setup
from survey.domain.questions import CHOICE_KINDS, Question, QuestionKind
from survey.domain.rules import Decision, Tally, decide, fraction_str, percent, ratio


@dataclass(frozen=True)
class AgeGroups:
    """youth < ``middle_from`` ≤ middle-aged < ``elderly_from`` ≤ elderly (defaults 35 and 60)."""

    middle_from: int = 35
    elderly_from: int = 60

    def __post_init__(self) -> None:
        if not (0 < self.middle_from < self.elderly_from < 130):
            raise ValueError("need 0 < middle_from < elderly_from < 130")

    def group(self, birth_year: int | None, reference_year: int) -> str:
        if birth_year is None:
            return "unknown"
        age = reference_year - birth_year
        if age < self.middle_from:
            return "youth"
        if age < self.elderly_from:
            return "middle_aged"
        return "elderly"

    NAMES = ("youth", "middle_aged", "elderly", "unknown")


@dataclass(frozen=True)
class HouseholdFact:
    household_id: str
    building_code: str
    floor_area: Decimal


@dataclass(frozen=True)
class ResponseFact:
    household_id: str
    answers: dict[str, Any]
    birth_year: int | None = None  # the answering resident's, else the household's oldest resident's
    suggestion: str | None = None
    channel: str = "app"


@dataclass(frozen=True)
class MenuSelection:
    code: str
    category: str
    support_count: int
    support_ratio: Fraction
    selected: bool


@dataclass
class QuestionTally:
    question_id: str
    kind: str
    answered: int = 0
    options: dict[str, int] = field(default_factory=dict)
    rank_points: dict[str, int] = field(default_factory=dict)
    rating_sum: int = 0
    number_sum: Decimal = Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"question_id": self.question_id, "kind": self.kind, "answered": self.answered}
        if self.options:
            out["options"] = dict(self.options)
        if self.rank_points:
            out["rank_points"] = dict(self.rank_points)  # Borda: first of n gets n points
        if self.kind == QuestionKind.RATING and self.answered:
            mean = Fraction(self.rating_sum, self.answered)
            out["mean"] = fraction_str(mean)
            out["mean_decimal"] = str(percent(mean) / 100)
        if self.kind == QuestionKind.NUMBER:
            out["sum"] = str(self.number_sum)
        return out


def tally_questions(questions: Sequence[Question], answers: Iterable[dict[str, Any]]) -> dict[str, QuestionTally]:
    tallies = {
        q.id: QuestionTally(
            q.id,
            q.kind.value,
            options={o: 0 for o in q.options} if q.kind in CHOICE_KINDS else {},
            rank_points={o: 0 for o in q.options} if q.kind is QuestionKind.RANKING else {},
        )
        for q in questions
    }
    kinds = {q.id: q for q in questions}
    for answer in answers:
        for qid, value in answer.items():
            t, q = tallies.get(qid), kinds.get(qid)
            if t is None or q is None or value is None:
                continue
            t.answered += 1
            if q.kind is QuestionKind.SINGLE_CHOICE and value in t.options:
                t.options[value] += 1
            elif q.kind in (QuestionKind.MULTIPLE_CHOICE, QuestionKind.RANKING):
                for pos, v in enumerate(value):
                    if v in t.options:
                        t.options[v] += 1
                        if q.kind is QuestionKind.RANKING:
                            t.rank_points[v] += len(q.options) - pos
            elif q.kind is QuestionKind.RATING:
                t.options[str(value)] = t.options.get(str(value), 0) + 1
                t.rating_sum += int(value)
            elif q.kind is QuestionKind.NUMBER:
                t.number_sum += Decimal(str(value))
    return tallies


def menu_selection(setup: Setup, responses: Sequence[ResponseFact], catalog: dict[str, str]) -> list[MenuSelection]:
    """An item is selected when the share of participating households choosing it reaches the threshold."""
    if setup.menu_question_id is None:
        return []
    q = setup.questionnaire.get(setup.menu_question_id)
    if q is None:
        return []
    supporters: dict[str, set[str]] = defaultdict(set)
    for r in responses:
        for code in r.answers.get(q.id) or []:
            supporters[code].add(r.household_id)
    base = len({r.household_id for r in responses})
    order = {code: i for i, code in enumerate(q.options)}
    items = []
    for code in q.options:
        support = ratio(len(supporters[code]), base)
        items.append(
            MenuSelection(
                code, catalog.get(code, "unknown"), len(supporters[code]), support, support >= setup.menu_threshold
            )
        )
    items.sort(key=lambda s: (-s.support_count, order[s.code]))
    return items


@dataclass(frozen=True)
class Result:
    tally: Tally
    decision: Decision
    responses: int
    menu: list[MenuSelection]
    questions: dict[str, QuestionTally]
    by_age_group: dict[str, dict[str, Any]]
    by_building: dict[str, dict[str, Any]]
    by_channel: dict[str, int]
    suggestions: list[str]


def compute_result(
    setup: Setup,
    households: Sequence[HouseholdFact],
    responses: Sequence[ResponseFact],
    *,
    catalog: dict[str, str],
    age_groups: AgeGroups,
    reference_year: int,
    final: bool,
    max_suggestions: int = 200,
) -> Result:
    area = {h.household_id: h.floor_area for h in households}
    building = {h.household_id: h.building_code for h in households}
    counted = [r for r in responses if r.household_id in area]
    participating = {r.household_id for r in counted}
    approving = {r.household_id for r in counted if setup.approves(r.answers)}
    tally = Tally(
        total_households=len(households),
        total_area=sum((h.floor_area for h in households), Decimal(0)),
        participating_households=len(participating),
        participating_area=sum((area[h] for h in participating), Decimal(0)),
        approving_households=len(approving),
        approving_area=sum((area[h] for h in approving), Decimal(0)),
    )
    decision = decide(setup.rule, tally, final=final)
    questions = setup.questionnaire.questions
    choice_questions = [q for q in questions if q.kind in CHOICE_KINDS]

    by_age: dict[str, list[ResponseFact]] = {name: [] for name in AgeGroups.NAMES}
    by_bldg: dict[str, list[ResponseFact]] = defaultdict(list)
    for r in counted:
        by_age[age_groups.group(r.birth_year, reference_year)].append(r)
        by_bldg[building[r.household_id]].append(r)
    age_out = {
        name: {
            "responses": len(rs),
            "questions": {
                qid: t.options for qid, t in tally_questions(choice_questions, (r.answers for r in rs)).items()
            },
        }
        for name, rs in by_age.items()
    }
    households_per_building = Counter(h.building_code for h in households)
    bldg_out = {
        code: {
            "households": households_per_building[code],
            "responses": len({r.household_id for r in by_bldg.get(code, [])}),
            "approving": len({r.household_id for r in by_bldg.get(code, []) if r.household_id in approving}),
        }
        for code in sorted(households_per_building)
    }
    suggestions = [r.suggestion for r in counted if r.suggestion][:max_suggestions]
    return Result(
        tally=tally,
        decision=decision,
        responses=len(counted),
        menu=menu_selection(setup, counted, catalog),
        questions=tally_questions(questions, (r.answers for r in counted)),
        by_age_group=age_out,
        by_building=bldg_out,
        by_channel=dict(Counter(r.channel for r in counted)),
        suggestions=suggestions,
    )


def headline_approval(setup: Setup, tally: Tally) -> Fraction:
    """The approval ratio a closed event reports: over all households for household_share (and no rule),
    over participating owners for the Civil Code rules."""
    if setup.rule.kind.value.startswith("civil_code"):
        return tally.approval_households_ratio
    return tally.consent_of_all_ratio
