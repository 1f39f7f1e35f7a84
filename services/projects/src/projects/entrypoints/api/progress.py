"""Routes of work on site: daily progress, handovers between trades, inspections."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from projects.domain.model import Defect
from projects.entrypoints.api import render
from projects.entrypoints.api.dependencies import READERS, ContextDep, RuntimeDep
from projects.entrypoints.api.schemas import (
    HandoverCreate,
    HandoverRead,
    InspectionCreate,
    InspectionRead,
    ProgressCreate,
    ProgressRead,
)
from projects.service_layer import progress as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.errors import BadRequest
from renovation_common.idempotency import answer_replay, replay_responses
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params

router = APIRouter(tags=["progress"])


@router.post(
    "/v1/projects/{project_id}/progress",
    operation_id="reportProgress",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgressRead,
    responses=replay_responses(ProgressRead, "the report recorded first"),
    summary="Report a package's progress on a day (contractor)",
)
async def report_progress(
    project_id: uuid.UUID,
    body: ProgressCreate,
    principal: Annotated[Principal, authorize(Role.CONTRACTOR)],
    runtime: RuntimeDep,
    ctx: ContextDep,
    response: Response,
) -> ProgressRead:
    """One report per package and day: the same body again is a replay (200, `Idempotent-Replayed: true`, the
    first report), another body 409
    ``progress_already_reported``; progress never goes backwards in time (400 ``progress_regressed``); a report
    dated after today (Beijing time) is 422 ``report_date_in_future``. Publishes ``projects.progress.reported.v1``,
    ``projects.project.delayed.v1`` when the report shows late packages (once per project and day) and
    ``projects.project.completed.v1`` when every package is done."""
    report, created = await uc.report_progress(
        runtime.uow(),
        ctx,
        principal,
        uc.ReportProgress(project_id, body.package_id, body.report_date, body.percent_complete, body.note),
    )
    if not created:
        answer_replay(response)
    return ProgressRead(
        id=report.id,
        package_id=report.package_id,
        report_date=report.report_date,
        percent_complete=report.percent_complete,
        note=report.note,
        created_at=report.created_at,
    )


@router.post(
    "/v1/projects/{project_id}/handovers",
    operation_id="recordHandover",
    status_code=status.HTTP_201_CREATED,
    response_model=HandoverRead,
    summary="Record that one trade handed a work face over to the next (contractor)",
)
async def record_handover(
    project_id: uuid.UUID,
    body: HandoverCreate,
    principal: Annotated[Principal, authorize(Role.CONTRACTOR)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> HandoverRead:
    """Both trades must work on the face; each handover is recorded once (409 ``handover_already_recorded``).
    Publishes ``projects.workface.handed_over.v1``."""
    h = await uc.record_handover(
        runtime.uow(),
        ctx,
        principal,
        uc.RecordHandover(
            project_id, body.work_face_id, body.from_trade, body.to_trade, body.handed_over_at, body.note
        ),
    )
    return HandoverRead(
        id=h.id,
        work_face_id=h.work_face_id,
        from_trade=h.from_trade,
        to_trade=h.to_trade,
        handed_over_at=h.handed_over_at,
        created_at=h.created_at,
    )


@router.post(
    "/v1/projects/{project_id}/inspections",
    operation_id="fileInspection",
    status_code=status.HTTP_201_CREATED,
    response_model=InspectionRead,
    summary="File an inspection of a package or a face (resident quality supervisor)",
)
async def file_inspection(
    project_id: uuid.UUID,
    body: InspectionCreate,
    principal: Annotated[Principal, authorize(Role.QUALITY_SUPERVISOR)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> InspectionRead:
    """A failed inspection lists its defects (400 ``defects_required``)."""
    inspection = await uc.file_inspection(
        runtime.uow(),
        ctx,
        principal,
        uc.FileInspection(
            project_id,
            body.package_id,
            body.work_face_id,
            body.result,
            [Defect(d.description, d.severity) for d in body.defects],
            body.note,
            body.inspected_on,
        ),
    )
    return render.inspection(inspection)


def _after(page: PageParams) -> tuple[date, uuid.UUID] | None:
    key = page.after
    if key is None:
        return None
    try:
        return date.fromisoformat(key[0]), uuid.UUID(key[1])
    except (TypeError, ValueError, IndexError, KeyError):
        raise BadRequest("cursor is not valid", code="invalid_cursor") from None


@router.get(
    "/v1/projects/{project_id}/inspections",
    operation_id="listInspections",
    response_model=Page[InspectionRead],
    summary="The inspections of a project, newest first",
)
async def list_inspections(
    project_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[InspectionRead]:
    """Cursor pagination: pass ``next_cursor`` as ``cursor``."""
    found = await uc.list_inspections(runtime.read(), principal, project_id, after=_after(page), limit=page.limit)
    items = [render.inspection(i) for i in found[: page.limit]]
    last = found[page.limit - 1] if len(found) > page.limit else None
    cursor = encode_cursor([last.inspected_on.isoformat(), str(last.id)]) if last is not None else None
    return Page[InspectionRead](items=items, next_cursor=cursor)
