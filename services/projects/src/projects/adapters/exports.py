"""XLSX export of the daily progress table (工程日进度一栏表) with openpyxl.

The first sheet is for people: Chinese headers, trade and status names, dates, and when it was exported in the
service's time zone with the offset shown (北京时间 by default). The second sheet, ``data``, keeps a stable machine
header row (snake_case keys, codes and ISO values) for programs that read the file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from projects.domain.progress import ProgressRow, ProgressStatus
from renovation_common.exports import local_time_label

STATUS_FILL = {"late": "FFC7CE", "completed": "C6EFCE", "ahead": "DDEBF7"}
STATUS_NAMES_ZH = {
    ProgressStatus.NOT_STARTED: "未开始",
    ProgressStatus.ON_TRACK: "正常",
    ProgressStatus.AHEAD: "超前",
    ProgressStatus.LATE: "滞后",
    ProgressStatus.COMPLETED: "已完成",
}
HEADERS_ZH = (
    "作业面", "工作包编号", "工作包", "工种", "计划开始", "计划完成", "计划完成率(%)", "实际完成率(%)",
    "偏差(百分点)", "状态",
)  # fmt: skip
MACHINE_HEADERS = (
    "face_name", "package_code", "package_name", "trade", "start_date", "finish_date", "planned_percent",
    "actual_percent", "variance", "status",
)  # fmt: skip


def progress_table_xlsx(
    title: str,
    day: date,
    rows: Sequence[ProgressRow],
    overall: tuple[Decimal, Decimal],
    *,
    exported_at: datetime,
    trade_names: Mapping[str, str],
) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "工程日进度一栏表"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["日期", day, "计划完成率(%)", float(overall[0]), "实际完成率(%)", float(overall[1]), "导出时间",
               local_time_label(exported_at)])  # fmt: skip
    ws["B2"].number_format = "yyyy-mm-dd"
    ws.append(list(HEADERS_ZH))
    for cell in ws[3]:
        cell.font = Font(bold=True)
    data = wb.create_sheet("data")
    data.append(list(MACHINE_HEADERS))
    for r in rows:
        ws.append(
            [
                r.face_name,
                r.code,
                r.name_zh,
                trade_names.get(r.trade, r.trade),
                r.start_date,
                r.finish_date,
                float(r.planned_percent),
                float(r.actual_percent),
                float(r.variance),
                STATUS_NAMES_ZH[r.status],
            ]
        )
        for column in (5, 6):
            ws.cell(row=ws.max_row, column=column).number_format = "yyyy-mm-dd"
        colour = STATUS_FILL.get(r.status)
        if colour:
            ws.cell(row=ws.max_row, column=10).fill = PatternFill("solid", fgColor=colour)
        data.append(
            [r.face_name, r.code, r.name_zh, r.trade, r.start_date.isoformat(), r.finish_date.isoformat(),
             str(r.planned_percent), str(r.actual_percent), str(r.variance), r.status.value]
        )  # fmt: skip
    for col, width in zip("ABCDEFGHIJ", (18, 26, 16, 10, 12, 12, 14, 14, 14, 10), strict=True):
        ws.column_dimensions[col].width = width
    ws.column_dimensions["H"].width = 34
    ws.freeze_panes = "A4"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
