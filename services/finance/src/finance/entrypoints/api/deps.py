"""Shared route plumbing: the use-case context, payment rules, strict body types, scope helpers, exports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, cast

from fastapi import Depends, Response
from pydantic import Field, StrictInt, StrictStr

from finance.config import Settings
from finance.domain.payments import PaymentRules
from finance.service_layer.context import Context
from finance.service_layer.scope import covers
from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, Scope
from renovation_common.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes

ID = r"^[A-Za-z0-9_.:\-]{1,64}$"

# Money and ids in request bodies are strict: "100" for an ``*_fen`` field is a 422, never 100 fen.
StrictId = Annotated[StrictStr, Field(pattern=ID)]
Fen = StrictInt
Count = StrictInt


def get_ctx(runtime: Runtime = Depends(get_runtime)) -> Context:
    return Context(uow=runtime.uow, source=runtime.settings.event_source, clock=runtime.clock)


def get_payment_rules(runtime: Runtime = Depends(get_runtime)) -> PaymentRules:
    """The payment settings in domain form, built once per running app."""
    rules = runtime.extras.get("payment_rules")
    if rules is None:
        rules = runtime.extras["payment_rules"] = cast(Settings, runtime.settings).payment_rules()
    return cast(PaymentRules, rules)


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
    return covers(principal, account_scope(row))


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
