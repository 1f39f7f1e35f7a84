"""Shared route plumbing: the use-case context, scope helpers, export responses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Depends, Response

from finance.service_layer.context import Context
from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, Scope
from renovation_common.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes

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
        body, media = xlsx_bytes(header, rows, sheet=title), XLSX_MEDIA_TYPE
    else:
        body, media = csv_bytes(header, rows), CSV_MEDIA_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


EXPORT_MEDIA = {
    200: {
        "content": {
            "text/csv": {},
            XLSX_MEDIA_TYPE: {},
        },
        "description": "The export file",
    }
}
