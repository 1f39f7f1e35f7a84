"""Decision rules at their exact boundaries (fractions, never floats)."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.domain.rules import (
    DecisionRule,
    Outcome,
    RuleError,
    RuleKind,
    Tally,
    decide,
    fraction_str,
    parse_fraction,
    percent,
)

MAJOR = DecisionRule.preset(RuleKind.CIVIL_CODE_278_MAJOR)
ORDINARY = DecisionRule.preset(RuleKind.CIVIL_CODE_278_ORDINARY)
SHARE = DecisionRule.preset(RuleKind.HOUSEHOLD_SHARE)


def tally(total_h, total_a, part_h, part_a, appr_h, appr_a) -> Tally:
    return Tally(total_h, Decimal(total_a), part_h, Decimal(part_a), appr_h, Decimal(appr_a))


# -- the example: 300 households / 30,000 m²; 210 households with 21,000 m² take part ------------------
def test_major_example_158_households_pass():
    d = decide(MAJOR, tally(300, "30000.00", 210, "21000.00", 158, "15750.00"), final=True)
    assert d.outcome is Outcome.PASSED
    assert [c.met for c in d.conditions] == [True, True, True, True]
    by = {c.name: c for c in d.conditions}
    assert by["approval_area"].actual == Fraction(3, 4)  # exactly the bound: "以上" includes it
    assert by["approval_owners"].actual == Fraction(158, 210)
    assert d.decided_by == "approval_area"  # the binding condition (zero slack)


def test_major_example_157_households_fail_on_headcount():
    d = decide(MAJOR, tally(300, "30000.00", 210, "21000.00", 157, "15750.00"), final=True)
    assert d.outcome is Outcome.REJECTED
    assert d.decided_by == "approval_owners"
    assert Fraction(157, 210) < Fraction(3, 4) < Fraction(158, 210)


def test_major_area_one_hundredth_of_m2_short_fails():
    d = decide(MAJOR, tally(300, "30000.00", 210, "21000.00", 158, "15749.99"), final=True)
    assert d.outcome is Outcome.REJECTED and d.decided_by == "approval_area"


@pytest.mark.parametrize(
    ("part_h", "part_a", "outcome", "decided_by"),
    [
        (200, "20000.00", Outcome.PASSED, "participation_area"),  # exactly 2/3 of both
        (200, "19999.99", Outcome.REJECTED, "participation_area"),
        (199, "20000.00", Outcome.REJECTED, "participation_owners"),
    ],
)
def test_participation_exactly_two_thirds(part_h, part_a, outcome, decided_by):
    # everyone taking part approves, so only participation can decide
    d = decide(MAJOR, tally(300, "30000.00", part_h, part_a, part_h, part_a), final=True)
    assert (d.outcome, d.decided_by) == (outcome, decided_by)


def test_ordinary_exactly_half_is_not_more_than_half():
    d = decide(ORDINARY, tally(300, "30000.00", 210, "21000.00", 105, "10500.00"), final=True)
    assert d.outcome is Outcome.REJECTED
    assert d.decided_by == "approval_area"  # 1/2 is not "过半数"


def test_ordinary_just_over_half_passes():
    d = decide(ORDINARY, tally(300, "30000.00", 210, "21000.00", 106, "10500.01"), final=True)
    assert d.outcome is Outcome.PASSED


def test_ordinary_area_over_half_but_owners_exactly_half_fails():
    d = decide(ORDINARY, tally(300, "30000.00", 210, "21000.00", 105, "12000.00"), final=True)
    assert (d.outcome, d.decided_by) == (Outcome.REJECTED, "approval_owners")


# -- household share (Jiaxing) ---------------------------------------------------------------------------------
def test_household_share_exactly_80_percent_passes():
    d = decide(SHARE, tally(300, "30000.00", 250, "25000.00", 240, "1.00"), final=True)
    assert d.outcome is Outcome.PASSED
    assert d.conditions[0].actual == Fraction(4, 5)


def test_household_share_one_short_is_postponed():
    d = decide(SHARE, tally(300, "30000.00", 300, "30000.00", 239, "1.00"), final=True)
    assert (d.outcome, d.decided_by) == (Outcome.POSTPONED, "consent_of_all_households")


def test_household_share_counts_all_households_not_participants():
    # 100 % of the participants approve but they are only 79 % of all households
    d = decide(SHARE, tally(100, "100.00", 79, "79.00", 79, "79.00"), final=True)
    assert d.outcome is Outcome.POSTPONED


def test_household_share_threshold_is_configurable():
    rule = DecisionRule.preset(RuleKind.HOUSEHOLD_SHARE, Fraction(2, 3))
    assert decide(rule, tally(3, "3", 2, "2", 2, "2"), final=True).outcome is Outcome.PASSED
    assert decide(rule, tally(300, "3", 199, "2", 199, "2"), final=True).outcome is Outcome.POSTPONED


def test_open_consultation_is_pending_with_provisional_outcome():
    d = decide(SHARE, tally(10, "10", 9, "9", 9, "9"), final=False)
    assert d.outcome is Outcome.PENDING and d.provisional_outcome is Outcome.PASSED


def test_no_rule_is_not_applicable():
    d = decide(DecisionRule.preset(RuleKind.NONE), tally(10, "10", 9, "9", 0, "0"), final=True)
    assert d.outcome is Outcome.NOT_APPLICABLE and d.conditions == ()


def test_empty_community_never_passes():
    assert decide(SHARE, tally(0, "0", 0, "0", 0, "0"), final=True).outcome is Outcome.POSTPONED
    assert decide(MAJOR, tally(0, "0", 0, "0", 0, "0"), final=True).outcome is Outcome.REJECTED


def test_legal_rules_refuse_custom_thresholds_and_bad_shares():
    with pytest.raises(RuleError):
        DecisionRule.preset(RuleKind.CIVIL_CODE_278_MAJOR, Fraction(1, 2))
    with pytest.raises(RuleError):
        DecisionRule.preset(RuleKind.HOUSEHOLD_SHARE, Fraction(5, 4))
    with pytest.raises(RuleError):
        DecisionRule.preset(RuleKind.HOUSEHOLD_SHARE, Fraction(0))


def test_inconsistent_tally_is_refused():
    with pytest.raises(RuleError):
        tally(10, "10", 11, "10", 0, "0")
    with pytest.raises(RuleError):
        tally(10, "10", 5, "5", 3, "6")


def test_fraction_and_percent_formatting():
    assert fraction_str(Fraction(158, 210)) == "79/105"
    assert fraction_str(Fraction(0)) == "0/1"
    assert percent(Fraction(158, 210)) == Decimal("75.24")
    assert percent(Fraction(2, 3)) == Decimal("66.67")
    assert percent(Fraction(1, 8)) == Decimal("12.50")
    assert percent(Fraction(1, 800)) == Decimal("0.13")  # 0.125 rounds half up
    assert parse_fraction("4/5") == Fraction(4, 5)
    assert parse_fraction("0.8") == Fraction(4, 5)
    with pytest.raises(RuleError):
        parse_fraction("1/0")


@given(
    total=st.integers(1, 400),
    data=st.data(),
)
def test_major_matches_integer_cross_multiplication(total, data):
    """Property: the fraction rule agrees with the same rule in pure integer arithmetic (areas in 0.01 m²)."""
    areas = data.draw(st.lists(st.integers(1, 20000), min_size=total, max_size=total))
    part = data.draw(st.integers(0, total))
    appr = data.draw(st.integers(0, part))
    total_a, part_a, appr_a = sum(areas), sum(areas[:part]), sum(areas[:appr])
    t = Tally(total, Decimal(total_a) / 100, part, Decimal(part_a) / 100, appr, Decimal(appr_a) / 100)
    expected = (
        3 * part_a >= 2 * total_a and 3 * part >= 2 * total and 4 * appr_a >= 3 * part_a and 4 * appr >= 3 * part
    ) and part > 0
    assert (decide(MAJOR, t, final=True).outcome is Outcome.PASSED) == expected
    expected_ord = 3 * part_a >= 2 * total_a and 3 * part >= 2 * total and 2 * appr_a > part_a and 2 * appr > part
    assert (decide(ORDINARY, t, final=True).outcome is Outcome.PASSED) == expected_ord
