"""Largest-remainder apportionment: exact sums, < 1 fen from pro-rata, deterministic."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance.domain.errors import RuleViolation
from finance.domain.money import apportion, round_half_up

areas = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500.00"), places=2)
weights = st.dictionaries(st.text("abcdefgh0123456789", min_size=1, max_size=6), areas, min_size=1, max_size=60)
totals = st.integers(min_value=0, max_value=10**10)


@settings(max_examples=300, deadline=None)
@given(totals, weights)
def test_parts_sum_exactly_and_stay_within_one_fen(total, w):
    shares = apportion(total, w)
    assert set(shares) == set(w)
    assert sum(shares.values()) == total
    whole = sum(Fraction(a) for a in w.values())
    for key, share in shares.items():
        exact = total * Fraction(w[key]) / whole
        assert abs(share - exact) < 1
        assert share >= 0


@settings(max_examples=200, deadline=None)
@given(totals, weights, st.randoms(use_true_random=False))
def test_same_input_same_split_whatever_the_order(total, w, rnd):
    items = list(w.items())
    rnd.shuffle(items)
    assert apportion(total, dict(items)) == apportion(total, w)


def test_ties_go_to_larger_area_then_smaller_key():
    # 1 fen over three equal areas: the tie is broken by key
    assert apportion(1, {"b": Decimal("10.00"), "a": Decimal("10.00"), "c": Decimal("10.00")}) == {
        "a": 1,
        "b": 0,
        "c": 0,
    }
    # 2 fen over (60, 30, 30)? quotas 1, .5, .5 → 1 to 'x', tie between y and z resolved by key
    assert apportion(2, {"x": Decimal(60), "z": Decimal(30), "y": Decimal(30)}) == {"x": 1, "y": 1, "z": 0}


def test_known_split_by_floor_area():
    # 100.00 yuan over 55.50 m², 72.25 m², 30.00 m²
    shares = apportion(10_000, {"h1": Decimal("55.50"), "h2": Decimal("72.25"), "h3": Decimal("30.00")})
    assert shares == {"h1": 3518, "h2": 4580, "h3": 1902}
    assert sum(shares.values()) == 10_000


def test_refuses_empty_and_non_positive_weights():
    with pytest.raises(RuleViolation) as err:
        apportion(5, {})
    assert err.value.code == "nothing_to_apportion_to"
    assert apportion(0, {}) == {}
    with pytest.raises(RuleViolation):
        apportion(5, {"a": Decimal(0)})
    with pytest.raises(RuleViolation):
        apportion(-1, {"a": Decimal(1)})


def test_round_half_up():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(0)) == 0
