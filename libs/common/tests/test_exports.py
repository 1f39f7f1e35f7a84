"""Exports: stable columns, UTF-8 for Chinese text, and no formula ever evaluated from free text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from renovation_common.exports import (
    Sheet,
    csv_bytes,
    local_time_label,
    xlsx_bytes,
    xlsx_workbook_bytes,
    yuan,
    zone_name,
)

COLUMNS = ["household", "suggestion", "area_m2", "at"]
ROWS = [
    ["1-1-101", '=HYPERLINK("http://x","点我")', Decimal("56.20"), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)],
    ["1-1-102", "多建停车位", Decimal("48.00"), None],
    ["1-1-103", "-5", 1, None],  # a negative number stays a number
]


def test_csv_is_utf8_with_bom_and_neutralises_formulas():
    raw = csv_bytes(COLUMNS, ROWS)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS
    assert rows[1][1].startswith("'=HYPERLINK")
    assert rows[2][1] == "多建停车位" and rows[2][3] == ""
    assert rows[3][1] == "-5"
    assert rows[1][3] == "2026-01-02T03:04:00+00:00"


def test_xlsx_stores_formula_like_text_as_text():
    wb = load_workbook(io.BytesIO(xlsx_bytes(COLUMNS, ROWS, sheet="responses")))
    ws = wb["responses"]
    assert [c.value for c in ws[1]] == COLUMNS
    cell = ws["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert ws["B3"].value == "多建停车位"
    assert ws["D2"].value == datetime(2026, 1, 2, 3, 4)


def test_xlsx_shows_control_characters_a_worksheet_cannot_hold_as_replacement_characters():
    wb = load_workbook(io.BytesIO(xlsx_bytes(["text"], [["车棚\x02改造\x1b"]], sheet="s")))
    assert wb["s"]["A2"].value == "车棚\ufffd改造\ufffd"


def test_people_times_and_money():
    at = datetime(2026, 12, 3, 13, 5, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert local_time_label(at) == "2026-12-03 21:05:00 UTC+08:00（北京时间）" and zone_name(at) == "北京时间"
    assert local_time_label(at.astimezone(ZoneInfo("Europe/Berlin"))).endswith("UTC+01:00（Europe/Berlin）")
    assert [yuan(f) for f in (123456, 5, 0, -5, -100)] == ["1234.56", "0.05", "0.00", "-0.05", "-1.00"]


def test_a_workbook_of_a_people_sheet_and_a_data_sheet_is_formula_safe():
    content = xlsx_workbook_bytes(
        [
            Sheet("答卷", ["意见", "时间"], [['=HYPERLINK("x")', datetime(2026, 12, 3, 21, 5)]],
                  preamble=[["标题"], ["导出时间", "=1+1"]], number_formats={1: "yyyy-mm-dd hh:mm:ss"}),
            Sheet("data", ["suggestion", "n"], [["@SUM(A1)", -5]]),
        ]
    )  # fmt: skip
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["答卷", "data"]
    people, data = book["答卷"], book["data"]
    assert [[c.value for c in r] for r in people.iter_rows()] == [
        ["标题", None], ["导出时间", "=1+1"], ["意见", "时间"], ['=HYPERLINK("x")', datetime(2026, 12, 3, 21, 5)]
    ]  # fmt: skip
    assert people["B2"].data_type == "s" and people["A4"].data_type == "s"  # text, never formulas
    assert people["B4"].number_format == "yyyy-mm-dd hh:mm:ss" and people["A3"].font.bold
    assert people.freeze_panes == "A4" and data.freeze_panes == "A2"
    assert data["A2"].value == "@SUM(A1)" and data["A2"].data_type == "s" and data["B2"].value == -5
