"""Exports: stable columns, UTF-8 for Chinese text, and no formula ever evaluated from free text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import load_workbook

from renovation_common.exports import csv_bytes, xlsx_bytes

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
