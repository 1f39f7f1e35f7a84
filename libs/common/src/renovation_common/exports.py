"""Tabular exports (CSV and XLSX) with one behaviour for every service.

* CSV: UTF-8 with a BOM (spreadsheet programs then read Chinese text correctly), CRLF line ends.
* XLSX: write-only (constant memory), datetimes written without offset (Excel has none): one sheet
  (:func:`xlsx_bytes`), or several (:func:`xlsx_workbook_bytes`) — the platform's convention for a file people
  read: a first sheet in Chinese (a title, when it was exported in the service's time zone with the offset shown,
  Chinese headers) and a ``data`` sheet keeping the stable machine header row (snake_case keys, codes, ISO
  values) for programs.
* Times for people: :func:`local_time_label` (``2026-12-03 21:05:00 UTC+08:00（北京时间）``); money for people:
  :func:`yuan` (fen → ``'1234.56'``), written beside the fen, never instead of them.
* Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR (free text such as a
  resident's suggestion) is prefixed with ``'`` in CSV and stored as plain text in XLSX, so no spreadsheet
  evaluates it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ZONE_NAMES_ZH = {"Asia/Shanghai": "北京时间"}


def zone_name(at: datetime) -> str:
    """The zone's name for people: ``北京时间`` for Asia/Shanghai, else the zone's key (or abbreviation)."""
    zone = getattr(at.tzinfo, "key", None) or at.tzname() or ""
    return ZONE_NAMES_ZH.get(zone, zone)


def local_time_label(at: datetime) -> str:
    """``2026-12-03 21:05:00 UTC+08:00（北京时间）``: the wall time, its offset and the zone's name."""
    offset = at.strftime("%z")
    name = zone_name(at)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}" + (f"（{name}）" if name else "")


def yuan(fen: int) -> str:
    """Fen as yuan for people, exactly: ``123456`` → ``'1234.56'``, ``-5`` → ``'-0.05'``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


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
    if isinstance(value, str):
        # control characters a worksheet cannot hold show as U+FFFD (the export never fails on stored text)
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if value is None or isinstance(value, int | float | date | Decimal):
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


@dataclass(frozen=True)
class Sheet:
    """One sheet of :func:`xlsx_workbook_bytes`: ``preamble`` rows (a title, the export time) above the bold
    ``columns`` row; ``number_formats`` by 0-based column (e.g. ``{4: "yyyy-mm-dd hh:mm:ss"}``)."""

    name: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    preamble: Sequence[Sequence[Any]] = ()
    number_formats: Mapping[int, str] = field(default_factory=dict)


def _safe_cell(ws: Any, value: Any, *, bold: bool = False, number_format: str | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_xlsx_value(value))
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"  # text, never a formula
    if bold:
        cell.font = Font(bold=True)
    if number_format is not None and value is not None:
        cell.number_format = number_format
    return cell


def xlsx_workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of several sheets (write-only), every text cell formula-safe as in :func:`xlsx_bytes`; the
    panes of each sheet are frozen below its header row."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        ws = wb.create_sheet((sheet.name or "export")[:31])
        ws.freeze_panes = f"A{len(sheet.preamble) + 2}"
        for i, pre in enumerate(sheet.preamble):
            ws.append([_safe_cell(ws, v, bold=i == 0) for v in pre])
        ws.append([_safe_cell(ws, c, bold=True) for c in sheet.columns])
        formats = sheet.number_formats
        for row in sheet.rows:
            ws.append([_safe_cell(ws, v, number_format=formats.get(i)) for i, v in enumerate(row)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
