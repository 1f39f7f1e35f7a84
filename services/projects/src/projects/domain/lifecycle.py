"""The seven-step democratic decision method (民主议事决策七步工作法, Chengdu) as a lifecycle per community.

collect opinions (征求意见) → deliberate (协商讨论) → decide by vote (表决决定) → hearing and review (听证审查) →
implement (组织实施) → supervise throughout (全程监督) → evaluate and feed back (评议反馈).

Each step is judged from the records behind it, never from a flag someone sets:

1. a closed willingness round (``survey.consultation.closed.v1``, kind ``willingness``): ``passed`` is done,
   ``postponed`` (or ``rejected``) blocks the renovation (暂缓改造);
2. a closed menu, demand or scheme round that selected items, or a design-scheme round deliberated up and down
   (三上三下) to its decision (``survey.scheme_round.decided.v1``);
3. a closed round decided by a Civil Code Art. 278 rule (``civil_code_278_major`` / ``civil_code_278_ordinary``)
   that ``passed``; and, when the community deliberated design schemes, every courtyard/building group with its
   chosen scheme (一院一策): a group awaiting its run-off (决选), or decided without a scheme, keeps the step open;
4. the community in a published ranking (``survey.ranking.published.v1``), its project, and its funding plan
   approved by finance (``finance.funding_plan.approved.v1``);
5. the project planned (a current plan), progress reported, done when every package is complete;
6. inspections by resident quality supervisors, done when the project completed with at least one inspection;
7. a satisfaction round closed on or after the completion day.

Of each kind of record the newest (by the time it happened, not by arrival) is kept, so a late event never moves
a step back. The current step is the first one not done (the last one when all are done).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from projects.domain.model import DesignBasis, ProjectStatus

CIVIL_CODE_278_RULES = frozenset({"civil_code_278_major", "civil_code_278_ordinary"})
DELIBERATION_KINDS = frozenset({"menu", "demand", "scheme_vote"})
SELECTION_OUTCOMES = frozenset({"passed", "not_applicable"})


class Step(StrEnum):
    COLLECT_OPINIONS = "collect_opinions"  # 征求意见
    DELIBERATE = "deliberate"  # 协商讨论
    DECIDE_BY_VOTE = "decide_by_vote"  # 表决决定
    HEARING_AND_REVIEW = "hearing_and_review"  # 听证审查
    IMPLEMENT = "implement"  # 组织实施
    SUPERVISE = "supervise"  # 全程监督
    EVALUATE = "evaluate"  # 评议反馈

    @property
    def number(self) -> int:
        return list(Step).index(self) + 1


STEP_NAMES_ZH: dict[Step, str] = {
    Step.COLLECT_OPINIONS: "征求意见",
    Step.DELIBERATE: "协商讨论",
    Step.DECIDE_BY_VOTE: "表决决定",
    Step.HEARING_AND_REVIEW: "听证审查",
    Step.IMPLEMENT: "组织实施",
    Step.SUPERVISE: "全程监督",
    Step.EVALUATE: "评议反馈",
}


class StepStatus(StrEnum):
    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"
    BLOCKED = "blocked"


class Source(StrEnum):
    """The kinds of event-fed records the lifecycle keeps (the newest of each per community)."""

    WILLINGNESS = "willingness"
    DELIBERATION = "deliberation"
    VOTE = "vote"
    RANKING = "ranking"
    FUNDING_PLAN = "funding_plan"
    SATISFACTION = "satisfaction"


class EvidenceKind(StrEnum):
    CONSULTATION = "consultation"
    RANKING = "ranking"
    FUNDING_PLAN = "funding_plan"
    PROJECT = "project"
    PLAN = "plan"
    PROGRESS_REPORT = "progress_report"
    INSPECTION = "inspection"
    SCHEME_DECISION = "scheme_decision"


@dataclass(frozen=True)
class Record:
    """One event-fed record behind a step (a closed consultation, a ranking entry, an approved funding plan)."""

    source: Source
    record_id: str
    occurred_at: datetime
    kind: str = ""  # consultation kind
    rule: str = ""
    outcome: str = ""
    approving_households: int = 0
    total_households: int = 0
    approval_ratio: str = ""
    approval_percent: Decimal | None = None
    detail: str = ""  # e.g. the rank, the funding total


def sources_of_close(kind: str, rule: str, outcome: str, has_selection: bool) -> list[Source]:
    """Which lifecycle records a closed consultation is (none, one or several)."""
    found: list[Source] = []
    if outcome == "pending":
        return found
    if kind == "willingness":
        found.append(Source.WILLINGNESS)
    if kind in DELIBERATION_KINDS and has_selection and outcome in SELECTION_OUTCOMES:
        found.append(Source.DELIBERATION)
    if rule in CIVIL_CODE_278_RULES and outcome in ("passed", "rejected"):
        found.append(Source.VOTE)
    if kind == "satisfaction":
        found.append(Source.SATISFACTION)
    return found


@dataclass(frozen=True)
class ProjectFacts:
    """What projects' own tables say about the community's newest project."""

    project_id: uuid.UUID
    status: ProjectStatus
    created_at: datetime
    current_plan_id: uuid.UUID | None
    packages: int
    packages_complete: int
    completed_on: date | None  # the last package's actual finish, once the project is completed
    reports: int
    last_report_date: date | None
    inspections: int
    failed_inspections: int
    last_inspection_id: uuid.UUID | None
    last_inspected_on: date | None


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    id: str
    at: str | None  # ISO date or date-time of the record (None: it has none, e.g. a plan)
    detail: str = ""


@dataclass(frozen=True)
class StepState:
    step: Step
    status: StepStatus
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Approval:
    """Support before (willingness) or satisfaction after: households approving of all, exact."""

    consultation_id: str
    approving_households: int
    total_households: int
    ratio: str  # exact fraction "n/d" (reduced)
    percent: Decimal


@dataclass(frozen=True)
class Lifecycle:
    community_id: str
    steps: list[StepState]
    current_step: Step
    current_status: StepStatus
    support_before: Approval | None
    satisfaction_after: Approval | None


def _consultation(r: Record) -> Evidence:
    detail = f"{r.kind} · {r.rule} · {r.outcome}"
    if r.approval_ratio:
        detail += f" · {r.approval_ratio} ({r.approval_percent}%)"
    return Evidence(EvidenceKind.CONSULTATION, r.record_id, r.occurred_at.isoformat(), detail)


def approval_of(consultation_id: str, approving: int, total: int) -> Approval:
    """Households approving of all households, exact (``0/1`` of none); the percent rounded half up."""
    value = Fraction(approving, total) if total else Fraction(0)
    percent = Decimal(value.numerator) * 100 / Decimal(value.denominator)
    return Approval(
        consultation_id, approving, total, fraction_str(value), percent.quantize(Decimal("0.01"), ROUND_HALF_UP)
    )


def _approval(r: Record | None) -> Approval | None:
    return None if r is None else approval_of(r.record_id, r.approving_households, r.total_households)


def fraction_str(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _collect(r: Record | None) -> StepState:
    step = Step.COLLECT_OPINIONS
    if r is None:
        return StepState(step, StepStatus.NOT_STARTED, [], ["a closed willingness consultation (第一轮意愿征询)"])
    ev = [_consultation(r)]
    if r.outcome == "passed":
        return StepState(step, StepStatus.DONE, ev)
    if r.outcome in ("postponed", "rejected"):
        return StepState(
            step,
            StepStatus.BLOCKED,
            ev,
            [
                f"willingness round {r.record_id} closed {r.outcome} at {r.approval_ratio} of all households: the "
                "renovation is postponed (暂缓改造) until a new willingness round passes"
            ],
        )
    return StepState(step, StepStatus.IN_PROGRESS, ev, ["a willingness round that passed"])


def _deliberate(r: Record | None, schemes: Sequence[DesignBasis]) -> StepState:
    step = Step.DELIBERATE
    rounds: dict[str, DesignBasis] = {}
    for b in schemes:
        rounds.setdefault(b.round_id, b)
    evidence = [_consultation(r)] if r else []
    evidence += [
        Evidence(
            EvidenceKind.SCHEME_DECISION,
            b.round_id,
            None,
            f"scheme round {b.round_title}: {b.rounds_held} rounds up and down (三上三下)",
        )
        for b in rounds.values()
    ]
    if not evidence:
        return StepState(
            step,
            StepStatus.NOT_STARTED,
            [],
            ["a menu, demand or scheme round closed with selected items, or a design-scheme round decided"],
        )
    return StepState(step, StepStatus.DONE, evidence)


def _scheme(b: DesignBasis) -> Evidence:
    where = f"group {b.group_code}" + (f" (buildings {', '.join(b.building_codes)})" if b.building_codes else "")
    how = f"run-off {b.runoff_number}" if b.decided_by == "runoff" else "final vote"
    chosen = (
        f"{b.proposal_code} v{b.version} {b.title or ''}".rstrip() if b.status == "won" else f"no scheme ({b.status})"
    )
    at = b.decided_at.isoformat() if b.decided_at else None
    return Evidence(EvidenceKind.SCHEME_DECISION, f"{b.round_id}/{b.group_code}", at, f"{where}: {chosen} · {how}")


def _scheme_missing(b: DesignBasis) -> str | None:
    if b.status == "pending":
        return (
            f"group {b.group_code} of scheme round {b.round_title}: no single winner yet — its run-off (决选) must "
            "decide it"
        )
    if b.status != "won":
        return f"group {b.group_code} of scheme round {b.round_title} chose no scheme ({b.status}): a new scheme round"
    return None


def _vote(r: Record | None, schemes: Sequence[DesignBasis]) -> StepState:
    step = Step.DECIDE_BY_VOTE
    if r is None:
        base = StepState(
            step, StepStatus.NOT_STARTED, [], ["a Civil Code Art. 278 vote (civil_code_278_*) that passed"]
        )
    elif r.outcome == "passed":
        base = StepState(step, StepStatus.DONE, [_consultation(r)])
    else:
        base = StepState(
            step,
            StepStatus.IN_PROGRESS,
            [_consultation(r)],
            [f"vote {r.record_id} was {r.outcome}: a new Civil Code Art. 278 vote must pass"],
        )
    if not schemes:
        return base
    missing = base.missing + [m for m in map(_scheme_missing, schemes) if m]
    status = base.status
    if status is StepStatus.NOT_STARTED or (status is StepStatus.DONE and missing):
        status = StepStatus.IN_PROGRESS
    return StepState(step, status, base.evidence + [_scheme(b) for b in schemes if b.decided], missing)


def _review(ranking: Record | None, funding: Record | None, project: ProjectFacts | None) -> StepState:
    step = Step.HEARING_AND_REVIEW
    evidence: list[Evidence] = []
    missing: list[str] = []
    if ranking is not None:
        evidence.append(
            Evidence(EvidenceKind.RANKING, ranking.record_id, ranking.occurred_at.isoformat(), ranking.detail)
        )
    else:
        missing.append("a published ranking that lists the community (survey.ranking.published.v1)")
    if project is not None:
        evidence.append(
            Evidence(
                EvidenceKind.PROJECT, str(project.project_id), project.created_at.isoformat(), project.status.value
            )
        )
    else:
        missing.append("a renovation project of the community")
    if funding is not None:
        evidence.append(
            Evidence(EvidenceKind.FUNDING_PLAN, funding.record_id, funding.occurred_at.isoformat(), funding.detail)
        )
    else:
        missing.append("an approved funding plan (finance.funding_plan.approved.v1)")
    status = StepStatus.DONE if not missing else StepStatus.IN_PROGRESS if evidence else StepStatus.NOT_STARTED
    return StepState(step, status, evidence, missing)


def _implement(project: ProjectFacts | None) -> StepState:
    step = Step.IMPLEMENT
    if project is None:
        return StepState(step, StepStatus.NOT_STARTED, [], ["a renovation project of the community"])
    evidence: list[Evidence] = []
    if project.current_plan_id is not None:
        evidence.append(Evidence(EvidenceKind.PLAN, str(project.current_plan_id), None, "current plan"))
    if project.last_report_date is not None:
        evidence.append(
            Evidence(
                EvidenceKind.PROGRESS_REPORT,
                str(project.project_id),
                project.last_report_date.isoformat(),
                f"{project.reports} reports, latest",
            )
        )
    if project.status is ProjectStatus.COMPLETED:
        return StepState(step, StepStatus.DONE, evidence)
    if project.current_plan_id is None:
        return StepState(step, StepStatus.NOT_STARTED, evidence, ["a plan of the project (POST /v1/plans)"])
    missing = [] if project.reports else ["daily progress reports"]
    missing.append(f"every package complete ({project.packages_complete} of {project.packages} at 100%)")
    return StepState(step, StepStatus.IN_PROGRESS, evidence, missing)


def _supervise(project: ProjectFacts | None) -> StepState:
    step = Step.SUPERVISE
    need = "an inspection recorded by a resident quality supervisor"
    if project is None or project.inspections == 0:
        return StepState(step, StepStatus.NOT_STARTED, [], [need] if project else [need, "a renovation project"])
    assert project.last_inspection_id is not None and project.last_inspected_on is not None
    evidence = [
        Evidence(
            EvidenceKind.INSPECTION,
            str(project.last_inspection_id),
            project.last_inspected_on.isoformat(),
            f"{project.inspections} inspections, {project.failed_inspections} failed; latest",
        )
    ]
    if project.status is ProjectStatus.COMPLETED:
        return StepState(step, StepStatus.DONE, evidence)
    return StepState(step, StepStatus.IN_PROGRESS, evidence, ["supervision lasts until the project completes"])


def _evaluate(r: Record | None, project: ProjectFacts | None, closed_on: date | None) -> StepState:
    step = Step.EVALUATE
    completed = project is not None and project.status is ProjectStatus.COMPLETED
    if r is None:
        missing = ["a satisfaction round closed after completion"]
        if not completed:
            missing.insert(0, "the project's completion")
        return StepState(step, StepStatus.NOT_STARTED, [], missing)
    ev = [_consultation(r)]
    if not completed:
        return StepState(step, StepStatus.IN_PROGRESS, ev, ["the project's completion"])
    assert project is not None
    if project.completed_on is not None and closed_on is not None and closed_on < project.completed_on:
        return StepState(
            step,
            StepStatus.IN_PROGRESS,
            ev,
            [f"a satisfaction round closed on or after the completion day {project.completed_on.isoformat()}"],
        )
    return StepState(step, StepStatus.DONE, ev)


def evaluate(
    community_id: str,
    records: Mapping[Source, Record],
    project: ProjectFacts | None,
    *,
    satisfaction_closed_on: date | None = None,
    schemes: Sequence[DesignBasis] = (),
) -> Lifecycle:
    """The seven steps of one community from its records; ``satisfaction_closed_on`` is the satisfaction round's
    closing day in the service's time zone (compared with the completion day); ``schemes`` the design basis (the
    scheme each courtyard/building group chose, or pending)."""
    steps = [
        _collect(records.get(Source.WILLINGNESS)),
        _deliberate(records.get(Source.DELIBERATION), schemes),
        _vote(records.get(Source.VOTE), schemes),
        _review(records.get(Source.RANKING), records.get(Source.FUNDING_PLAN), project),
        _implement(project),
        _supervise(project),
        _evaluate(records.get(Source.SATISFACTION), project, satisfaction_closed_on),
    ]
    current = next((s for s in steps if s.status is not StepStatus.DONE), steps[-1])
    return Lifecycle(
        community_id=community_id,
        steps=steps,
        current_step=current.step,
        current_status=current.status,
        support_before=_approval(records.get(Source.WILLINGNESS)),
        satisfaction_after=_approval(records.get(Source.SATISFACTION)),
    )
