"""Design-scheme deliberation (方案评选: 三上三下, 一院一策): rounds, proposals, versions, feedback, final vote."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, authorize
from renovation_common.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes
from renovation_common.idempotency import answer_replay, replay_responses
from renovation_common.pagination import Page, PageParams, make_page, page_params
from survey.entrypoints.api.deps import ANSWERERS, ANY_READER, STAFF
from survey.entrypoints.api.scheme_schemas import (
    FeedbackCreate,
    FeedbackRead,
    FinalVoteCreate,
    ProposalCreate,
    RevisionCreate,
    RunoffCreate,
    SchemeRoundCreate,
    SchemeRoundRead,
    SchemeRoundSummary,
)
from survey.service_layer import deliberation as uc

router = APIRouter(tags=["schemes"])

GroupCode = Annotated[
    str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$", description="The group's code in the round")
]


@router.post(
    "/v1/scheme-rounds",
    operation_id="createSchemeRound",
    summary="Open a design-scheme round for courtyards or building groups (一上)",
    status_code=201,
    response_model=SchemeRoundRead,
)
async def create_scheme_round(
    body: SchemeRoundCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """A scheme round of a community, with its courtyard or building groups (一院一策: each group votes on its own);
    the groups name buildings of the community's registry, each building in at most one group. Starts at round 1,
    up (一上). Scope comes from the community's record."""
    cmd = uc.NewRound(
        community_id=body.community_id,
        title=body.title,
        groups=[uc.GroupSpec(g.code, g.name, list(g.building_codes)) for g in body.groups],
    )
    return await uc.create_round(runtime.uow(), principal, cmd, now=runtime.clock())


