"""Exact money arithmetic: integer fen, exact fractions, largest-remainder apportionment.

Rounding rules (documented once, used everywhere):

* amounts are integers in fen (分); intermediate values are exact :class:`~fractions.Fraction` s, never floats;
* a single amount computed from a rate (e.g. a maintenance-fund due = area × rate) is rounded **half up** to the fen;
* an amount split among several parties is apportioned with the **largest-remainder method** (Hamilton): every
  party gets the floor of its exact share, then the fen left over go one each to the parties with the largest
  fractional remainders; ties go to the larger weight, then to the smaller key (lexicographic). The parts sum
  exactly to the total and every part differs from its exact pro-rata share by less than one fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from finance.domain.errors import RuleViolation

Weight = Decimal | int | Fraction


def round_half_up(value: Fraction) -> int:
    """Round an exact non-negative or negative amount of fen to the nearest fen, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    floor = magnitude.numerator // magnitude.denominator
    if magnitude - floor >= Fraction(1, 2):
        floor += 1
    return sign * floor


def fraction_of(value: Weight) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise RuleViolation("invalid_weight", "weights must be finite numbers")
        return Fraction(value)
    return Fraction(value)


def apportion(total_fen: int, weights: Mapping[str, Weight]) -> dict[str, int]:
    """Split ``total_fen`` among ``weights`` (key → positive weight) exactly, by largest remainder.

    Deterministic: the result depends only on the mapping's contents, never on its order.
    """
    if total_fen < 0:
        raise RuleViolation("invalid_amount", "the amount to apportion must not be negative")
    if not weights:
        if total_fen == 0:
            return {}
        raise RuleViolation("nothing_to_apportion_to", "there is no party to apportion the amount to")
    exact_weights = {key: fraction_of(w) for key, w in weights.items()}
    if any(w <= 0 for w in exact_weights.values()):
        raise RuleViolation("invalid_weight", "every weight (e.g. floor area) must be positive")
    total_weight = sum(exact_weights.values(), Fraction(0))
    quotas = {key: total_fen * w / total_weight for key, w in exact_weights.items()}
    shares = {key: q.numerator // q.denominator for key, q in quotas.items()}
    left = total_fen - sum(shares.values())
    order = sorted(quotas, key=lambda k: (-(quotas[k] - shares[k]), -exact_weights[k], k))
    for key in order[:left]:
        shares[key] += 1
    return shares


def percent(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator`` as a percentage with two decimals (half up); 0 when the base is 0."""
    if denominator == 0:
        return Decimal("0.00")
    value = Fraction(numerator * 100, denominator)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def fen_to_wan_yuan(fen: int) -> Decimal:
    """Fen → 万元 with two decimals (half up), the unit of the Jiaxing statistics (1073.54万元)."""
    return (Decimal(fen) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
