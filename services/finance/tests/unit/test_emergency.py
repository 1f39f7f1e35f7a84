from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finance.domain.emergency import RefusalReason, check_eligibility, owners_share_fen, split_repair_cost
from finance.domain.errors import RuleViolation


def test_pre_2000_without_fund_is_eligible():
    assert check_eligibility(1995, False).eligible
    assert check_eligibility(1999, False).eligible


def test_2000_and_later_refused_with_reason():
    for year in (2000, 2005):
        result = check_eligibility(year, False)
        assert not result.eligible
        assert result.reason is RefusalReason.DELIVERED_2000_OR_LATER
        assert str(year) in (result.detail or "")


def test_established_fund_refused():
    result = check_eligibility(1990, True)
    assert result.reason is RefusalReason.MAINTENANCE_FUND_ESTABLISHED


def test_unknown_delivery_year_refused():
    assert check_eligibility(None, False).reason is RefusalReason.DELIVERY_YEAR_UNKNOWN


def test_80_20_split_with_public_income_first():
    split = split_repair_cost(
        1_000_000, public_income_balance_fen=50_000, household_areas={"a": Decimal("60.00"), "b": Decimal("40.00")}
    )
    assert split.government_fen == 800_000
    assert split.owners_fen == 200_000
    assert split.public_income_fen == 50_000
    assert split.households_fen == 150_000
    assert split.household_shares == {"a": 90_000, "b": 60_000}


def test_public_income_covers_everything():
    split = split_repair_cost(100_000, public_income_balance_fen=10**9, household_areas={"a": Decimal("1.00")})
    assert (split.public_income_fen, split.households_fen, split.household_shares) == (20_000, 0, {"a": 0})


def test_opting_out_of_public_income():
    split = split_repair_cost(
        100_000, public_income_balance_fen=10**9, household_areas={"a": Decimal("1.00")}, use_public_income=False
    )
    assert split.public_income_fen == 0 and split.household_shares == {"a": 20_000}


def test_odd_fen_goes_to_government():
    # 20% of 12,345 fen is 2,469 exactly; of 12,346 fen is 2,469.2 → owners 2,469, government 9,877
    assert owners_share_fen(12_345) == 2_469
    split = split_repair_cost(12_346, public_income_balance_fen=0, household_areas={"a": Decimal("1.00")})
    assert (split.government_fen, split.owners_fen) == (9_877, 2_469)


def test_no_households_and_no_public_income_refused():
    with pytest.raises(RuleViolation) as err:
        split_repair_cost(10_000, public_income_balance_fen=0, household_areas={})
    assert err.value.code == "no_affected_households"


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10**9),
    st.integers(0, 10**8),
    st.dictionaries(
        st.uuids().map(str), st.decimals(Decimal("0.01"), Decimal("300"), places=2), min_size=1, max_size=30
    ),
)
def test_shares_always_sum_to_cost(cost, balance, areas):
    split = split_repair_cost(cost, public_income_balance_fen=balance, household_areas=areas)
    assert split.government_fen + split.public_income_fen + sum(split.household_shares.values()) == cost
    assert split.government_fen * 100 >= cost * 80 > (split.government_fen - 1) * 100
    assert split.public_income_fen <= balance


def test_a_named_public_income_share_is_exact_and_bounded():
    areas = {"h1": Decimal("60.00"), "h2": Decimal("40.00")}
    split = split_repair_cost(10_000, public_income_balance_fen=3_000, household_areas=areas, public_income_fen=1_500)
    assert (split.public_income_fen, split.households_fen, split.household_shares) == (
        1_500,
        500,
        {"h1": 300, "h2": 200},
    )
    for asked, balance, code in (
        (2_001, 10_000, "public_income_exceeds_owners_share"),
        (2_000, 1_999, "insufficient_funds"),
        (-1, 10_000, "invalid_amount"),
    ):
        with pytest.raises(RuleViolation) as refused:
            split_repair_cost(10_000, public_income_balance_fen=balance, household_areas=areas, public_income_fen=asked)
        assert refused.value.code == code
    with pytest.raises(RuleViolation) as refused:
        split_repair_cost(10_000, public_income_balance_fen=5_000, household_areas=areas, use_public_income=False,
                          public_income_fen=1)  # fmt: skip
    assert refused.value.code == "public_income_opted_out"


def test_the_fund_must_cover_the_government_share_beyond_reservations():
    from finance.domain.emergency import check_fund_covers

    check_fund_covers(8_000, 8_000)
    with pytest.raises(RuleViolation) as refused:
        check_fund_covers(8_000, 7_999)
    assert (refused.value.code, refused.value.extra["available_fen"]) == ("insufficient_funds", 7_999)


def test_period_labels_follow_the_calendar():
    from finance.domain.emergency import Period, period_label

    assert [period_label(2026, m, Period.QUARTER) for m in (1, 3, 4, 6, 7, 12)] == [
        "2026-Q1", "2026-Q1", "2026-Q2", "2026-Q2", "2026-Q3", "2026-Q4",
    ]  # fmt: skip
    assert (period_label(2026, 3, Period.MONTH), period_label(2026, 3, Period.YEAR)) == ("2026-03", "2026")
