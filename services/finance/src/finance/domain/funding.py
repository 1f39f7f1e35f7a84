"""Funding plans from the "four a little" sources (四个一点) and disbursement against milestones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from finance.domain.errors import RuleViolation

MAX_PLAN_FEN = 10**14


class FundingSource(StrEnum):
    # government puts in a little (政府补一点)
    GOVERNMENT_SUBSIDY = "government_subsidy"
    SPECIAL_BONDS = "special_bonds"
    GENERAL_BONDS = "general_bonds"
    POLICY_BANK_LOANS = "policy_bank_loans"
    # the market a little (市场投一点)
    SOCIAL_CAPITAL = "social_capital"
    PROPERTY_RIGHT_UNITS = "property_right_units"
    # residents a little (居民出一点)
    RESIDENT_CONTRIBUTIONS = "resident_contributions"
    # society a little (社会帮一点)
    DONATIONS = "donations"


SOURCE_GROUP = {
    FundingSource.GOVERNMENT_SUBSIDY: "government",
    FundingSource.SPECIAL_BONDS: "government",
    FundingSource.GENERAL_BONDS: "government",
    FundingSource.POLICY_BANK_LOANS: "government",
    FundingSource.SOCIAL_CAPITAL: "market",
    FundingSource.PROPERTY_RIGHT_UNITS: "market",
    FundingSource.RESIDENT_CONTRIBUTIONS: "residents",
    FundingSource.DONATIONS: "society",
}


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


@dataclass(frozen=True)
class PlanLine:
    source: FundingSource
    planned_fen: int


@dataclass(frozen=True)
class Milestone:
    code: str
    amount_fen: int


def validate_plan(lines: Sequence[PlanLine], milestones: Sequence[Milestone]) -> int:
    """Check a plan; return its total."""
    if not lines:
        raise RuleViolation("plan_without_sources", "a funding plan needs at least one source")
    sources = [line.source for line in lines]
    if len(set(sources)) != len(sources):
        raise RuleViolation("duplicate_source", "each source appears once in a plan")
    if any(not 0 < line.planned_fen <= MAX_PLAN_FEN for line in lines):
        raise RuleViolation("invalid_amount", "planned amounts must be positive")
    total = sum(line.planned_fen for line in lines)
    codes = [m.code for m in milestones]
    if len(set(codes)) != len(codes):
        raise RuleViolation("duplicate_milestone", "milestone codes must be unique within a plan")
    if any(m.amount_fen <= 0 for m in milestones):
        raise RuleViolation("invalid_amount", "milestone amounts must be positive")
    if sum(m.amount_fen for m in milestones) > total:
        raise RuleViolation("milestones_exceed_plan", "milestone amounts exceed the plan's total")
    return total


def check_disbursement(status: PlanStatus, milestone: Milestone | None, already_fen: int, amount_fen: int) -> None:
    if status is not PlanStatus.APPROVED:
        raise RuleViolation("plan_not_approved", "money is disbursed only under an approved plan", status=409)
    if milestone is None:
        raise RuleViolation("unknown_milestone", "the milestone is not part of this plan")
    if amount_fen <= 0:
        raise RuleViolation("invalid_amount", "a disbursement must be positive")
    if already_fen + amount_fen > milestone.amount_fen:
        raise RuleViolation(
            "milestone_overdrawn",
            f"milestone {milestone.code} has {milestone.amount_fen - already_fen} fen left",
            remaining_fen=milestone.amount_fen - already_fen,
        )
