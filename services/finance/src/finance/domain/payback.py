"""Payback analysis for social capital (the Jinsong model, 劲松模式): invest, then recover through property fees,
parking, commercial rents and subsidies within a set period ("micro-profit, sustainable", 微利可持续).

Everything is exact: inputs are integer fen and :class:`~decimal.Decimal` rates, the arithmetic is
:class:`~fractions.Fraction`. Each year's revenue and cost lines are rounded half up to the fen; NPV and IRR are
computed on those reported yearly cash flows. IRR is found by bisection on the NPV (conventional cash flows:
an outlay, then net inflows), to 1e-9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from finance.domain.errors import RuleViolation
from finance.domain.money import round_half_up

MAX_YEARS = 50
IRR_LOW = Fraction(-99, 100)
IRR_HIGH = Fraction(10)
IRR_TOLERANCE = Fraction(1, 10**9)


class StreamKind(StrEnum):
    PROPERTY_FEE = "property_fee"  # fee per m² per month × managed area × 12 × collection rate
    PARKING = "parking"
    COMMERCIAL_RENT = "commercial_rent"
    SUBSIDY = "subsidy"
    OTHER = "other"


@dataclass(frozen=True)
class RevenueStream:
    kind: StreamKind
    name: str = ""
    annual_fen: int = 0
    fee_fen_per_m2_month: int = 0
    area_m2: Decimal = Decimal(0)
    collection_rate: Decimal = Decimal(1)
    growth_rate: Decimal = Decimal(0)
    start_year: int = 1
    end_year: int | None = None

    def base_fen(self) -> Fraction:
        """First-year amount (exact)."""
        if self.kind is StreamKind.PROPERTY_FEE:
            return Fraction(self.fee_fen_per_m2_month) * Fraction(self.area_m2) * 12 * Fraction(self.collection_rate)
        return Fraction(self.annual_fen)


@dataclass(frozen=True)
class CostLine:
    name: str
    annual_fen: int
    growth_rate: Decimal = Decimal(0)
    start_year: int = 1
    end_year: int | None = None


@dataclass(frozen=True)
class PaybackInput:
    investment_fen: int
    years: int
    discount_rate: Decimal
    revenues: Sequence[RevenueStream] = ()
    costs: Sequence[CostLine] = ()


@dataclass(frozen=True)
class YearFlow:
    year: int
    revenue_fen: int
    cost_fen: int
    net_fen: int
    cumulative_fen: int
    discounted_fen: int
    cumulative_discounted_fen: int


@dataclass(frozen=True)
class PaybackResult:
    flows: list[YearFlow]
    payback_year: int | None
    payback_period_years: Decimal | None
    discounted_payback_year: int | None
    npv_fen: int
    irr: Decimal | None
    revenue_by_kind_fen: dict[str, int] = field(default_factory=dict)


def _grown(base: Fraction, growth: Decimal, start: int, end: int | None, year: int) -> Fraction:
    if year < start or (end is not None and year > end):
        return Fraction(0)
    return base * (1 + Fraction(growth)) ** (year - start)


def _validate(inp: PaybackInput) -> None:
    if not 1 <= inp.years <= MAX_YEARS:
        raise RuleViolation("invalid_horizon", f"years must be between 1 and {MAX_YEARS}")
    if inp.investment_fen < 0:
        raise RuleViolation("invalid_amount", "investment_fen must not be negative")
    if not Decimal("-0.99") < inp.discount_rate <= Decimal(1):
        raise RuleViolation("invalid_rate", "discount_rate must be in (-0.99, 1]")
    lines: list[RevenueStream | CostLine] = [*inp.revenues, *inp.costs]
    for line in lines:
        if not Decimal(-1) < line.growth_rate <= Decimal(1):
            raise RuleViolation("invalid_rate", "growth rates must be in (-1, 1]")
        if line.start_year < 1 or (line.end_year is not None and line.end_year < line.start_year):
            raise RuleViolation("invalid_period", "start_year must be ≥ 1 and end_year ≥ start_year")


def npv(rate: Fraction, cash_flows: Sequence[int]) -> Fraction:
    """Net present value of ``cash_flows`` (year 0 first) at ``rate``."""
    factor = 1 + rate
    return sum((Fraction(cf) / factor**t for t, cf in enumerate(cash_flows)), Fraction(0))


def irr(cash_flows: Sequence[int]) -> Fraction | None:
    """Internal rate of return by bisection on (-99%, 1000%); ``None`` when NPV does not change sign there."""
    if not any(cf < 0 for cf in cash_flows) or not any(cf > 0 for cf in cash_flows):
        return None
    lo, hi = IRR_LOW, IRR_HIGH
    npv_lo, npv_hi = npv(lo, cash_flows), npv(hi, cash_flows)
    if npv_lo == 0:
        return lo
    if npv_hi == 0:
        return hi
    if (npv_lo > 0) == (npv_hi > 0):
        return None
    while hi - lo > IRR_TOLERANCE:
        mid = (lo + hi) / 2
        # Snap the midpoint to a short dyadic-free decimal so the fractions stay small.
        mid = Fraction(round(mid * 10**12), 10**12)
        value = npv(mid, cash_flows)
        if value == 0:
            return mid
        if (value > 0) == (npv_lo > 0):
            lo, npv_lo = mid, value
        else:
            hi = mid
    return (lo + hi) / 2


def _to_decimal(value: Fraction, places: int) -> Decimal:
    q = Decimal(1).scaleb(-places)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, rounding=ROUND_HALF_UP)


def analyse(inp: PaybackInput) -> PaybackResult:
    """Yearly cash flows, payback year (simple and discounted), NPV and IRR."""
    _validate(inp)
    rate = Fraction(inp.discount_rate)
    flows: list[YearFlow] = []
    cash = [-inp.investment_fen]
    cumulative = -inp.investment_fen
    cumulative_disc = Fraction(-inp.investment_fen)
    payback_year: int | None = 0 if inp.investment_fen == 0 else None
    payback_period: Decimal | None = Decimal(0) if payback_year == 0 else None
    disc_payback: int | None = payback_year
    by_kind: dict[str, int] = {}
    for year in range(1, inp.years + 1):
        revenue = 0
        for stream in inp.revenues:
            amount = round_half_up(
                _grown(stream.base_fen(), stream.growth_rate, stream.start_year, stream.end_year, year)
            )
            by_kind[stream.kind.value] = by_kind.get(stream.kind.value, 0) + amount
            revenue += amount
        cost = sum(
            round_half_up(_grown(Fraction(c.annual_fen), c.growth_rate, c.start_year, c.end_year, year))
            for c in inp.costs
        )
        net = revenue - cost
        previous = cumulative
        cumulative += net
        discounted = Fraction(net) / (1 + rate) ** year
        cumulative_disc += discounted
        if payback_year is None and cumulative >= 0:
            payback_year = year
            payback_period = _to_decimal(Fraction(year - 1) + Fraction(-previous, net), 2)
        if disc_payback is None and cumulative_disc >= 0:
            disc_payback = year
        cash.append(net)
        flows.append(
            YearFlow(year, revenue, cost, net, cumulative, round_half_up(discounted), round_half_up(cumulative_disc))
        )
    found = irr(cash)
    return PaybackResult(
        flows=flows,
        payback_year=payback_year,
        payback_period_years=payback_period,
        discounted_payback_year=disc_payback,
        npv_fen=round_half_up(npv(rate, cash)),
        irr=None if found is None else _to_decimal(found, 6),
        revenue_by_kind_fen=by_kind,
    )
