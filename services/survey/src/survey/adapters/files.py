"""Reading household files (CSV, XLSX), bounded in every dimension, off the event loop.

A file is refused — never half-read, never silently cut — when it passes any of :class:`ImportLimits`:

* **size**: the body (the route's body limit stops a larger one before it is buffered; checked here again);
* **archive** (XLSX is a zip): the members' declared sizes are checked from the central directory *before anything
  is decompressed* — their total, their number, and each member's compression ratio (a zip bomb is refused at
  once). Python's ``zipfile`` never inflates a member past its declared size (and fails its CRC if it lies);
* **rows**: at most ``max_rows`` data rows (blank rows are skipped; the time limit bounds how many are scanned);
* **columns and cells**: at most ``max_columns`` header cells, at most ``max_cell_chars`` characters per cell, no
  NUL characters (the database refuses them);
* **time**: parsing runs in a worker thread (the event loop keeps serving other requests) and checks a deadline
  as it goes; at most ``max_concurrent`` files are parsed at once per process.

Every refusal is a :class:`FileRefused` (a ``DomainError``: problem+json with a stable ``code``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from renovation_common.errors import DomainError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int = 5 * MIB
    max_rows: int = 10_000
    max_columns: int = 30
    max_cell_chars: int = 1000
    max_uncompressed_bytes: int = 40 * MIB  # all members of an XLSX archive together
    max_archive_members: int = 100
    max_compression_ratio: int = 200  # per member larger than 1 MiB uncompressed
    timeout_s: float = 15.0
    max_concurrent: int = 2
    wait_for_slot_s: float = 10.0


class FileRefused(DomainError):
    """The file is refused as a whole; ``code`` says why."""

    status = 422
    code = "unreadable_file"
    title = "The file cannot be imported"


def _refuse(code: str, detail: str, status: int = 422) -> FileRefused:
    return FileRefused(detail, code=code, status=status)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise _refuse("import_timed_out", f"the file took longer than {self.seconds:g} s to read; split it")


def _header(cells: Sequence[Any], limits: ImportLimits) -> list[str]:
    names = [str(c).strip().lower() if c is not None else "" for c in cells]
    while names and not names[-1]:
        names.pop()
    if len(names) > limits.max_columns:
        raise _refuse("too_many_columns", f"at most {limits.max_columns} columns")
    if not names or "room" not in names:
        raise _refuse(
            "unreadable_file", "the first row must be a header naming at least building, room, floor_area_m2", 400
        )
    return names


def _check_cell(value: Any, limits: ImportLimits, row: int) -> None:
    if isinstance(value, str):
        if len(value) > limits.max_cell_chars:
            raise _refuse("cell_too_long", f"row {row}: a cell is longer than {limits.max_cell_chars} characters")
        if "\x00" in value:
            raise _refuse("invalid_cell", f"row {row}: a cell contains a NUL character")


def _rows(
    header: list[str], values: Iterable[Sequence[Any]], limits: ImportLimits, deadline: _Deadline
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n, r in enumerate(values, start=1):
        if n % 256 == 0:
            deadline.check()
        if not any(c not in (None, "") and not (isinstance(c, str) and not c.strip()) for c in r):
            continue  # a blank row
        if len(rows) >= limits.max_rows:
            raise _refuse("too_many_rows", f"at most {limits.max_rows} household rows per file")
        for c in r:
            _check_cell(c, limits, n)
        rows.append(dict(zip(header, r, strict=False)))
    deadline.check()
    return rows


def _read_csv(content: bytes, limits: ImportLimits, deadline: _Deadline) -> list[dict[str, object]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse("unreadable_file", "CSV must be UTF-8", 400) from None
    if "\x00" in text:
        raise _refuse("invalid_cell", "the file contains a NUL character")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, [])
        for c in first:
            _check_cell(c, limits, 0)
        return _rows(_header(first, limits), reader, limits, deadline)
    except csv.Error as exc:  # e.g. a field larger than the csv module's own limit
        if "field larger" in str(exc):
            raise _refuse("cell_too_long", f"a cell is longer than {limits.max_cell_chars} characters") from None
        raise _refuse("unreadable_file", "not a readable CSV file", 400) from None


def check_archive(content: bytes, limits: ImportLimits) -> None:
    """Refuse an XLSX whose members would inflate past the limits, reading only the zip's central directory."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("unreadable_file", "not a readable XLSX workbook", 400) from None
    if len(members) > limits.max_archive_members:
        raise _refuse("archive_too_large", f"the workbook has more than {limits.max_archive_members} parts")
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise _refuse(
            "archive_too_large",
            f"the workbook inflates to {total} bytes (at most {limits.max_uncompressed_bytes})",
        )
    for m in members:
        if m.file_size > MIB and m.file_size > limits.max_compression_ratio * max(m.compress_size, 1):
            ratio = limits.max_compression_ratio
            raise _refuse("archive_too_large", f"a part of the workbook is compressed more than 1:{ratio}")


def _read_xlsx(content: bytes, limits: ImportLimits, deadline: _Deadline) -> list[dict[str, object]]:
    from openpyxl import load_workbook

    check_archive(content, limits)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except FileRefused:
        raise
    except Exception:
        raise _refuse("unreadable_file", "not a readable XLSX workbook", 400) from None
    deadline.check()
    try:
        if not wb.worksheets:
            raise _refuse("unreadable_file", "the workbook has no sheet", 400)
        ws = wb.worksheets[0]
        first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
        for c in first[: limits.max_columns + 1]:
            _check_cell(c, limits, 0)
        header = _header(first, limits)
        # only as many columns as the header names: the sheet's declared size (which a file may inflate) never
        # decides how wide a row is read
        values = ws.iter_rows(min_row=2, max_col=len(header), values_only=True)
        return _rows(header, values, limits, deadline)
    except FileRefused:
        raise
    except Exception:
        raise _refuse("unreadable_file", "not a readable XLSX workbook", 400) from None
    finally:
        wb.close()


def read_rows_sync(content: bytes, fmt: str, limits: ImportLimits) -> list[dict[str, object]]:
    """Rows as column → cell dicts (the first row is the header), on the calling thread. Raises :class:`FileRefused`."""
    if len(content) > limits.max_bytes:
        raise _refuse("payload_too_large", f"files are limited to {limits.max_bytes} bytes", 413)
    deadline = _Deadline(limits.timeout_s)
    if fmt == "csv":
        return _read_csv(content, limits, deadline)
    if fmt == "xlsx":
        return _read_xlsx(content, limits, deadline)
    raise _refuse("unsupported_media_type", "send text/csv or an XLSX workbook", 415)


class HouseholdFileReader:
    """Parses household files in worker threads, at most ``limits.max_concurrent`` at a time (per process)."""

    def __init__(self, limits: ImportLimits | None = None) -> None:
        self.limits = limits or ImportLimits()
        self._slots = asyncio.Semaphore(self.limits.max_concurrent)

    async def read(self, content: bytes, fmt: str) -> list[dict[str, object]]:
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.limits.wait_for_slot_s)
        except TimeoutError:
            raise _refuse("imports_busy", "other imports are being read; try again shortly", 503) from None
        try:
            return await asyncio.to_thread(read_rows_sync, content, fmt, self.limits)
        finally:
            self._slots.release()
