"""Emergency repair fund (危急维修资金, Jiaxing): eligibility and the 80/20 split.

* Eligible: the community was **delivered before 2000** and its maintenance-fund system is **not established**.
* The approved cost is paid 80% by government finance and 20% by owners and the community's public income.
  Rounding: the owners' 20% is ``floor(cost × 20 / 100)``; the government pays the rest, so the odd fen (at most
  0.8 fen of exact share) falls to the government and residents never pay more than their exact 20%. The two
  shares always sum exactly to the approved cost.
* Public income pays first, up to its available balance (or nothing, when the request opts out, or exactly the
  amount the approver names, refused when the available public income cannot cover it); the rest of the owners'
  share is apportioned to the affected households by exclusive floor area (largest remainder, see
  :func:`finance.domain.money.apportion`).
* Approval reserves what the fund and the public income pay (pending transfers), so the available balances that
  the next approval sees are net of every approved, unpaid repair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from finance.domain.errors import RuleViolation
from finance.domain.money import apportion

DELIVERY_CUTOFF_YEAR = 2000
GOVERNMENT_RATIO = Fraction(80, 100)
OWNERS_RATIO = 1 - GOVERNMENT_RATIO
MAX_COST_FEN = 10_000_000_000  # 1 亿元 per repair is far beyond any emergency repair


class Origin(StrEnum):
    COMMUNITY_WORKER = "community_worker"
    STREET_OFFICER = "street_officer"
    RESIDENT = "resident"
    ALARM = "alarm"


# an emergency repair's life: requested → refused (not eligible) | approved → paid; rejected or cancelled by a person
RepairStatus = Literal["requested", "refused", "approved", "paid", "rejected", "cancelled"]


class RepairKind(StrEnum):
    """The seed's words: urgent 维修 (repair), 更新 (renewal) or 改造 (renovation) of common parts and facilities."""

    REPAIR = "repair"
    RENEWAL = "renewal"
    RENOVATION = "renovation"


class RefusalReason(StrEnum):
    DELIVERED_2000_OR_LATER = "delivered_2000_or_later"
    DELIVERY_YEAR_UNKNOWN = "delivery_year_unknown"
    MAINTENANCE_FUND_ESTABLISHED = "maintenance_fund_established"


REFUSAL_TEXT = {
    RefusalReason.DELIVERED_2000_OR_LATER: "the community was delivered in {year}; the emergency repair fund only "
    "covers homes delivered before 2000",
    RefusalReason.DELIVERY_YEAR_UNKNOWN: "the community's delivery year is unknown; eligibility needs a delivery "
    "year before 2000",
    RefusalReason.MAINTENANCE_FUND_ESTABLISHED: "the community has an established maintenance-fund system; "
    "urgent repairs are paid from the maintenance fund",
}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: RefusalReason | None = None
    detail: str | None = None


def check_eligibility(
    delivered_year: int | None, maintenance_fund_established: bool, *, cutoff_year: int = DELIVERY_CUTOFF_YEAR
) -> Eligibility:
    """Delivered before ``cutoff_year`` and no maintenance-fund system → eligible; otherwise the first reason."""
    if delivered_year is None:
        reason = RefusalReason.DELIVERY_YEAR_UNKNOWN
    elif delivered_year >= cutoff_year:
        reason = RefusalReason.DELIVERED_2000_OR_LATER
    elif maintenance_fund_established:
        reason = RefusalReason.MAINTENANCE_FUND_ESTABLISHED
    else:
        return Eligibility(True)
    return Eligibility(False, reason, REFUSAL_TEXT[reason].format(year=delivered_year))


@dataclass(frozen=True)
class RepairSplit:
    approved_cost_fen: int
    government_fen: int
    owners_fen: int
    public_income_fen: int
    households_fen: int
    household_shares: dict[str, int]

    def __post_init__(self) -> None:
        assert self.government_fen + self.owners_fen == self.approved_cost_fen
        assert self.public_income_fen + self.households_fen == self.owners_fen
        assert sum(self.household_shares.values()) == self.households_fen


def owners_share_fen(approved_cost_fen: int) -> int:
    """The owners' and public income's 20%, rounded down to the fen (the government takes the odd fen)."""
    exact = approved_cost_fen * OWNERS_RATIO
    return exact.numerator // exact.denominator


def split_repair_cost(
    approved_cost_fen: int,
    *,
    public_income_balance_fen: int,
    household_areas: Mapping[str, Decimal],
    use_public_income: bool = True,
    public_income_fen: int | None = None,
) -> RepairSplit:
    """Split an approved cost: government 80%, then public income first, then households by floor area.

    ``public_income_balance_fen`` is what the public income may still spend (balance minus reservations).
    ``public_income_fen``, when given, is exactly what public income pays: more than the owners' share is refused
    (``public_income_exceeds_owners_share``), more than the available balance too (``insufficient_funds``)."""
    if not 0 < approved_cost_fen <= MAX_COST_FEN:
        raise RuleViolation("invalid_amount", f"the approved cost must be between 1 and {MAX_COST_FEN} fen")
    if public_income_balance_fen < 0:
        raise RuleViolation("invalid_amount", "a public income balance cannot be negative")
    owners = owners_share_fen(approved_cost_fen)
    government = approved_cost_fen - owners
    if public_income_fen is None:
        public_income = min(owners, public_income_balance_fen) if use_public_income else 0
    else:
        public_income = _named_public_income(public_income_fen, owners, public_income_balance_fen, use_public_income)
    households = owners - public_income
    if households > 0 and not household_areas:
        raise RuleViolation(
            "no_affected_households",
            "the owners' share must be apportioned but no affected household with a floor area is known",
        )
    shares = apportion(households, household_areas) if households > 0 else dict.fromkeys(household_areas, 0)
    return RepairSplit(approved_cost_fen, government, owners, public_income, households, shares)


def _named_public_income(asked: int, owners: int, available: int, use_public_income: bool) -> int:
    if asked < 0:
        raise RuleViolation("invalid_amount", "public_income_fen must not be negative")
    if asked > 0 and not use_public_income:
        raise RuleViolation("public_income_opted_out", "public_income_fen > 0 contradicts use_public_income: false")
    if asked > owners:
        raise RuleViolation(
            "public_income_exceeds_owners_share",
            f"public income pays at most the owners' share ({owners} fen)",
            owners_fen=owners,
        )
    if asked > available:
        raise RuleViolation(
            "insufficient_funds",
            f"the community's public income has {available} fen available (balance minus reservations); "
            f"{asked} fen were asked",
            available_fen=available,
            account="public_income",
        )
    return asked


def check_fund_covers(government_fen: int, available_fen: int) -> None:
    """The district's emergency fund must hold the government share beyond what earlier approvals reserved."""
    if government_fen > available_fen:
        raise RuleViolation(
            "insufficient_funds",
            f"the district's emergency repair fund has {available_fen} fen available (balance minus reservations); "
            f"the government share is {government_fen} fen",
            available_fen=max(0, available_fen),
            account="emergency_fund",
        )


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def period_label(year: int, month: int, period: Period) -> str:
    """The label of the period a (local) year and month fall in: ``2026-03``, ``2026-Q1``, ``2026``."""
    if period is Period.MONTH:
        return f"{year:04d}-{month:02d}"
    if period is Period.QUARTER:
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"
