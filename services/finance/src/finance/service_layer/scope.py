"""Scope checks of the finance service: the target's scope always comes from the server's records (read models,
stored rows), never from a request body; a body that names another scope than the record is refused.

A token without its role's scope claims (e.g. a ``community_worker`` without a community) never gets this far:
``require_roles`` refuses it (403 ``scope_claim_missing``, ``renovation_common.auth.REQUIRED_CLAIMS``).
"""

from __future__ import annotations

from typing import Any

from renovation_common.auth import Principal, Scope
from renovation_common.errors import Forbidden


def ensure_covers(principal: Principal, scope: Scope, what: str = "resource") -> None:
    principal.ensure_covers(scope, what)


def covers(principal: Principal, scope: Scope) -> bool:
    return principal.covers(scope)


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


def ensure_body_agrees(record: Scope, named: dict[str, str | None], what: str) -> None:
    """A body may repeat the record's district/street/community/household, never name another one."""
    for name, value in named.items():
        if value is not None and value != getattr(record, name):
            raise Forbidden(
                f"the body names another {name} than the record of the {what}; scope comes from the record",
                code="out_of_scope",
                field=name,
            )
