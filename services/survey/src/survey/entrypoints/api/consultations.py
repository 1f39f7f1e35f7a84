"""Consultations, responses, results, exports, charts and rankings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse, Response

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, authorize
from renovation_common.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    Sheet,
    csv_bytes,
    local_time_label,
    xlsx_workbook_bytes,
)
from renovation_common.idempotency import answer_replay, replay_responses
from renovation_common.pagination import Page, PageParams, make_page, page_params
from survey.domain.consultation import ConsultationKind
from survey.domain.consultation import State as ConsultationState
from survey.domain.exports import FIXED_COLUMNS, wall_times_as_text
from survey.entrypoints.api.deps import ANSWERERS, ANY_READER, OFFICERS, STAFF, context
from survey.entrypoints.api.schemas import (
    CONSULTATION_EXAMPLES,
    RESPONSE_EXAMPLES,
    AuditRead,
    BatchRead,
    BatchSubmit,
    ConsultationCreate,
    ConsultationRead,
    HouseholdResponsesRead,
    RankingCreate,
    RankingRead,
    ResponseRead,
    ResponseSubmit,
    ResultRead,
    SubmissionRead,
)
from survey.service_layer import responses as ruc
from survey.service_layer.consultations import lifecycle, queries, rankings
from survey.service_layer.consultations.mapping import NewConsultation
from survey.service_layer.context import Context

router = APIRouter(tags=["consultations"])
responses_router = APIRouter(tags=["responses"])
results_router = APIRouter(tags=["results"])
rankings_router = APIRouter(tags=["rankings"])


def _read(row: Any) -> ConsultationRead:
    read = ConsultationRead.model_validate(row, from_attributes=True)
    return read.model_copy(update={"auto_closed": row.closed_by == lifecycle.AUTO_CLOSER})


@router.post(
    "/v1/consultations",
    operation_id="createConsultation",
    summary="Create a consultation",
    status_code=201,
    response_model=ConsultationRead,
)
async def create_consultation(
    body: Annotated[ConsultationCreate, Body(openapi_examples=CONSULTATION_EXAMPLES)],
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> ConsultationRead:
    """A draft consultation (willingness, menu, scheme vote, demand, satisfaction) of a community, with its
    questionnaire and decision rule (80% willingness, Civil Code Art. 278 double majorities). Scope comes from the
    community's record.
    """
    data = body.model_dump(mode="json", exclude={"rule", "community_id", "opens_at", "closes_at"})
    data["questions"] = [q.model_dump(mode="json", exclude_none=True) for q in body.questions]
    cmd = NewConsultation(
        community_id=body.community_id,
        rule=body.rule.kind,
        threshold=body.rule.threshold,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        **data,
    )
    return _read(await lifecycle.create_consultation(runtime.uow(), principal, cmd, now=runtime.clock()))


@router.get(
    "/v1/consultations",
    operation_id="listConsultations",
    summary="The consultations of your scope, or your community's open and published ones (cursor pagination)",
    response_model=Page[ConsultationRead],
)
async def list_consultations(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    community_id: Annotated[uuid.UUID | None, Query(description="Only this community's consultations")] = None,
    state: Annotated[ConsultationState | None, Query(description="Only consultations in this state")] = None,
    kind: Annotated[ConsultationKind | None, Query(description="Only consultations of this kind")] = None,
) -> Page[ConsultationRead]:
    """Staff list every consultation of the communities their token covers; a resident lists the open and the
    published consultations of their own community (the registry places their household; drafts and closed,
    unpublished rounds are not theirs to see) — what a resident app shows: rounds to answer, results to read."""
    rows = await queries.list_consultations(
        runtime.read(),
        principal,
        community_id=community_id,
        state=state.value if state else None,
        kind=kind.value if kind else None,
        after=page.after_uuid(),
        limit=page.limit + 1,
    )
    return make_page([_read(r) for r in rows], page.limit, lambda c: str(c.id))


@router.get(
    "/v1/consultations/{consultation_id}",
    operation_id="getConsultation",
    summary="Read a consultation",
    response_model=ConsultationRead,
)
async def get_consultation(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> ConsultationRead:
    """The consultation's definition, state and answer window."""
    return _read(await queries.get_consultation(runtime.read(), principal, consultation_id))


