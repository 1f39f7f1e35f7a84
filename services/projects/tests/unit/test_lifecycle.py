"""The seven steps judged from their records (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from projects.domain.lifecycle import (
    ProjectFacts,
    Record,
    Source,
    Step,
    StepStatus,
    approval_of,
    evaluate,
    sources_of_close,
)
from projects.domain.model import DesignBasis, ProjectStatus

T = datetime(2026, 5, 1, tzinfo=UTC)


def rec(source: Source, outcome: str = "passed", **over) -> Record:
    base = dict(source=source, record_id=f"{source.value}-1", occurred_at=T, kind=source.value, outcome=outcome,
                approving_households=85, total_households=100, approval_ratio="17/20")  # fmt: skip
    base.update(over)
    return Record(**base)


def facts(status: ProjectStatus, *, inspections: int = 0, completed_on: date | None = None) -> ProjectFacts:
    return ProjectFacts(
        project_id=uuid.uuid4(), status=status, created_at=T,
        current_plan_id=None if status is ProjectStatus.DRAFT else uuid.uuid4(), packages=2,
        packages_complete=2 if status is ProjectStatus.COMPLETED else 0, completed_on=completed_on,
        reports=0 if status in (ProjectStatus.DRAFT, ProjectStatus.PLANNED) else 3, last_report_date=None,
        inspections=inspections, failed_inspections=0, last_inspection_id=uuid.uuid4() if inspections else None,
        last_inspected_on=date(2026, 4, 1) if inspections else None,
    )  # fmt: skip


def test_which_records_a_closed_round_is():
    assert sources_of_close("willingness", "household_share", "postponed", False) == [Source.WILLINGNESS]
    assert sources_of_close("menu", "none", "not_applicable", True) == [Source.DELIBERATION]
    assert sources_of_close("menu", "none", "not_applicable", False) == []
    assert sources_of_close("scheme_vote", "civil_code_278_major", "passed", True) == [Source.DELIBERATION, Source.VOTE]
    assert sources_of_close("scheme_vote", "civil_code_278_ordinary", "rejected", False) == [Source.VOTE]
    assert sources_of_close("satisfaction", "none", "not_applicable", False) == [Source.SATISFACTION]
    assert sources_of_close("willingness", "household_share", "pending", False) == []


def test_nothing_recorded_is_the_first_step_not_started():
    life = evaluate("c", {}, None)
    assert [s.status for s in life.steps] == [StepStatus.NOT_STARTED] * 7
    assert life.current_step is Step.COLLECT_OPINIONS and all(s.missing for s in life.steps)


def test_a_postponed_round_blocks_step_one_and_says_why():
    life = evaluate("c", {Source.WILLINGNESS: rec(Source.WILLINGNESS, "postponed", approval_ratio="7/10")}, None)
    first = life.steps[0]
    assert first.status is StepStatus.BLOCKED and life.current_status is StepStatus.BLOCKED
    assert "暂缓改造" in first.missing[0] and "7/10" in first.missing[0]


def test_review_needs_ranking_project_and_funding():
    records = {s: rec(s) for s in (Source.WILLINGNESS, Source.DELIBERATION, Source.VOTE, Source.RANKING)}
    life = evaluate("c", records, facts(ProjectStatus.DRAFT))
    assert life.current_step is Step.HEARING_AND_REVIEW and life.current_status is StepStatus.IN_PROGRESS
    assert life.steps[3].missing == ["an approved funding plan (finance.funding_plan.approved.v1)"]
    life = evaluate("c", {**records, Source.FUNDING_PLAN: rec(Source.FUNDING_PLAN)}, facts(ProjectStatus.DRAFT))
    assert life.current_step is Step.IMPLEMENT and life.current_status is StepStatus.NOT_STARTED


def test_satisfaction_counts_only_after_completion():
    records = {s: rec(s) for s in Source}
    early = evaluate("c", records, facts(ProjectStatus.IN_PROGRESS, inspections=1), satisfaction_closed_on=T.date())
    assert early.steps[6].status is StepStatus.IN_PROGRESS and early.steps[6].missing == ["the project's completion"]
    assert early.steps[5].status is StepStatus.IN_PROGRESS
    done = facts(ProjectStatus.COMPLETED, inspections=1, completed_on=date(2026, 5, 1))
    life = evaluate("c", records, done, satisfaction_closed_on=date(2026, 5, 1))
    assert [s.status for s in life.steps] == [StepStatus.DONE] * 7 and life.current_step is Step.EVALUATE
    before = evaluate("c", records, done, satisfaction_closed_on=date(2026, 4, 30))
    assert before.steps[6].status is StepStatus.IN_PROGRESS and "2026-05-01" in before.steps[6].missing[0]


def test_a_completed_project_without_inspections_waits_at_supervision():
    records = {s: rec(s) for s in Source}
    life = evaluate("c", records, facts(ProjectStatus.COMPLETED, completed_on=date(2026, 5, 1)),
                    satisfaction_closed_on=date(2026, 5, 2))  # fmt: skip
    assert life.current_step is Step.SUPERVISE and life.current_status is StepStatus.NOT_STARTED


def test_approval_is_exact_in_lowest_terms():
    assert approval_of("x", 85, 100).ratio == "17/20" and approval_of("x", 85, 100).percent == Decimal("85.00")
    assert approval_of("x", 2, 3).percent == Decimal("66.67") and approval_of("x", 1, 8).percent == Decimal("12.50")
    assert approval_of("x", 0, 0).ratio == "0/1" and approval_of("x", 0, 0).percent == Decimal("0.00")


def basis(code: str, status: str = "won", **over) -> DesignBasis:
    base = dict(round_id="r1", round_title="车棚方案", rounds_held=3, group_code=code, building_codes=("1",),
                status=status, proposal_code="P1" if status == "won" else None, version=3 if status == "won" else None,
                title="立体车棚" if status == "won" else None, decided_by=None if status == "pending" else "final_vote",
                decided_at=None if status == "pending" else T)  # fmt: skip
    base.update(over)
    return DesignBasis(**base)


def test_scheme_decisions_back_deliberation_and_every_group_must_have_its_scheme():
    records = {Source.WILLINGNESS: rec(Source.WILLINGNESS), Source.VOTE: rec(Source.VOTE, rule="civil_code_278_major")}
    steps = {s.step: s for s in evaluate("c", records, None, schemes=[basis("A"), basis("B", "pending")]).steps}
    deliberate, vote = steps[Step.DELIBERATE], steps[Step.DECIDE_BY_VOTE]
    assert deliberate.status is StepStatus.DONE and deliberate.evidence[0].id == "r1"
    assert vote.status is StepStatus.IN_PROGRESS  # the Art. 278 vote passed, but courtyard B awaits its run-off
    assert [e.id for e in vote.evidence] == ["vote-1", "r1/A"] and "P1 v3 立体车棚" in vote.evidence[1].detail
    assert len(vote.missing) == 1 and "group B" in vote.missing[0] and "run-off" in vote.missing[0]
    # B decided by its run-off: the step is done
    b = basis("B", decided_by="runoff", runoff_number=1)
    vote = {s.step: s for s in evaluate("c", records, None, schemes=[basis("A"), b]).steps}[Step.DECIDE_BY_VOTE]
    assert vote.status is StepStatus.DONE and vote.missing == [] and "run-off 1" in vote.evidence[2].detail
    # decided without a scheme: still open, a new round is needed
    vote = {s.step: s for s in evaluate("c", records, None, schemes=[basis("A", "tied")]).steps}[Step.DECIDE_BY_VOTE]
    assert vote.status is StepStatus.IN_PROGRESS and "no scheme (tied)" in vote.missing[0]
    # without any scheme round nothing changes
    assert {s.step: s for s in evaluate("c", records, None).steps}[Step.DECIDE_BY_VOTE].status is StepStatus.DONE
