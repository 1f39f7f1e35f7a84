"""Incremental tallies: after any sequence of new, changed and withdrawn answers, the tallies equal the recount,
and the result read from them equals the result computed from every answer."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest

from renovation_common.contracts.survey import MENU_CATALOG
from survey.domain.consultation import ConsultationKind, Setup
from survey.domain.questions import Question, QuestionKind, Questionnaire, ShowIf
from survey.domain.results import AgeGroups, HouseholdFact, ResponseFact, compute_result
from survey.domain.rules import DecisionRule, RuleKind
from survey.domain.tallies import Answer, Registry, Tallies, change, result_from_tallies, tallies_of

MENU = ("parking", "greening", "lighting", "elevator_installation")
QUESTIONS = (
    Question("agree", QuestionKind.SINGLE_CHOICE, "Agree?", options=("yes", "no", "unsure")),
    Question("why_not", QuestionKind.TEXT, "Why not?", required=False, show_if=ShowIf("agree", ("no",))),
    Question("items", QuestionKind.MULTIPLE_CHOICE, "Items", options=MENU, required=False),
    Question("rate", QuestionKind.RATING, "Rate", required=False),
    Question("order", QuestionKind.RANKING, "Order", options=("a", "b", "c"), required=False),
    Question("n", QuestionKind.NUMBER, "How many", required=False),
)


def setup(kind: ConsultationKind) -> Setup:
    if kind is ConsultationKind.DEMAND:
        return Setup(kind, Questionnaire(QUESTIONS), DecisionRule.preset(RuleKind.NONE))
    return Setup(
        kind,
        Questionnaire(QUESTIONS),
        DecisionRule.preset(RuleKind.CIVIL_CODE_278_MAJOR if kind is ConsultationKind.WILLINGNESS else RuleKind.NONE),
        decision_question_id="agree" if kind is ConsultationKind.WILLINGNESS else None,
        approve_options=("yes",) if kind is ConsultationKind.WILLINGNESS else (),
        menu_question_id="items" if kind is ConsultationKind.MENU else None,
        menu_threshold=Fraction(1, 3),
    )


def random_answers(rng: random.Random) -> dict:
    a: dict = {"agree": rng.choice(["yes", "no", "unsure"])}
    if a["agree"] == "no" and rng.random() < 0.5:
        a["why_not"] = "太吵"
    if rng.random() < 0.8:
        a["items"] = sorted(rng.sample(MENU, rng.randint(1, 3)), key=MENU.index)
    if rng.random() < 0.5:
        a["rate"] = rng.randint(1, 5)
    if rng.random() < 0.5:
        a["order"] = rng.sample(["a", "b", "c"], 3)
    if rng.random() < 0.3:
        a["n"] = str(Decimal(rng.randint(-500, 500)) / 100)
    return a


@pytest.mark.parametrize("kind", [ConsultationKind.WILLINGNESS, ConsultationKind.MENU, ConsultationKind.DEMAND])
@pytest.mark.parametrize("seed", range(5))
def test_incremental_tallies_equal_the_recount_and_the_full_result(kind, seed):
    rng = random.Random(seed)
    s = setup(kind)
    households = {
        f"h{i}": (str(1 + i % 4), Decimal(rng.randint(3000, 12000)) / 100, [1940 + rng.randint(0, 70)])
        for i in range(40)
    }
    # respondent key -> (household, answer)
    stored: dict[str, tuple[str, Answer]] = {}
    t = Tallies()
    per_household: Counter[str] = Counter()
    for _ in range(300):
        hid = rng.choice(list(households))
        key = f"{hid}-r{rng.randint(0, 2)}" if s.per_resident else hid
        building, area, years = households[hid]
        new = Answer(random_answers(rng), rng.choice(["app", "paper", "door_to_door"]), years[0], building, area)
        old = stored.get(key)
        withdraw = old is not None and rng.random() < 0.1  # a replaced answer's tallies leave with it
        t.merge(change(s, old[1] if old else None, None if withdraw else new))
        if s.per_resident:  # the household counts once, on its 0 <-> 1 transitions
            delta = (0 if old else 1) - (1 if withdraw else 0)
            before = per_household[hid]
            per_household[hid] += delta
            if (before == 0) != (per_household[hid] == 0):
                from survey.domain.tallies import household_contribution

                t.merge(household_contribution(s, None, building=building, area=area), 1 if delta > 0 else -1)
        if withdraw:
            del stored[key]
        else:
            stored[key] = (hid, new)
    assert t == tallies_of(s, stored.values())

    facts = [HouseholdFact(h, b, a) for h, (b, a, _) in households.items()]
    responses = [ResponseFact(h, dict(a.answers), a.birth_year, None, a.channel) for h, a in stored.values()]
    args = {"catalog": MENU_CATALOG, "age_groups": AgeGroups(), "reference_year": 2026, "final": False}
    full = compute_result(s, facts, responses, **args)
    registry = Registry(
        len(households),
        sum((a for _, a, _ in households.values()), Decimal(0)),
        Counter(b for b, _, _ in households.values()),
    )
    fast = result_from_tallies(s, registry, t, [], **args)
    assert fast.tally == full.tally
    assert fast.decision == full.decision
    assert fast.responses == full.responses
    assert fast.menu == full.menu
    assert {q: v.as_dict() for q, v in fast.questions.items()} == {q: v.as_dict() for q, v in full.questions.items()}
    assert fast.by_age_group == full.by_age_group
    assert fast.by_building == full.by_building
    assert fast.by_channel == full.by_channel


def test_areas_stay_exact_decimals():
    s = setup(ConsultationKind.WILLINGNESS)
    t = Tallies()
    for _ in range(3):
        t.merge(change(s, None, Answer({"agree": "yes"}, "app", None, "1", Decimal("0.10"))))
    assert t.amount("approving") == Decimal("0.30")  # 0.1 + 0.1 + 0.1 in binary floating point is not 0.3
    assert isinstance(t.amount("participating"), Decimal)


def test_a_changed_answer_moves_its_tallies_from_the_old_option_to_the_new_one():
    s = setup(ConsultationKind.WILLINGNESS)
    yes = Answer({"agree": "yes"}, "app", 1950, "1", Decimal("60.00"))
    no = Answer({"agree": "no"}, "paper", 1950, "1", Decimal("60.00"))
    t = Tallies().merge(change(s, None, yes)).merge(change(s, yes, no))
    assert t.n("option", "agree\x1fyes") == 0 and t.n("option", "agree\x1fno") == 1
    assert t.n("approving") == 0 and t.amount("approving") == 0
    assert t.n("participating") == 1 and t.amount("participating") == Decimal("60.00")
    assert t.n("channel", "paper") == 1 and t.n("channel", "app") == 0
    assert t.n("responses") == 1


def test_number_answers_are_bounded_so_their_sums_stay_exact():
    from survey.domain.questions import AnswerError, validate_answer

    q = Question("n", QuestionKind.NUMBER, "How many")
    assert validate_answer(q, "999999999999999.123456") == "999999999999999.123456"
    for bad in ("1E+15", "-1000000000000000", "0.0000001", "1E+400"):
        with pytest.raises(AnswerError):
            validate_answer(q, bad)
