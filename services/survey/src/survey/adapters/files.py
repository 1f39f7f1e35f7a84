"""Reading household files (CSV, XLSX) and writing exports (CSV, XLSX)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import load_workbook

MAX_ROWS = 10000


class FileFormatError(ValueError):
    pass


def _normalise_header(cells: Sequence[Any]) -> list[str]:
    return [str(c).strip().lower() if c is not None else "" for c in cells]


def read_rows(content: bytes, fmt: str) -> list[dict[str, object]]:
    """Rows as column → cell dicts (the first row is the header). Raises :class:`FileFormatError`."""
    if fmt == "csv":
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileFormatError("CSV must be UTF-8") from None
        reader = csv.reader(io.StringIO(text))
        header = _normalise_header(next(reader, []))
        rows = [dict(zip(header, r, strict=False)) for r in reader if any(c.strip() for c in r)]
    elif fmt == "xlsx":
        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:
            raise FileFormatError("not a readable XLSX workbook") from None
        try:
            ws = wb.worksheets[0]
            values = ws.iter_rows(values_only=True)
            header = _normalise_header(next(values, ()))
            rows = []
            for r in values:
                if any(c not in (None, "") for c in r):
                    rows.append(dict(zip(header, r, strict=False)))
                if len(rows) > MAX_ROWS:
                    break
        finally:
            wb.close()
    else:
        raise FileFormatError("format must be csv or xlsx")
    if not header or "room" not in header:
        raise FileFormatError("the first row must be a header naming at least building, room, floor_area_m2")
    if len(rows) > MAX_ROWS:
        raise FileFormatError(f"at most {MAX_ROWS} rows per file")
    return rows
