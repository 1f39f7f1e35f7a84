"""XLSX export of the daily progress table (工程日进度一栏表) with openpyxl."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from projects.domain.progress import ProgressRow

STATUS_FILL = {"late": "FFC7CE", "completed": "C6EFCE", "ahead": "DDEBF7"}


def progress_table_xlsx(title: str, day: date, rows: Sequence[ProgressRow], overall: tuple[Decimal, Decimal]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "工程日进度一栏表"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["日期 Date", day.isoformat(), "计划 Planned %", float(overall[0]), "实际 Actual %", float(overall[1])])
    headers = [
        "作业面 Face",
        "工作包 Package",
        "名称",
        "工种 Trade",
        "计划开始 Start",
        "计划完成 Finish",
        "计划% Planned",
        "实际% Actual",
        "偏差 Variance",
        "状态 Status",
    ]
    ws.append(headers)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(
            [
                r.face_name,
                r.code,
                r.name_zh,
                r.trade,
                r.start_date,
                r.finish_date,
                float(r.planned_percent),
                float(r.actual_percent),
                float(r.variance),
                r.status,
            ]
        )
        colour = STATUS_FILL.get(r.status)
        if colour:
            ws.cell(row=ws.max_row, column=10).fill = PatternFill("solid", fgColor=colour)
    for col, width in zip("ABCDEFGHIJ", (14, 26, 16, 12, 12, 12, 10, 10, 10, 12), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A4"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