@router.post(
    "/v1/consultations/{consultation_id}/open",
    operation_id="openConsultation",
    summary="Open a consultation for answers",
    response_model=ConsultationRead,
)
async def open_consultation(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> ConsultationRead:
    """Moves a draft to open; answers are accepted until `closes_at`."""
    row = await lifecycle.open_consultation(
        runtime.uow(), principal, consultation_id, now=runtime.clock(), source=runtime.settings.event_source
    )
    return _read(row)


@router.post(
    "/v1/consultations/{consultation_id}/close",
    operation_id="closeConsultation",
    summary="Close a consultation",
    response_model=ResultRead,
    response_model_exclude_unset=True,  # keys a question's kind has no use for stay absent, as stored
)
async def close_consultation(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Any:
    """Stops answers (waits for submissions in flight), computes the outcome under its rule and publishes
    `survey.consultation.closed.v1`.
    """
    return await lifecycle.close_consultation(
        runtime.uow(), principal, consultation_id, now=runtime.clock(), source=runtime.settings.event_source
    )


@router.post(
    "/v1/consultations/{consultation_id}/publish",
    operation_id="publishConsultation",
    summary="Publish a closed consultation's result",
    response_model=ConsultationRead,
)
async def publish_consultation(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> ConsultationRead:
    """Makes the result public to the community's residents and publishes `survey.consultation.published.v1`."""
    return _read(await lifecycle.publish_consultation(runtime.uow(), principal, consultation_id, now=runtime.clock()))


def _cmd(body: ResponseSubmit) -> ruc.SubmitResponse:
    return ruc.SubmitResponse(
        submission_id=body.submission_id,
        answers=body.answers,
        household_id=body.household_id,
        resident_id=body.resident_id,
        suggestion=body.suggestion,
        channel=body.channel,
        answered_at=body.answered_at,
    )


@responses_router.post(
    "/v1/consultations/{consultation_id}/responses",
    operation_id="submitResponse",
    summary="Answer a consultation",
    response_model=SubmissionRead,
    status_code=201,
    responses={
        200: {
            **replay_responses(SubmissionRead)[200],
            "description": "Updated, superseded, or a replay of the same id (then `Idempotent-Replayed: true`)",
        }
    },
)
async def submit_response(
    consultation_id: uuid.UUID,
    body: Annotated[ResponseSubmit, Body(openapi_examples=RESPONSE_EXAMPLES)],
    principal: Annotated[Principal, authorize(*ANSWERERS)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> JSONResponse:
    """One household's (or resident's) answers under a client `submission_id`: the same id and body replays the first
    answer again (200, header `Idempotent-Replayed: true`), another body is 409 `submission_id_reused`. Residents
    answer for their own household through the app; community workers record door-to-door, paper or meeting answers.
    """
    result = await ruc.submit_response(
        runtime.uow(), principal, consultation_id, _cmd(body), now=runtime.clock(), source=runtime.settings.event_source
    )
    response = JSONResponse(result.body, status_code=result.status_code)
    if result.replayed:
        answer_replay(response)
    return response


@responses_router.post(
    "/v1/consultations/{consultation_id}/responses/batch",
    operation_id="syncResponses",
    response_model=BatchRead,
    summary="Sync up to 500 offline submissions; each item is answered on its own",
)
async def sync_responses(
    consultation_id: uuid.UUID,
    body: BatchSubmit,
    principal: Annotated[Principal, authorize(*ANSWERERS)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> BatchRead:
    """Up to 500 offline submissions in one transaction; each item is answered on its own (status, result or
    problem), a refused item writes nothing and sinks none of the others.
    """
    items = await ruc.submit_batch(
        runtime.uow(),
        principal,
        consultation_id,
        [_cmd(i) for i in body.items],
        now=runtime.clock(),
        source=runtime.settings.event_source,
    )
    accepted = sum(1 for i in items if i["status"] < 300)
    return BatchRead.model_validate({"accepted": accepted, "rejected": len(items) - accepted, "items": items})


@responses_router.get(
    "/v1/consultations/{consultation_id}/responses/{household_id}",
    operation_id="getHouseholdResponses",
    summary="Read a household's answers",
    response_model=HouseholdResponsesRead,
)
async def household_responses(
    consultation_id: uuid.UUID,
    household_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdResponsesRead:
    """The household's current answers and, for staff, their audit trail."""
    _, responses, trail = await ruc.household_responses(runtime.read(), principal, consultation_id, household_id)
    return HouseholdResponsesRead(
        consultation_id=consultation_id,
        household_id=household_id,
        responses=[ResponseRead.model_validate(r, from_attributes=True) for r in responses],
        audit=[AuditRead.model_validate(a, from_attributes=True) for a in trail],
    )


def render_result(document: dict[str, Any]) -> bytes:
    """A result document as ``GET /result`` sends it: validated by ``ResultRead``, keys a question's kind
    has no use for left absent (``exclude_unset``), as the route's response model would."""
    return ResultRead.__pydantic_serializer__.to_json(ResultRead.model_validate(document), exclude_unset=True)


@results_router.get(
    "/v1/consultations/{consultation_id}/result",
    operation_id="getResult",
    summary="Read a consultation's live result",
    response_model=ResultRead,
    response_model_exclude_unset=True,  # keys a question's kind has no use for stay absent, as stored
)
async def get_result(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    ctx: Annotated[Context, Depends(context)],
) -> Any:
    """Tallies, the decision under the consultation's rule (exact fractions), and demand by age group."""
    body = await queries.get_result(runtime.read(), principal, consultation_id, now=runtime.clock(), cache=ctx.results)
    return Response(body, media_type="application/json")  # rendered by ``render_result``


@results_router.get(
    "/v1/consultations/{consultation_id}/export",
    operation_id="exportResponses",
    summary="Export the answers",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}},
            "description": "One row per response; columns in a stable order. XLSX: sheet `答卷` for people "
            "(title, community, export time in Beijing time, Chinese headers) and sheet `data` with the machine "
            "header row. CSV: Chinese headers, or the machine header row and values with `header=machine`",
        }
    },
)
async def export_responses(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    ctx: Annotated[Context, Depends(context)],
    format: Annotated[Literal["csv", "xlsx"], Query(description="`csv` or `xlsx`", examples=["xlsx"])] = "csv",
    header: Annotated[
        Literal["zh", "machine"],
        Query(
            description="CSV only: `zh` (default) — Chinese headers, channel, age group and yes/no in Chinese, "
            "times as Beijing wall time (the header names the zone); `machine` — the stable snake_case header row "
            "(`response_id`, `community_id`, `community_name`, `building_id`, `building`, `building_name`, …, "
            "`q:<question id>`, `suggestion`), codes, and ISO 8601 times with their offset (`+08:00`), exactly the "
            "XLSX `data` sheet",
            examples=["machine"],
        ),
    ] = "zh",
) -> Response:
    """CSV or XLSX of every response, with the community and building names beside their ids; formula-like text
    neutralised; personal data (names, phone numbers) never included."""
    export = await queries.export_table(
        runtime.read(), principal, consultation_id, now=runtime.clock(), tz=ctx.timezone
    )
    name = f"consultation-{export.consultation.id}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "xlsx":
        people = Sheet(
            "答卷",
            export.headers_zh,
            export.people,
            preamble=[
                [f"{export.consultation.title} 答卷导出"],
                [
                    "社区",
                    export.community_name,
                    "导出时间",
                    local_time_label(export.exported_at),
                    "答卷数",
                    len(export.people),
                ],
            ],
            number_formats={FIXED_COLUMNS.index("answered_at"): "yyyy-mm-dd hh:mm:ss"},
        )
        content = xlsx_workbook_bytes([people, Sheet("data", export.columns, export.rows)])
        return Response(content, media_type=XLSX_MEDIA_TYPE, headers=disposition)
    if header == "machine":
        return Response(csv_bytes(export.columns, export.rows), media_type=CSV_MEDIA_TYPE, headers=disposition)
    people_csv = csv_bytes(export.headers_zh, (wall_times_as_text(r) for r in export.people))
    return Response(people_csv, media_type=CSV_MEDIA_TYPE, headers=disposition)


@results_router.get(
    "/v1/consultations/{consultation_id}/charts/demand-by-age.svg",
    operation_id="demandByAgeChart",
    summary="Chart demand by age group",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "Grouped bar chart (SVG)"}},
)
async def demand_chart(
    consultation_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    question_id: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
) -> Response:
    """An SVG bar chart of menu demand by age group."""
    svg = await queries.demand_chart(runtime.read(), principal, consultation_id, question_id, now=runtime.clock())
    return Response(svg, media_type="image/svg+xml")


@rankings_router.post(
    "/v1/rankings",
    operation_id="publishRanking",
    summary="Publish the district's ranking",
    status_code=201,
    response_model=RankingRead,
)
async def publish_ranking(
    body: RankingCreate,
    principal: Annotated[Principal, authorize(*OFFICERS)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> RankingRead:
    """Ranks the communities whose willingness passed in a batch and publishes `survey.ranking.published.v1`. The
    district comes from the caller's scope.
    """
    row = await rankings.publish_ranking(
        runtime.uow(),
        principal,
        body.district_id,
        body.batch,
        now=runtime.clock(),
        source=runtime.settings.event_source,
    )
    return RankingRead.model_validate(row, from_attributes=True)
