"""Reading rounds: a round with its lineage and the result per group, a community's rounds, the lineage export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal
from renovation_common.db import ReadOnlyUnitOfWork
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import HouseholdRepository, TallyRepository
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import (
    SchemeGroupRow,
    SchemeProposalRow,
    SchemeRoundRow,
)
from survey.domain import deliberation as d
from survey.domain.consultation import State as ConsultationState
from survey.domain.rules import Outcome
from survey.service_layer.consultations.mapping import setup_of
from survey.service_layer.consultations.results import compute, result_document
from survey.service_layer.deliberation.common import (
    CLOSED_STATES,
    SCHEME_QUESTION,
    community_of,
    ensure_staff,
    error_of,
    load_round,
    stage_of,
)
from survey.service_layer.registry import ensure_reads_community


# -- reads ---------------------------------------------------------------------------------------------------------
async def get_round(
    uow: ReadOnlyUnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime
) -> dict[str, Any]:
    """The round, its groups (buildings, final vote and its result per group) and every proposal's lineage."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id)
        if principal.is_staff:
            ensure_staff(principal, row)
        else:
            await ensure_reads_community(
                HouseholdRepository(uow.session), principal, await community_of(repo, row.community_id)
            )
        view = await round_view(repo, row, now=now)
        if not principal.is_staff:  # residents read a vote's result once it is published, as every consultation's
            published = ConsultationState.PUBLISHED.value
            for g in view["groups"]:
                for vote in (g["final_vote"], *g["runoffs"]):
                    if vote["state"] != published:
                        vote["result"] = None
                deciding = g["runoffs"][-1] if g["runoffs"] else g["final_vote"]
                if deciding["state"] != published:
                    g["decision"]["winner"], g["decision"]["next_runoff_candidates"] = None, []
        return view


