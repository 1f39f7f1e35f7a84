"""Scope rules of the finance service: the target's scope always comes from the server's records (read models,
stored rows), never from a request body; a body that names another scope than the record is refused.

A token without its role's scope claims (e.g. a ``community_worker`` without a community) never gets this far:
``authorize`` refuses it (403 ``scope_claim_missing``, ``renovation_common.auth.REQUIRED_CLAIMS``).
"""

from __future__ import annotations

from typing import Any

from renovation_common.auth import Principal, Role, Scope
from renovation_common.errors import Forbidden

# District-wide readers: they read what lies in their district and never write it.
DISTRICT_READERS = (Role.OPERATOR, Role.GOV_SYSTEM)


def of_row(row: Any) -> Scope:
    """The scope stored on a row with district/street/community (and household) columns."""
    return Scope(
        district_id=row.district_id,
        street_id=row.street_id,
        community_id=getattr(row, "community_id", None),
        household_id=getattr(row, "household_id", None),
    )


def community_scope(community: Any) -> Scope:
    return Scope(district_id=community.district_id, street_id=community.street_id, community_id=community.community_id)


def list_filters(principal: Principal, *, households: bool = True) -> dict[str, str]:
    """Column filters of a list in the caller's scope, the same rule as :func:`covers_account` (a resident: their
    household's rows, when the list has households; operators and government systems: their district; staff: their
    district, street and community as the token carries them)."""
    if principal.role is Role.RESIDENT and not households:
        raise Forbidden("residents list only their own household's records", code="out_of_scope")
    if principal.role in DISTRICT_READERS:
        if principal.district_id is None:
            raise Forbidden("your token carries no district", code="out_of_scope")
        return {"district_id": principal.district_id}
    return principal.scope_filters()


def covers_account(principal: Principal, row: Any) -> bool:
    """Residents see only their household's account; staff and readers see accounts inside their scope.

    An account above the caller's level (e.g. a district's treasury for a street officer) is not covered.
    """
    if principal.role is Role.RESIDENT:
        return row.household_id is not None and row.household_id == principal.household_id
    if principal.role in DISTRICT_READERS:
        return principal.district_id is not None and principal.district_id == row.district_id
    return principal.covers(of_row(row))


def ensure_reads_district_record(principal: Principal, row: Any, what: str) -> None:
    """A district-wide reader reads records of its district; everyone else records inside their scope."""
    if principal.role in DISTRICT_READERS:
        if principal.district_id is None or principal.district_id != row.district_id:
            raise Forbidden(f"this {what} is outside your scope", code="out_of_scope")
        return
    principal.ensure_covers(of_row(row), what)


def ensure_body_agrees(record: Scope, named: dict[str, str | None], what: str) -> None:
    """A body may repeat the record's district/street/community/household, never name another one."""
    for name, value in named.items():
        if value is not None and value != getattr(record, name):
            raise Forbidden(
                f"the body names another {name} than the record of the {what}; scope comes from the record",
                code="out_of_scope",
                field=name,
            )
