"""Decision rules of a consultation, computed with exact fractions (never floats).

* ``household_share`` — consent of at least ``threshold`` of *all* households (Jiaxing two-round consultation:
  ≥ 80 % passes, otherwise the renovation is postponed 暂缓改造). The threshold is configurable.
* ``civil_code_278_major`` — PRC Civil Code Art. 278 for renovating or rebuilding buildings and facilities:
  participation ≥ 2/3 of the total exclusive area and ≥ 2/3 of all owners; approval ≥ 3/4 of the participating
  area and ≥ 3/4 of the participating owners ("以上" includes the bound).
* ``civil_code_278_ordinary`` — the same participation; approval strictly more than 1/2 ("过半数") of the
  participating area and of the participating owners.
* ``none`` — no decision (demand and satisfaction surveys): outcome ``not_applicable``.

Headcount: one owner per household (the registry records one owner contact per unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction


class RuleKind(StrEnum):
    HOUSEHOLD_SHARE = "household_share"
    CIVIL_CODE_278_MAJOR = "civil_code_278_major"
    CIVIL_CODE_278_ORDINARY = "civil_code_278_ordinary"
    NONE = "none"


class Outcome(StrEnum):
    PASSED = "passed"
    POSTPONED = "postponed"
    REJECTED = "rejected"
    PENDING = "pending"
    NOT_APPLICABLE = "not_applicable"


class Comparison(StrEnum):
    AT_LEAST = ">="
    MORE_THAN = ">"


DEFAULT_HOUSEHOLD_SHARE = Fraction(4, 5)
TWO_THIRDS = Fraction(2, 3)
THREE_QUARTERS = Fraction(3, 4)
ONE_HALF = Fraction(1, 2)


class RuleError(ValueError):
    """A rule was configured with values that make no sense (e.g. a threshold above 1)."""


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Fraction:
    """Exact ratio; an empty base gives 0 (nothing can pass on nothing)."""
    if denominator == 0:
        return Fraction(0)
    return Fraction(numerator) / Fraction(denominator)


def fraction_str(value: Fraction) -> str:
    """``'n/d'`` in lowest terms (``'1/1'``, ``'0/1'`` included so clients parse one shape)."""
    return f"{value.numerator}/{value.denominator}"


def parse_fraction(text: str) -> Fraction:
    """Parse ``'4/5'`` or ``'0.8'`` exactly (decimal strings go through Decimal, never float)."""
    text = text.strip()
    try:
        if "/" in text:
            num, _, den = text.partition("/")
            value = Fraction(int(num), int(den))
        else:
            value = Fraction(Decimal(text))
    except (ValueError, ZeroDivisionError, ArithmeticError):
        raise RuleError(f"not a fraction: {text!r}") from None
    return value


def percent(value: Fraction, places: int = 2) -> Decimal:
    """Percentage rounded half-up to ``places`` decimals, with integer arithmetic only."""
    scale = 10**places
    quotient, remainder = divmod(value.numerator * 100 * scale, value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    return Decimal(quotient).scaleb(-places)


@dataclass(frozen=True)
class DecisionRule:
    kind: RuleKind
    participation: Fraction = Fraction(0)
    approval: Fraction = Fraction(0)
    approval_comparison: Comparison = Comparison.AT_LEAST

    @classmethod
    def preset(cls, kind: RuleKind | str, threshold: Fraction | None = None) -> DecisionRule:
        kind = RuleKind(kind)
        if kind is RuleKind.HOUSEHOLD_SHARE:
            share = DEFAULT_HOUSEHOLD_SHARE if threshold is None else threshold
            if not (0 < share <= 1):
                raise RuleError("household_share threshold must be in (0, 1]")
            return cls(kind, approval=share)
        if threshold is not None:
            raise RuleError(f"{kind.value} has fixed legal thresholds; a custom threshold is not allowed")
        if kind is RuleKind.CIVIL_CODE_278_MAJOR:
            return cls(kind, participation=TWO_THIRDS, approval=THREE_QUARTERS)
        if kind is RuleKind.CIVIL_CODE_278_ORDINARY:
            return cls(kind, participation=TWO_THIRDS, approval=ONE_HALF, approval_comparison=Comparison.MORE_THAN)
        return cls(kind)

    @property
    def failure_outcome(self) -> Outcome:
        return Outcome.POSTPONED if self.kind is RuleKind.HOUSEHOLD_SHARE else Outcome.REJECTED


@dataclass(frozen=True)
class Tally:
    """Counts a decision is computed from. Areas are exact decimals (m², two places)."""

    total_households: int
    total_area: Decimal
    participating_households: int
    participating_area: Decimal
    approving_households: int
    approving_area: Decimal

    def __post_init__(self) -> None:
        if not (0 <= self.approving_households <= self.participating_households <= self.total_households):
            raise RuleError("need 0 <= approving <= participating <= total households")
        if not (0 <= self.approving_area <= self.participating_area <= self.total_area):
            raise RuleError("need 0 <= approving <= participating <= total area")

    @property
    def participation_households_ratio(self) -> Fraction:
        return ratio(self.participating_households, self.total_households)

    @property
    def participation_area_ratio(self) -> Fraction:
        return ratio(self.participating_area, self.total_area)

    @property
    def approval_households_ratio(self) -> Fraction:
        """Approving households over participating ones (the Civil Code base)."""
        return ratio(self.approving_households, self.participating_households)

    @property
    def approval_area_ratio(self) -> Fraction:
        return ratio(self.approving_area, self.participating_area)

    @property
    def consent_of_all_ratio(self) -> Fraction:
        """Approving households over *all* households (the household_share base)."""
        return ratio(self.approving_households, self.total_households)


@dataclass(frozen=True)
class Condition:
    name: str
    actual: Fraction
    required: Fraction
    comparison: Comparison

    @property
    def met(self) -> bool:
        if self.comparison is Comparison.AT_LEAST:
            return self.actual >= self.required
        return self.actual > self.required

    @property
    def slack(self) -> Fraction:
        return self.actual - self.required

    def describe(self) -> str:
        verdict = "met" if self.met else "not met"
        return (
            f"{self.name} {fraction_str(self.actual)} {self.comparison.value} {fraction_str(self.required)}: {verdict}"
        )


@dataclass(frozen=True)
class Decision:
    rule: RuleKind
    outcome: Outcome
    decided_by: str
    conditions: tuple[Condition, ...]
    provisional_outcome: Outcome


def conditions_for(rule: DecisionRule, tally: Tally) -> tuple[Condition, ...]:
    if rule.kind is RuleKind.NONE:
        return ()
    if rule.kind is RuleKind.HOUSEHOLD_SHARE:
        return (Condition("consent_of_all_households", tally.consent_of_all_ratio, rule.approval, Comparison.AT_LEAST),)
    at_least, approve = Comparison.AT_LEAST, rule.approval_comparison
    return (
        Condition("participation_area", tally.participation_area_ratio, rule.participation, at_least),
        Condition("participation_owners", tally.participation_households_ratio, rule.participation, at_least),
        Condition("approval_area", tally.approval_area_ratio, rule.approval, approve),
        Condition("approval_owners", tally.approval_households_ratio, rule.approval, approve),
    )


def decide(rule: DecisionRule, tally: Tally, *, final: bool) -> Decision:
    """Apply ``rule`` to ``tally``.

    ``decided_by`` names the first condition (in legal order: participation before approval, area before
    headcount) that failed; when all are met, the binding one — the condition with the least slack.
    While the consultation is still open (``final=False``) the outcome is ``pending`` and
    ``provisional_outcome`` says what closing now would give.
    """
    conditions = conditions_for(rule, tally)
    if not conditions:
        outcome, decided_by = Outcome.NOT_APPLICABLE, "no_decision_rule"
    else:
        failed = [c for c in conditions if not c.met]
        if failed:
            outcome, decided_by = rule.failure_outcome, failed[0].name
        else:
            outcome, decided_by = Outcome.PASSED, min(conditions, key=lambda c: c.slack).name
    return Decision(
        rule=rule.kind,
        outcome=outcome if final else Outcome.PENDING,
        decided_by=decided_by,
        conditions=conditions,
        provisional_outcome=outcome,
    )
