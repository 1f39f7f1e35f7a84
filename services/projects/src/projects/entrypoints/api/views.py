"""Routes of the views on a project's current plan: schedule, handover chart, progress table, daily report."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from projects.entrypoints.api import render
from projects.entrypoints.api.dependencies import READERS, ContextDep, RuntimeDep
from projects.entrypoints.api.schemas import (
    DailyReportRead,
    FaceChartRow,
    HandoverChartRead,
    HandoverPoint,
    ProgressTableRead,
    ScheduleRead,
    TradeBarRead,
)
from projects.service_layer import views as uc
from renovation_common.auth import Principal, authorize
from renovation_common.exports import XLSX_MEDIA_TYPE

router = APIRouter(tags=["views"])

Day = Annotated[date, Query(alias="date", description="The day the view is about")]


class ChartFormat(StrEnum):
    JSON = "json"
    SVG = "svg"


class TableFormat(StrEnum):
    JSON = "json"
    XLSX = "xlsx"


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


@router.get(
    "/v1/projects/{project_id}/schedule",
    operation_id="getSchedule",
    response_model=ScheduleRead,
    summary="The current plan of a project: every package with its working-day indexes and dates",
)
async def get_schedule(
    project_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], runtime: RuntimeDep
) -> ScheduleRead:
    """Packages in start order; empty before the first plan."""
    schedule = await uc.get_schedule(runtime.read(), principal, project_id)
    return ScheduleRead(
        project_id=project_id,
        plan_id=schedule.plan.id if schedule.plan else None,
        solver_status=schedule.plan.solver_status if schedule.plan else None,
        packages=[render.scheduled(p) for p in schedule.packages],
    )


@router.get(
    "/v1/projects/{project_id}/handover-chart",
    operation_id="getHandoverChart",
    response_model=HandoverChartRead,
    responses=_binary("image/svg+xml", "The chart as SVG (`format=svg`)"),
    summary="交叉施工作业面移交时序图: per work face, which trade hands over to which, and when",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
)
async def get_handover_chart(
    project_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    format: ChartFormat = ChartFormat.JSON,
) -> Any:
    """Trade bars per face from the current plan, planned handovers and the recorded ones. 409
    ``no_current_plan`` before the first plan."""
    chart = await uc.handover_chart(runtime.read(), principal, project_id)
    if format is ChartFormat.SVG:
        return Response(chart.svg(), media_type="image/svg+xml")
    return HandoverChartRead(
        project_id=project_id,
        title=chart.title,
        faces=[
            FaceChartRow(
                work_face_id=r.face_id,
                face_name=r.face_name,
                bars=[
                    TradeBarRead(
                        trade=b.trade, start_date=b.start_date, finish_date=b.finish_date, packages=list(b.packages)
                    )
                    for b in r.bars
                ],
                handovers=[
                    HandoverPoint(
                        from_trade=h.from_trade,
                        to_trade=h.to_trade,
                        planned_on=h.planned_on,
                        recorded_at=chart.recorded.get((h.face_id, h.from_trade, h.to_trade)),
                    )
                    for h in r.handovers
                ],
            )
            for r in chart.rows
        ],
    )


@router.get(
    "/v1/projects/{project_id}/progress-table",
    operation_id="getProgressTable",
    response_model=ProgressTableRead,
    responses=_binary(XLSX_MEDIA_TYPE, "The table as an Excel workbook (`format=xlsx`)"),
    summary="工程日进度一栏表: planned against reported progress of every package on a day",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
)
async def get_progress_table(
    project_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    ctx: ContextDep,
    day: Day,
    format: TableFormat = TableFormat.JSON,
) -> Any:
    """Reports dated up to the day count. A day the plan's calendar cannot reach is 422 ``date_out_of_range``.
    The workbook's first sheet is for people (Chinese headers, trade and status names, the export time in Beijing
    time with its offset); its ``data`` sheet keeps a stable machine header row with codes and ISO values."""
    table = await uc.get_progress_table(runtime.read(), ctx, principal, project_id, day)
    if format is TableFormat.XLSX:
        return Response(
            table.xlsx(),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="progress-{project_id}-{day}.xlsx"'},
        )
    return ProgressTableRead(
        project_id=project_id,
        date=day,
        planned_percent=table.planned_percent,
        actual_percent=table.actual_percent,
        rows=[render.progress_row(r) for r in table.rows],
    )


@router.get(
    "/v1/projects/{project_id}/daily-report",
    operation_id="getDailyReport",
    response_model=DailyReportRead,
    summary="每日调度: late packages, tomorrow's starts and the handovers due",
)
async def get_daily_report(
    project_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], runtime: RuntimeDep, day: Day
) -> DailyReportRead:
    """What the next working day needs: packages behind plan, those due to start, handovers not yet recorded, and
    the projected delay in working days."""
    report = await uc.get_daily_report(runtime.read(), principal, project_id, day)
    return DailyReportRead(
        project_id=project_id,
        date=day,
        next_working_day=report.next_working_day,
        late_packages=[render.progress_row(r) for r in report.late],
        starting_next=[render.scheduled(p) for p in report.starting_next],
        due_handovers=[render.handover_due(h) for h in report.due_handovers],
        delay_days=report.delay_days,
    )
