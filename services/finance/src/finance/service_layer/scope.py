"""Scope checks of the finance service: the target's scope always comes from the server's records (read models,
stored rows), never from a request body; a body that names another scope than the record is refused.

On top of :meth:`Principal.covers`: a ``community_worker`` acts inside the community its token names; a worker's
token without a community claim is refused (``community_claim_required``) instead of covering the whole district
or street it may name.
"""

from __future__ import annotations

from typing import Any

from renovation_common.auth import Principal, Role, Scope
from renovation_common.errors import Forbidden


def ensure_claims(principal: Principal) -> None:
    """Refuse a token whose claims do not bind it where its role acts."""
    if principal.role is Role.COMMUNITY_WORKER and principal.community_id is None:
        raise Forbidden("a community worker's token must name a community", code="community_claim_required")


def ensure_covers(principal: Principal, scope: Scope, what: str = "resource") -> None:
    ensure_claims(principal)
    principal.ensure_covers(scope, what)


def covers(principal: Principal, scope: Scope) -> bool:
    if principal.role is Role.COMMUNITY_WORKER and principal.community_id is None:
        return False
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
