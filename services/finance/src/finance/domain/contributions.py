"""Resident contributions (居民出一点): maintenance fund per m², water-meter renewal per household.

Rounding: a maintenance-fund due is ``area_m2 × rate_fen_per_m2`` computed exactly (the area has two decimals,
so the exact product is a multiple of 1/100 fen) and rounded **half up** to the fen. Fixed amounts are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from finance.domain.errors import RuleViolation
from finance.domain.money import percent, round_half_up

MIN_MAINTENANCE_RATE_FEN_PER_M2 = 500  # 5 yuan per m² of exclusive floor area
DEFAULT_WATER_METER_FEN = 80_000  # 800 yuan per household
MAX_RATE_FEN_PER_M2 = 100_000  # 1,000 yuan per m²: a typo guard
MAX_FIXED_FEN = 10_000_000  # 100,000 yuan per household
MAX_AREA_M2 = Decimal("10000.00")


class SchemeKind(StrEnum):
    MAINTENANCE_FUND = "maintenance_fund"
    WATER_METER = "water_meter"
    EMERGENCY_REPAIR = (
        "emergency_repair"  # the households' shares of an approved emergency repair (not created by hand)
    )


DueStatus = Literal["outstanding", "paid", "cancelled"]  # cancelled: a repair's due withdrawn before any payment
CREATABLE_KINDS = (SchemeKind.MAINTENANCE_FUND, SchemeKind.WATER_METER)


@dataclass(frozen=True)
class SchemeTerms:
    kind: SchemeKind
    rate_fen_per_m2: int | None = None
    amount_fen_per_household: int | None = None


def validate_terms(kind: SchemeKind, rate_fen_per_m2: int | None, amount_fen_per_household: int | None) -> SchemeTerms:
    if kind not in CREATABLE_KINDS:
        raise RuleViolation("scheme_kind_not_creatable", f"{kind.value} dues come from an approved emergency repair")
    if kind is SchemeKind.MAINTENANCE_FUND:
        if rate_fen_per_m2 is None:
            raise RuleViolation("rate_required", "a maintenance-fund scheme needs rate_fen_per_m2")
        if rate_fen_per_m2 < MIN_MAINTENANCE_RATE_FEN_PER_M2:
            raise RuleViolation(
                "maintenance_rate_below_minimum",
                f"the maintenance fund is collected at no less than 5 yuan per m² "
                f"({MIN_MAINTENANCE_RATE_FEN_PER_M2} fen); {rate_fen_per_m2} fen was asked",
                minimum_fen_per_m2=MIN_MAINTENANCE_RATE_FEN_PER_M2,
            )
        if rate_fen_per_m2 > MAX_RATE_FEN_PER_M2:
            raise RuleViolation("rate_too_high", f"rate_fen_per_m2 must not exceed {MAX_RATE_FEN_PER_M2}")
        return SchemeTerms(kind, rate_fen_per_m2=rate_fen_per_m2)
    amount = DEFAULT_WATER_METER_FEN if amount_fen_per_household is None else amount_fen_per_household
    if not 0 < amount <= MAX_FIXED_FEN:
        raise RuleViolation("invalid_amount", f"amount_fen_per_household must be between 1 and {MAX_FIXED_FEN}")
    return SchemeTerms(kind, amount_fen_per_household=amount)


def due_fen(terms: SchemeTerms, floor_area_m2: Decimal) -> int:
    """What one household owes under ``terms``."""
    if terms.kind is SchemeKind.MAINTENANCE_FUND:
        if floor_area_m2 <= 0 or floor_area_m2 > MAX_AREA_M2:
            raise RuleViolation("invalid_floor_area", "a floor area must be positive and at most 10,000 m²")
        assert terms.rate_fen_per_m2 is not None
        return round_half_up(Fraction(floor_area_m2) * terms.rate_fen_per_m2)
    assert terms.amount_fen_per_household is not None
    return terms.amount_fen_per_household


@dataclass(frozen=True)
class Collection:
    """Money due and paid, and households counted once each: with a due, paying (paid something), paid in full
    (every due in force paid). A household with two dues or two payments is one paying household."""

    due_fen: int
    paid_fen: int
    households: int
    households_paid_in_full: int
    households_paying: int = 0

    @property
    def rate_percent(self) -> Decimal:
        """Collected money over money due, percent with two decimals."""
        return percent(self.paid_fen, self.due_fen)

    @property
    def households_rate_percent(self) -> Decimal:
        return percent(self.households_paid_in_full, self.households)


def check_payment(amount_fen: int, due: int, paid: int) -> None:
    if amount_fen <= 0:
        raise RuleViolation("invalid_amount", "a payment must be positive")
    if paid + amount_fen > due:
        raise RuleViolation(
            "overpayment", f"the payment exceeds what is outstanding ({due - paid} fen)", outstanding_fen=due - paid
        )
