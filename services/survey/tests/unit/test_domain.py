"""Questions and skip logic, registry rows, menu selection, age groups, ranking, exports."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from renovation_common.contracts.survey import MENU_CATALOG
from renovation_common.exports import csv_cell
from survey.domain.consultation import (
    ConsultationError,
    ConsultationKind,
    Setup,
    State,
    Window,
    check_setup,
    ensure_accepts_answers,
    transition,
)
from survey.domain.exports import export_columns, export_row
from survey.domain.questions import AnswerError, Question, QuestionKind, Questionnaire, QuestionnaireError, ShowIf
from survey.domain.ranking import Candidate, rank
from survey.domain.registry import RegistryError, ResidentSpec, check_rows, elderly_living_alone, parse_area
from survey.domain.results import AgeGroups, HouseholdFact, ResponseFact, compute_result
from survey.domain.rules import DecisionRule, Outcome, RuleKind

QN = Questionnaire(
    (
        Question("agree", QuestionKind.SINGLE_CHOICE, "Agree?", options=("yes", "no")),
        Question("why_not", QuestionKind.TEXT, "Why not?", show_if=ShowIf("agree", ("no",)), max_length=20),
        Question(
            "items",
            QuestionKind.MULTIPLE_CHOICE,
            "Items",
            options=("parking", "greening", "lighting"),
            min_picks=1,
            max_picks=2,
        ),
        Question("rate", QuestionKind.RATING, "Rate", required=False),
        Question("order", QuestionKind.RANKING, "Order", options=("a", "b", "c"), required=False),
        Question("n", QuestionKind.NUMBER, "How many", required=False, min_value=Decimal(0), max_value=Decimal(10)),
    )
)


def test_skip_logic_shows_and_hides():
    assert [q.id for q in QN.visible({"agree": "yes"})] == ["agree", "items", "rate", "order", "n"]
    assert "why_not" in [q.id for q in QN.visible({"agree": "no"})]
    assert QN.validate_answers({"agree": "no", "why_not": "noise", "items": ["lighting", "parking"]}) == {
        "agree": "no",
        "why_not": "noise",
        "items": ["parking", "lighting"],
    }
    with pytest.raises(AnswerError) as e:
        QN.validate_answers({"agree": "yes", "why_not": "x", "items": ["parking"]})
    assert e.value.code == "answer_to_hidden_question"
    with pytest.raises(AnswerError) as e:
        QN.validate_answers({"agree": "no", "items": ["parking"]})
    assert e.value.code == "answer_required"


@pytest.mark.parametrize(
    "answers",
    [
        {"agree": "maybe", "items": ["parking"]},
        {"agree": "yes", "items": []},
        {"agree": "yes", "items": ["parking", "greening", "lighting"]},
        {"agree": "yes", "items": ["parking", "parking"]},
        {"agree": "yes", "items": ["parking"], "rate": 6},
        {"agree": "yes", "items": ["parking"], "rate": True},
        {"agree": "yes", "items": ["parking"], "order": ["a", "b"]},
        {"agree": "yes", "items": ["parking"], "n": 11},
        {"agree": "yes", "items": ["parking"], "n": "NaN"},
        {"agree": "yes", "items": ["parking"], "zzz": 1},
        {"agree": "no", "why_not": "x" * 21, "items": ["parking"]},
    ],
)
def test_invalid_answers(answers):
    with pytest.raises(AnswerError):
        QN.validate_answers(answers)


def test_valid_edge_answers():
    out = QN.validate_answers({"agree": "yes", "items": ["greening"], "rate": 5, "order": ["c", "a", "b"], "n": 10})
    assert out["order"] == ["c", "a", "b"] and out["n"] == "10" and out["rate"] == 5


def test_skip_logic_must_point_backwards():
    with pytest.raises(QuestionnaireError):
        Questionnaire(
            (
                Question("b", QuestionKind.TEXT, "b", show_if=ShowIf("a", ("x",))),
                Question("a", QuestionKind.SINGLE_CHOICE, "a", options=("x",)),
            )
        )
    with pytest.raises(QuestionnaireError):
        Questionnaire((Question("a", QuestionKind.SINGLE_CHOICE, "a", options=("x", "x")),))


def test_lifecycle_and_window():
    assert transition(State.DRAFT, State.OPEN) is State.OPEN
    with pytest.raises(ConsultationError):
        transition(State.DRAFT, State.CLOSED)
    with pytest.raises(ConsultationError):
        transition(State.PUBLISHED, State.OPEN)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    w = Window(now, now + timedelta(days=1))
    assert w.accepts(now) and not w.accepts(now + timedelta(days=1)) and not w.accepts(now - timedelta(seconds=1))
    with pytest.raises(ConsultationError) as e:
        ensure_accepts_answers(State.CLOSED, w, now)
    assert e.value.code == "consultation_not_open"
    with pytest.raises(ConsultationError):
        Window(now, now)


def test_setup_checks():
    rule = DecisionRule.preset(RuleKind.HOUSEHOLD_SHARE)
    ok = Setup(ConsultationKind.WILLINGNESS, QN, rule, "agree", ("yes",))
    check_setup(ok, MENU_CATALOG)
    with pytest.raises(ConsultationError):
        check_setup(Setup(ConsultationKind.WILLINGNESS, QN, rule, "items", ("parking",)), MENU_CATALOG)
    with pytest.raises(ConsultationError):
        check_setup(Setup(ConsultationKind.WILLINGNESS, QN, DecisionRule.preset(RuleKind.NONE)), MENU_CATALOG)
    menu_qn = Questionnaire((Question("m", QuestionKind.MULTIPLE_CHOICE, "m", options=("parking", "sauna")),))
    with pytest.raises(ConsultationError) as e:
        check_setup(
            Setup(ConsultationKind.MENU, menu_qn, DecisionRule.preset(RuleKind.NONE), menu_question_id="m"),
            MENU_CATALOG,
        )
    assert e.value.code == "unknown_menu_item"


def test_area_exact_two_decimals():
    assert parse_area("85.5") == Decimal("85.50")
    assert parse_area(72.35) == Decimal("72.35")
    assert parse_area("0.01") == Decimal("0.01")
    assert parse_area("10000") == Decimal("10000.00")
    for bad in ("0", "-3", "85.555", "abc", "10000.01", "inf"):
        with pytest.raises(RegistryError):
            parse_area(bad)


def test_import_rows_report_each_error():
    rows = [
        {"building": "1", "room": "101", "floor_area_m2": "60.5", "resident_birth_years": "1950;1952"},
        {"building": "1", "room": "101", "floor_area_m2": "61"},
        {"building": "", "room": "102", "floor_area_m2": "61"},
        {"building": "1", "room": "103", "floor_area_m2": "61.123"},
        {"building": "1", "room": "104", "floor_area_m2": "61", "owner_phone": "call me"},
        {"building": "1", "room": "105", "floor_area_m2": "61", "resident_birth_years": "1850"},
        {"building": "1", "room": "106", "floor_area_m2": "61", "lives_alone": "perhaps"},
    ]
    specs, errors = check_rows(rows, 2026)
    assert len(specs) == 1 and specs[0].residents[1].birth_year == 1952
    assert [(e.row, e.code) for e in errors][:1] == [(2, "duplicate_household")]
    assert [e.row for e in errors] == [2, 3, 4, 5, 6, 7]
    assert errors[2].field == "floor_area_m2"


def test_elderly_living_alone_boundary():
    assert elderly_living_alone([ResidentSpec(1966, lives_alone=True)], 2026)
    assert not elderly_living_alone([ResidentSpec(1967, lives_alone=True)], 2026)
    assert not elderly_living_alone([ResidentSpec(1940, lives_alone=False)], 2026)


def test_age_groups_boundaries():
    g = AgeGroups()
    assert [g.group(y, 2026) for y in (1992, 1991, 1967, 1966, None)] == [
        "youth",
        "middle_aged",
        "middle_aged",
        "elderly",
        "unknown",
    ]
    assert AgeGroups(30, 65).group(1962, 2026) == "middle_aged"
    with pytest.raises(ValueError):
        AgeGroups(60, 35)


def test_menu_selection_threshold_and_result():
    qn = Questionnaire(
        (Question("m", QuestionKind.MULTIPLE_CHOICE, "m", options=("parking", "greening", "roof_repair")),)
    )
    setup = Setup(
        ConsultationKind.MENU,
        qn,
        DecisionRule.preset(RuleKind.NONE),
        menu_question_id="m",
        menu_threshold=Fraction(1, 2),
    )
    households = [HouseholdFact(f"h{i}", "B1" if i < 2 else "B2", Decimal("50.00")) for i in range(4)]
    responses = [
        ResponseFact("h0", {"m": ["parking", "greening"]}, 1950),
        ResponseFact("h1", {"m": ["parking"]}, 1995, suggestion="more benches"),
        ResponseFact("h2", {"m": ["roof_repair"]}, None),
        ResponseFact("h3", {"m": ["parking", "roof_repair"]}, 1970, channel="door_to_door"),
    ]
    r = compute_result(
        setup, households, responses, catalog=MENU_CATALOG, age_groups=AgeGroups(), reference_year=2026, final=True
    )
    sel = {m.code: m for m in r.menu}
    assert [m.code for m in r.menu] == ["parking", "roof_repair", "greening"]
    assert sel["parking"].support_ratio == Fraction(3, 4) and sel["parking"].selected
    assert sel["roof_repair"].support_ratio == Fraction(1, 2) and sel["roof_repair"].selected  # exactly at threshold
    assert not sel["greening"].selected and sel["greening"].category == "improvement"
    assert r.decision.outcome is Outcome.NOT_APPLICABLE
    assert r.by_age_group["elderly"]["responses"] == 1 and r.by_age_group["unknown"]["responses"] == 1
    assert r.by_age_group["youth"]["questions"]["m"]["parking"] == 1
    assert r.by_building == {
        "B1": {"households": 2, "responses": 2, "approving": 0},
        "B2": {"households": 2, "responses": 2, "approving": 0},
    }
    assert r.suggestions == ["more benches"] and r.by_channel == {"app": 3, "door_to_door": 1}


def test_ranking_tie_breaks():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    c = [
        Candidate("c-b", "x1", Fraction(9, 10), Fraction(8, 10), t0),
        Candidate("c-a", "x2", Fraction(9, 10), Fraction(8, 10), t0),  # same, earlier id wins
        Candidate("c-c", "x3", Fraction(9, 10), Fraction(9, 10), t0 + timedelta(days=3)),  # larger area share
        Candidate("c-d", "x4", Fraction(95, 100), Fraction(1, 10), t0),
        Candidate("c-e", "x5", Fraction(9, 10), Fraction(8, 10), t0 - timedelta(days=1)),  # closed earlier
        Candidate("c-d", "x0", Fraction(1, 1), Fraction(1, 1), t0 - timedelta(days=9)),  # superseded by x4
    ]
    assert [(r.rank, r.candidate.community_id) for r in rank(c)] == [
        (1, "c-d"),
        (2, "c-c"),
        (3, "c-e"),
        (4, "c-a"),
        (5, "c-b"),
    ]


def test_export_columns_stable_and_cells_safe():
    cols = export_columns(QN.questions)
    assert cols[-1] == "suggestion" and cols.index("q:agree") < cols.index("q:why_not")
    row_yes = export_row(QN.questions, {"household_id": "h1"}, {"agree": "yes", "items": ["parking"]}, "=cmd()")
    row_no = export_row(QN.questions, {"household_id": "h2"}, {"agree": "no", "why_not": "x", "items": ["a"]}, None)
    assert len(row_yes) == len(row_no) == len(cols)
    assert row_yes[cols.index("q:why_not")] == ""
    # cells are written as they are: the CSV/XLSX writers of renovation_common.exports neutralise formulas, once
    assert row_yes[-1] == "=cmd()"
    assert csv_cell(row_yes[-1]) == "'=cmd()"


def test_export_numbers_stay_numbers_and_are_never_prefixed():
    questions = (
        Question("n", QuestionKind.NUMBER, "面积差", required=False),
        Question("r", QuestionKind.RATING, "满意度", required=False),
    )
    row = export_row(questions, {"floor_area_m2": Decimal("60.50"), "version": 2}, {"n": "-5", "r": 4}, "-5")
    cols = export_columns(questions)
    assert row[cols.index("q:n")] == Decimal("-5") and row[cols.index("q:r")] == 4
    assert [csv_cell(v) for v in (row[cols.index("q:n")], row[-1], row[cols.index("floor_area_m2")])] == [
        "-5",
        "-5",
        "60.50",
    ]
    assert csv_cell("-5+1") == "'-5+1"  # not a number: a formula a spreadsheet would evaluate
