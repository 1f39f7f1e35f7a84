from decimal import Decimal

import pytest

from finance.domain.contributions import (
    Collection,
    SchemeKind,
    check_payment,
    due_fen,
    validate_terms,
)
from finance.domain.errors import RuleViolation


def test_rate_below_5_yuan_refused():
    with pytest.raises(RuleViolation) as err:
        validate_terms(SchemeKind.MAINTENANCE_FUND, 499, None)
    assert err.value.code == "maintenance_rate_below_minimum"
    assert validate_terms(SchemeKind.MAINTENANCE_FUND, 500, None).rate_fen_per_m2 == 500


def test_maintenance_due_exact_and_rounded_half_up():
    terms = validate_terms(SchemeKind.MAINTENANCE_FUND, 500, None)
    assert due_fen(terms, Decimal("72.35")) == 36_175  # exact
    odd = validate_terms(SchemeKind.MAINTENANCE_FUND, 555, None)
    assert due_fen(odd, Decimal("10.10")) == 5_606  # 5,605.5 → 5,606
    assert due_fen(odd, Decimal("10.01")) == 5_556  # 5,555.55 → 5,556
    assert due_fen(odd, Decimal("10.09")) == 5_600  # 5,599.95 → 5,600


def test_water_meter_default_800_yuan():
    terms = validate_terms(SchemeKind.WATER_METER, None, None)
    assert due_fen(terms, Decimal("1.00")) == 80_000
    assert due_fen(validate_terms(SchemeKind.WATER_METER, None, 65_000), Decimal("99")) == 65_000


def test_collection_rates():
    c = Collection(due_fen=300, paid_fen=200, households=3, households_paid_in_full=2)
    assert c.rate_percent == Decimal("66.67")
    assert c.households_rate_percent == Decimal("66.67")
    assert Collection(0, 0, 0, 0).rate_percent == Decimal("0.00")


def test_overpayment_refused():
    check_payment(100, 300, 200)
    with pytest.raises(RuleViolation) as err:
        check_payment(101, 300, 200)
    assert err.value.code == "overpayment"