async def list_rounds(
    uow: ReadOnlyUnitOfWork,
    principal: Principal,
    community_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A community's scheme rounds by id (staff covering it; its residents, placed by the registry)."""
    async with uow:
        repo = SchemeRepository(uow.session)
        c = await community_of(repo, community_id)
        await ensure_reads_community(HouseholdRepository(uow.session), principal, c)
        return [
            {
                "id": str(r.id),
                "community_id": str(r.community_id),
                "title": r.title,
                "state": r.state,
                "round_no": r.round_no,
                "phase": r.phase,
                "stage_label": stage_of(r).label,
                "created_at": r.created_at.isoformat(),
                "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            }
            for r in await repo.rounds_page(c.id, after, limit)
        ]


async def _chains(repo: SchemeRepository, row: SchemeRoundRow) -> dict[str, list[d.VersionNode]]:
    counts = await repo.feedback_counts(row.id)
    nodes = [
        d.VersionNode(
            id=str(v.id),
            proposal_id=str(v.proposal_id),
            number=v.number,
            parent_id=str(v.parent_id) if v.parent_id else None,
            changes=v.changes,
            answers_feedback=tuple(v.answers_feedback or ()),
            support=counts.get(v.id, {}).get(d.Stance.SUPPORT.value, 0),
            concerns=counts.get(v.id, {}).get(d.Stance.CONCERNS.value, 0),
        )
        for v in await repo.versions(row.id)
    ]
    try:
        return d.lineage(nodes)
    except d.DeliberationError as exc:
        raise error_of(exc) from None


async def round_view(repo: SchemeRepository, row: SchemeRoundRow, *, now: datetime) -> dict[str, Any]:
    versions = {v.id: v for v in await repo.versions(row.id)}
    chains = await _chains(repo, row)
    proposals = await repo.proposals(row.id)
    by_code = {p.code: p for p in proposals}
    current = {p.code: chains[str(p.id)][-1] for p in proposals}
    stage = stage_of(row)
    proposal_docs = [
        {
            "id": str(p.id),
            "code": p.code,
            "source_kind": p.source_kind,
            "proposer": p.proposer,
            "group_codes": p.group_codes,
            "current_version": current[p.code].number,
            "versions": [
                {
                    "id": n.id,
                    "number": n.number,
                    "label": f"v{n.number}",
                    "parent_id": n.parent_id,
                    "title": versions[uuid.UUID(n.id)].title,
                    "summary": versions[uuid.UUID(n.id)].summary,
                    "document_ref": versions[uuid.UUID(n.id)].document_ref,
                    "changes": n.changes,
                    "answers_feedback": list(n.answers_feedback),
                    "published_in_round": versions[uuid.UUID(n.id)].published_in_round,
                    "feedback": {"support": n.support, "concerns": n.concerns, "total": n.support + n.concerns},
                    "created_at": versions[uuid.UUID(n.id)].created_at.isoformat(),
                }
                for n in chains[str(p.id)]
            ],
        }
        for p in proposals
    ]
    buildings = await repo.group_buildings(row.id)
    runoffs = await repo.runoffs(row.id)
    groups = []
    for g in await repo.groups(row.id):
        codes = [code for _, code in buildings.get(g.id, [])]
        vote: dict[str, Any] = {"consultation_id": None, "state": None, "result": None}
        if g.consultation_id is not None:
            vote = await _vote_view(repo, g.consultation_id, g.result, by_code, now)
        held = []
        for r in runoffs.get(g.id, []):
            held.append(
                {"number": r.number, "candidates": list(r.candidates)}
                | await _vote_view(repo, r.consultation_id, r.result, by_code, now)
            )
        groups.append(
            {
                "code": g.code,
                "name": g.name,
                "building_codes": codes,
                "final_vote": vote,
                "runoffs": held,
                "decision": _decision(g, vote, held),
                "winner_version_id": str(g.winner_version_id) if g.winner_version_id else None,
            }
        )
    return {
        "id": str(row.id),
        "community_id": str(row.community_id),
        "title": row.title,
        "state": row.state,
        "round_no": row.round_no,
        "phase": row.phase,
        "stage_label": stage.label,
        "round_limit": d.ROUND_LIMIT,
        "groups": groups,
        "proposals": proposal_docs,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "version": row.version,
    }


async def _vote_view(
    repo: SchemeRepository,
    consultation_id: uuid.UUID,
    frozen: dict[str, Any] | None,
    proposals: dict[str, SchemeProposalRow],
    now: datetime,
) -> dict[str, Any]:
    """A group's vote (its final vote or a run-off): the consultation's state and its result, frozen once counted,
    else live."""
    consultation = await repo.consultation(consultation_id)
    assert consultation is not None
    return {
        "consultation_id": str(consultation.id),
        "state": consultation.state,
        "result": frozen or await group_result(repo, consultation, proposals, now),
    }


def _decision(g: SchemeGroupRow, final_vote: dict[str, Any], runoffs: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the group stands (一院一策: decided when one scheme won, or when no run-off can be held): which vote
    decided it and its winner; the candidates of the next run-off while one may be opened."""
    decision = d.GroupDecision(g.decision)
    deciding = runoffs[-1] if runoffs else final_vote
    counted = decision in (d.GroupDecision.AWAITING_RUNOFF, d.GroupDecision.DECIDED)
    result = deciding["result"] if counted else None
    return {
        "status": decision.value,
        "decided_at": g.decided_at.isoformat() if g.decided_at else None,
        "decided_by": ("runoff" if runoffs else "final_vote") if decision is d.GroupDecision.DECIDED else None,
        "runoff_number": runoffs[-1]["number"] if runoffs and decision is d.GroupDecision.DECIDED else None,
        "winner": result["winner"] if result and decision is d.GroupDecision.DECIDED else None,
        "runoffs_held": len(runoffs),
        "runoff_limit": d.RUNOFF_LIMIT,
        "next_runoff_candidates": list(result["runoff_candidates"])
        if result and decision is d.GroupDecision.AWAITING_RUNOFF
        else [],
    }


async def group_result(
    repo: SchemeRepository,
    consultation: ConsultationRow,
    proposals: dict[str, SchemeProposalRow],
    now: datetime,
) -> dict[str, Any]:
    """The group's vote: the group's own consultation's result — its electorate is the households of the group's
    buildings (``building_codes``), the same document its ``GET /result`` shows: from the tallies while open,
    frozen once closed — and the scheme most of them chose."""
    final = consultation.state in CLOSED_STATES
    doc = consultation.final_result or result_document(
        consultation,
        await compute(TallyRepository(repo.session), consultation, final=final, year=now.year),
        now,
    )
    setup = setup_of(consultation)
    votes = dict(next(q for q in doc["questions"] if q["question_id"] == SCHEME_QUESTION)["options"])
    schemes = list(setup.approve_options)
    outcome = Outcome(doc["outcome"]) if final else Outcome.PENDING
    w = d.group_winner(outcome, votes, schemes)
    winning = proposals.get(w.scheme) if w.scheme else None
    versions = await repo.proposal_versions(winning.id) if winning else []
    provisional = d.group_winner(Outcome(doc["outcome"]), votes, schemes).status  # what closing now would give
    return {
        "outcome": doc["outcome"],
        "provisional_outcome": doc["provisional_outcome"],
        "rule": doc["rule"],
        "decided_by": doc["decided_by"],
        "conditions": doc["conditions"],
        "totals": doc["totals"],
        "participation": doc["participation"],
        "approval": doc["approval"],
        "votes": votes,
        "winner": {
            "status": w.status.value,
            "proposal_code": w.scheme,
            "proposal_id": str(winning.id) if winning else None,
            "version_id": str(versions[-1].id) if versions else None,
            "version": versions[-1].number if versions else None,
            "votes": w.votes,
            "tied": list(w.tied),
            "title": versions[-1].title if versions else None,
        },
        # the schemes a run-off would be held among (决选: the tied ones, or the leading ones of a failed vote)
        "runoff_candidates": list(d.runoff_candidates(provisional, votes, schemes)),
    }


LINEAGE_COLUMNS = (
    "方案编号",
    "方案来源",
    "提交单位",
    "适用院落",
    "版本",
    "上一版本",
    "方案名称",
    "方案摘要",
    "文档",
    "修改内容",
    "回应意见数",
    "发布轮次",
    "支持",
    "有顾虑",
    "意见合计",
    "是否当前版本",
    "中选院落",
    "进入决选",
)


SOURCE_LABELS = {"firm": "企业", "university": "高校", "resident": "居民"}


async def export_lineage(
    uow: ReadOnlyUnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime
) -> tuple[SchemeRoundRow, list[str], list[list[Any]]]:
    """One row per version (v1 → v2 → v3 of each proposal): what changed, the feedback it answered, the feedback
    it received, and the groups whose vote it won."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id)
        ensure_staff(principal, row)
        view = await round_view(repo, row, now=now)
        won: dict[str, list[str]] = {}  # version id -> the groups it won ("B（决选1）": won in run-off 1)
        in_runoff: dict[str, list[str]] = {}  # proposal code -> the groups' run-offs it was a candidate in
        for g in view["groups"]:
            decision = g["decision"]
            winner = decision["winner"]
            if winner and winner["status"] == d.WinnerStatus.WON:
                label = g["code"] + (f"（决选{decision['runoff_number']}）" if decision["runoff_number"] else "")
                won.setdefault(winner["version_id"], []).append(label)
            for r in g["runoffs"]:
                for code in r["candidates"]:
                    in_runoff.setdefault(code, []).append(f"{g['code']}（决选{r['number']}）")
        rows: list[list[Any]] = []
        for p in view["proposals"]:
            for v in p["versions"]:
                rows.append(
                    [
                        p["code"],
                        SOURCE_LABELS.get(p["source_kind"], p["source_kind"]),
                        p["proposer"],
                        "、".join(p["group_codes"]),
                        v["label"],
                        f"v{v['number'] - 1}" if v["parent_id"] else "",
                        v["title"],
                        v["summary"],
                        v["document_ref"],
                        v["changes"],
                        len(v["answers_feedback"]),
                        d.ROUND_LABELS[(v["published_in_round"], "up")],
                        v["feedback"]["support"],
                        v["feedback"]["concerns"],
                        v["feedback"]["total"],
                        "是" if v["number"] == p["current_version"] else "否",
                        "、".join(won.get(v["id"], [])),
                        "、".join(in_runoff.get(p["code"], [])) if v["number"] == p["current_version"] else "",
                    ]
                )
        return row, list(LINEAGE_COLUMNS), rows
