"""Tabular exports (CSV and XLSX) with one behaviour for every service.

* CSV: UTF-8 with a BOM (spreadsheet programs then read Chinese text correctly), CRLF line ends.
* XLSX: one sheet, write-only (constant memory), datetimes written without offset (Excel has none).
* Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR (free text such as a
  resident's suggestion) is prefixed with ``'`` in CSV and stored as plain text in XLSX, so no spreadsheet
  evaluates it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES) and not _is_number(value)


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if _is_formula_like(text) else text


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if value is None or isinstance(value, int | float | str | date | Decimal):
        return value
    return str(value)


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "export") -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet((sheet or "export")[:31])
    ws.append(list(columns))
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=_xlsx_value(value))
            if isinstance(value, str) and cell.data_type == "f":
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