@router.get(
    "/v1/scheme-rounds",
    operation_id="listSchemeRounds",
    summary="A community's scheme rounds (cursor pagination)",
    response_model=Page[SchemeRoundSummary],
)
async def list_scheme_rounds(
    community_id: Annotated[uuid.UUID, Query(description="The community whose rounds to list")],
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Page[SchemeRoundSummary]:
    """Every scheme round of the community with its stage (一上 … 三下, voting, decided): staff covering the
    community, and its residents (the registry places their household)."""
    rows = await uc.list_rounds(runtime.read(), principal, community_id, after=page.after_uuid(), limit=page.limit + 1)
    return make_page([SchemeRoundSummary.model_validate(r) for r in rows], page.limit, lambda r: str(r.id))


@router.get(
    "/v1/scheme-rounds/{round_id}",
    operation_id="getSchemeRound",
    summary="Read a scheme round: proposals with their lineage, groups and the result per group",
    response_model=SchemeRoundRead,
)
async def get_scheme_round(
    round_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """The round's stage (一上 … 三下, voting, decided), each proposal's versions v1 → v2 → v3 (parent, what
    changed, the feedback answered, support and concerns counted), and each group's final vote with its result
    under the vote's rule and its winning scheme. Residents of the community read it; a vote's result once the
    vote is published."""
    return await uc.get_round(runtime.read(), principal, round_id, now=runtime.clock())


@router.post(
    "/v1/scheme-rounds/{round_id}/proposals",
    operation_id="addSchemeProposal",
    summary="Add a proposal (its v1) from a firm, a university or residents",
    status_code=201,
    response_model=SchemeRoundRead,
)
async def add_scheme_proposal(
    round_id: uuid.UUID,
    body: ProposalCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """Recorded by staff in the first round up (一上); the proposal gets the code P1, P2 … (its option in the final
    vote), at most 20 per round. Returns the round."""
    cmd = uc.NewProposal(
        source_kind=body.source_kind,
        proposer=body.proposer,
        title=body.title,
        summary=body.summary,
        document_ref=body.document_ref,
        group_codes=list(body.group_codes),
    )
    return await uc.add_proposal(runtime.uow(), principal, round_id, cmd, now=runtime.clock())


@router.post(
    "/v1/scheme-rounds/{round_id}/send-down",
    operation_id="sendSchemeRoundDown",
    summary="Send the round down (下): feedback closes and goes back to the proposers",
    response_model=SchemeRoundRead,
)
async def send_scheme_round_down(
    round_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """上 → 下: no more feedback on this round; revised versions may now be published (before the third down)."""
    return await uc.advance_round(runtime.uow(), principal, round_id, "down", now=runtime.clock())


@router.post(
    "/v1/scheme-rounds/{round_id}/send-up",
    operation_id="sendSchemeRoundUp",
    summary="Send the schemes up again (the next 上), at most three rounds",
    response_model=SchemeRoundRead,
)
async def send_scheme_round_up(
    round_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """下 → the next round up, showing the current versions; after the third down (三下) the only way on is the
    final vote (409 `round_limit_reached`)."""
    return await uc.advance_round(runtime.uow(), principal, round_id, "up", now=runtime.clock())


@router.post(
    "/v1/scheme-proposals/{proposal_id}/versions",
    operation_id="reviseSchemeProposal",
    summary="Publish a revised version of a proposal (v2, v3) with what changed",
    status_code=201,
    response_model=SchemeRoundRead,
)
async def revise_scheme_proposal(
    proposal_id: uuid.UUID,
    body: RevisionCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """While the round is down: a new version linked to its parent (which must be the current version, 409
    `stale_parent_version` otherwise), with what changed and the feedback on the parent it answers; once per
    proposal per round. Returns the round."""
    cmd = uc.Revision(
        parent_version_id=body.parent_version_id,
        title=body.title,
        summary=body.summary,
        document_ref=body.document_ref,
        changes=body.changes,
        answers_feedback=list(body.answers_feedback),
    )
    return await uc.revise(runtime.uow(), principal, proposal_id, cmd, now=runtime.clock())


@router.post(
    "/v1/scheme-versions/{version_id}/feedback",
    operation_id="giveSchemeFeedback",
    summary="Give a household's feedback on a scheme version (once per household and version)",
    status_code=201,
    response_model=FeedbackRead,
    responses=replay_responses(FeedbackRead, "the stored feedback"),
)
async def give_scheme_feedback(
    version_id: uuid.UUID,
    body: FeedbackCreate,
    principal: Annotated[Principal, authorize(*ANSWERERS)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> JSONResponse:
    """Support or concerns, with an optional text, while the round is up and on the proposal's current version.
    A resident answers for their own household through the app; a community worker records door-to-door, paper
    or meeting feedback for a household of their community. The household's building must be in a group the
    scheme is for. The same feedback again is a replay (200, `Idempotent-Replayed: true`); other feedback on the
    same version is 409 `feedback_already_given`."""
    cmd = uc.Feedback(household_id=body.household_id, stance=body.stance, text=body.text, channel=body.channel)
    result = await uc.give_feedback(runtime.uow(), principal, version_id, cmd, now=runtime.clock())
    response = JSONResponse(result.feedback, status_code=201)
    if result.replayed:
        answer_replay(response)
    return response


@router.get(
    "/v1/scheme-versions/{version_id}/feedback",
    operation_id="listSchemeFeedback",
    summary="The feedback on a scheme version (cursor pagination)",
    response_model=Page[FeedbackRead],
)
async def list_scheme_feedback(
    version_id: uuid.UUID,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Page[FeedbackRead]:
    """What the residents said about this version: what a revision answers (`answers_feedback`)."""
    rows = await uc.list_feedback(runtime.read(), principal, version_id, after=page.after_uuid(), limit=page.limit + 1)
    return make_page([FeedbackRead.model_validate(r) for r in rows], page.limit, lambda f: str(f.id))


@router.post(
    "/v1/scheme-rounds/{round_id}/final-vote",
    operation_id="startSchemeFinalVote",
    summary="Start the final vote: one scheme_vote consultation per group",
    response_model=SchemeRoundRead,
)
async def start_scheme_final_vote(
    round_id: uuid.UUID,
    body: FinalVoteCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """After a round is sent down: drafts one consultation of kind `scheme_vote` per group (its schemes and
    "none"; choosing a scheme approves; the rule — default Civil Code Art. 278 for renovating buildings and
    facilities — decides). Open, answer and close each through the consultation endpoints."""
    cmd = uc.FinalVote(rule=body.rule, threshold=body.threshold, opens_at=body.opens_at, closes_at=body.closes_at)
    return await uc.start_final_vote(runtime.uow(), principal, round_id, cmd, now=runtime.clock())


@router.post(
    "/v1/scheme-rounds/{round_id}/decide",
    operation_id="decideSchemeRound",
    summary="Decide the round: freeze each group's winning scheme",
    response_model=SchemeRoundRead,
)
async def decide_scheme_round(
    round_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """Once every group's vote is closed (409 `final_vote_not_closed` otherwise): each group's result — the vote's
    rule over the group's own households, and the scheme most of them chose — is frozen. A group with a winner (or
    with no scheme chosen at all) is decided and `survey.scheme_round.decided.v1` is published for it; a group whose
    schemes tied, or whose vote did not pass, awaits a run-off (`decision.status: awaiting_runoff`)."""
    return await uc.decide_round(
        runtime.uow(), principal, round_id, now=runtime.clock(), source=runtime.settings.event_source
    )


@router.post(
    "/v1/scheme-rounds/{round_id}/groups/{group_code}/runoffs",
    operation_id="openSchemeRunoff",
    summary="Open a run-off (决选) for a group whose vote left schemes tied or none past the rule's threshold",
    status_code=201,
    response_model=SchemeRoundRead,
)
async def open_scheme_runoff(
    round_id: uuid.UUID,
    group_code: GroupCode,
    body: RunoffCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """For a group of a decided round whose decision is `awaiting_runoff`: drafts the group's own `scheme_vote`
    consultation (its own ballots, its buildings' households only) among the tied or leading schemes and "none",
    under the final vote's rule. Open, answer and close it through the consultation endpoints, then count it. At
    most 2 run-offs per group. Refused with 409: `scheme_round_not_decided`, `runoff_not_needed` (a scheme won, or
    no scheme was chosen), `runoff_in_progress`, `runoff_limit_reached`; 404 `scheme_group_not_found`."""
    cmd = uc.RunoffVote(opens_at=body.opens_at, closes_at=body.closes_at)
    return await uc.open_runoff(runtime.uow(), principal, round_id, group_code, cmd, now=runtime.clock())


@router.post(
    "/v1/scheme-rounds/{round_id}/groups/{group_code}/runoffs/count",
    operation_id="countSchemeRunoff",
    summary="Count a group's closed run-off: it decides the group, or another run-off is needed",
    response_model=SchemeRoundRead,
)
async def count_scheme_runoff(
    round_id: uuid.UUID,
    group_code: GroupCode,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """Freezes the run-off's result (its rule over the group's households, exact fractions). A winner decides the
    group; a tie or failed run-off leaves it `awaiting_runoff` for the next one, or — after the second — decides it
    without a scheme. A decided group's `survey.scheme_round.decided.v1` (that group only) is published. 409
    `no_runoff_open`, `runoff_not_closed`."""
    return await uc.count_runoff(
        runtime.uow(), principal, round_id, group_code, now=runtime.clock(), source=runtime.settings.event_source
    )


@router.get(
    "/v1/scheme-rounds/{round_id}/lineage/export",
    operation_id="exportSchemeLineage",
    summary="Export the lineage of every scheme (CSV or XLSX)",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}},
            "description": "One row per version, Chinese headers, columns in a stable order",
        }
    },
)
async def export_scheme_lineage(
    round_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """Per version: proposal, source, version and parent, what changed, feedback answered and received, and the
    groups it won; formula-like text neutralised."""
    row, columns, rows = await uc.export_lineage(runtime.read(), principal, round_id, now=runtime.clock())
    disposition = {"Content-Disposition": f'attachment; filename="scheme-lineage-{row.id}.{format}"'}
    if format == "xlsx":
        return Response(xlsx_bytes(columns, rows, sheet="方案沿革"), media_type=XLSX_MEDIA_TYPE, headers=disposition)
    return Response(csv_bytes(columns, rows), media_type=CSV_MEDIA_TYPE, headers=disposition)
