"""Events produced by the finance service. Money is integer fen."""

from __future__ import annotations

from datetime import datetime

from renovation_common.events import EventData, event_contract


class SourceAmount(EventData):
    source: str
    amount_fen: int


@event_contract("finance.funding_plan.approved.v1", "A project's funding plan was approved.")
class FundingPlanApproved(EventData):
    funding_plan_id: str
    project_id: str
    community_id: str
    district_id: str
    total_fen: int
    sources: list[SourceAmount]


@event_contract("finance.disbursement.posted.v1", "Money was disbursed to a project against a milestone.")
class DisbursementPosted(EventData):
    disbursement_id: str
    funding_plan_id: str
    project_id: str
    community_id: str
    district_id: str
    amount_fen: int
    milestone: str


@event_contract("finance.emergency_repair.requested.v1", "An emergency repair (危急维修) was requested.")
class EmergencyRepairRequested(EventData):
    request_id: str
    community_id: str
    district_id: str
    origin: str  # community_worker | resident | alarm
    alarm_id: str | None = None
    estimated_cost_fen: int | None = None
    eligible: bool
    refusal_reason: str | None = None


@event_contract("finance.emergency_repair.approved.v1", "An emergency repair was approved with its 80/20 split.")
class EmergencyRepairApproved(EventData):
    request_id: str
    community_id: str
    district_id: str
    approved_cost_fen: int
    government_share_fen: int
    owners_share_fen: int
    public_income_fen: int
    households_fen: int
    households_count: int


@event_contract("finance.emergency_repair.paid.v1", "The split of an emergency repair was posted to the ledger.")
class EmergencyRepairPaid(EventData):
    request_id: str
    community_id: str
    district_id: str
    approved_cost_fen: int
    transfer_group_id: str
    paid_at: datetime


@event_contract(
    "finance.emergency_repair.closed.v1",
    "An emergency repair request was rejected (before approval) or cancelled (after it: its reservations released, "
    "its dues cancelled).",
)
class EmergencyRepairClosed(EventData):
    request_id: str
    community_id: str
    district_id: str
    status: str  # rejected | cancelled
    released_fen: int  # what the reservations held (fund + public income), 0 for a rejection
    closed_at: datetime


@event_contract("finance.contribution.paid.v1", "A household paid a contribution due.")
class ContributionPaid(EventData):
    due_id: str
    scheme_id: str
    community_id: str
    district_id: str
    household_id: str
    amount_fen: int
