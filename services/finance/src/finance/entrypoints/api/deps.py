"""Shared route plumbing: the use-case context, scope helpers, export responses."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Depends, Response
from openpyxl import Workbook

from finance.service_layer.context import Context
from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, Scope

ID = r"^[A-Za-z0-9_.:\-]{1,64}$"


def get_ctx(runtime: Runtime = Depends(get_runtime)) -> Context:
    return Context(uow=runtime.uow, source=runtime.settings.event_source)


def account_scope(row: Any) -> Scope:
    return Scope(
        district_id=row.district_id,
        street_id=row.street_id,
        community_id=row.community_id,
        household_id=row.household_id,
    )


def covers_account(principal: Principal, row: Any) -> bool:
    """Residents see only their household's account; staff and readers see accounts inside their scope.

    An account above the caller's level (e.g. a district's treasury for a street officer) is not covered.
    """
    if principal.role is Role.RESIDENT:
        return row.household_id is not None and row.household_id == principal.household_id
    if principal.role in (Role.OPERATOR, Role.GOV_SYSTEM):
        return principal.district_id is not None and principal.district_id == row.district_id
    return principal.covers(account_scope(row))


def export_response(
    fmt: str, filename: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Response:
    if fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = title[:31]
        ws.append(list(header))
        for row in rows:
            ws.append([_cell(v) for v in row])
        buf = io.BytesIO()
        wb.save(buf)
        return Response(
            buf.getvalue(),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: spreadsheet programs then read the Chinese text as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


EXPORT_MEDIA = {
    200: {
        "content": {
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
        "description": "The export file",
    }
}
