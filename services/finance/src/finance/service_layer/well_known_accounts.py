"""Every account the service creates itself, in one place: its code, kind and name, created on first use (codes are
unique, so concurrent creation is safe). Use cases never spell an account code.

| account | code | kind | scope |
|---|---|---|---|
| treasury of a district | ``treasury:<district>`` | government (may go negative) | district |
| the outside world of a district | ``external:<district>`` | external (may go negative) | district |
| a district's emergency repair fund | ``emergency_fund:<district>`` | fund_source | district |
| a community's public income | ``public_income:<community>`` | community_public_income | community |
| a household | ``household:<household>`` | household (negative = owes) | household |
| a project | ``project:<project>`` | project | project |
| an emergency repair's clearing | ``repair:<request>`` | repair | community |
| a contribution scheme's pool | ``scheme:<scheme>`` | contribution_pool | community |
| a funding plan's source | ``plan:<plan>:<source>`` | fund_source | project |
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from finance.adapters.repositories import AccountRepository, AccountScope
from finance.domain.ledger import AccountKind


@dataclass(frozen=True)
class WellKnown:
    prefix: str
    kind: AccountKind
    name: str

    def code(self, *key: object) -> str:
        return ":".join((self.prefix, *(str(k) for k in key)))


TREASURY = WellKnown("treasury", AccountKind.GOVERNMENT, "Government finance (treasury)")
EXTERNAL = WellKnown("external", AccountKind.EXTERNAL, "Outside world (banks, payers, contractors)")
EMERGENCY_FUND = WellKnown(
    "emergency_fund", AccountKind.FUND_SOURCE, "Emergency repair fund, government share (危急维修资金)"
)
PUBLIC_INCOME = WellKnown("public_income", AccountKind.COMMUNITY_PUBLIC_INCOME, "Community public income (公共收益)")
HOUSEHOLD = WellKnown("household", AccountKind.HOUSEHOLD, "Household")
PROJECT = WellKnown("project", AccountKind.PROJECT, "Renovation project")
REPAIR_CLEARING = WellKnown("repair", AccountKind.REPAIR, "Emergency repair clearing")
SCHEME_POOL = WellKnown("scheme", AccountKind.CONTRIBUTION_POOL, "Contributions")
PLAN_SOURCE = WellKnown("plan", AccountKind.FUND_SOURCE, "Funding plan source")


def community_of(row: Any) -> AccountScope:
    """The scope of an account kept for a record with district/street/community columns (a community, a due, a
    repair request, a plan)."""
    return AccountScope(district_id=row.district_id, street_id=row.street_id, community_id=row.community_id)


async def ensure(
    accounts: AccountRepository,
    which: WellKnown,
    key: tuple[object, ...],
    scope: AccountScope,
    now: datetime,
    *,
    name: str | None = None,
) -> uuid.UUID:
    """The account ``which`` for ``key``, created in ``scope`` when missing."""
    return await accounts.ensure(code=which.code(*key), kind=which.kind, name=name or which.name, scope=scope, now=now)


async def treasury(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await ensure(accounts, TREASURY, (district_id,), AccountScope(district_id=district_id), now)


async def external(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await ensure(accounts, EXTERNAL, (district_id,), AccountScope(district_id=district_id), now)


async def emergency_fund(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await ensure(accounts, EMERGENCY_FUND, (district_id,), AccountScope(district_id=district_id), now)


async def public_income(accounts: AccountRepository, community: Any, now: datetime) -> uuid.UUID:
    """``community``: a record with district/street/community columns."""
    return await ensure(accounts, PUBLIC_INCOME, (community.community_id,), community_of(community), now)


async def household(accounts: AccountRepository, community: Any, household_id: str, now: datetime) -> uuid.UUID:
    scope = replace(community_of(community), household_id=household_id)
    return await ensure(accounts, HOUSEHOLD, (household_id,), scope, now)


async def project(accounts: AccountRepository, community: Any, project_id: str, now: datetime) -> uuid.UUID:
    scope = replace(community_of(community), project_id=project_id)
    return await ensure(accounts, PROJECT, (project_id,), scope, now)


async def repair_clearing(accounts: AccountRepository, repair: Any, now: datetime) -> uuid.UUID:
    return await ensure(accounts, REPAIR_CLEARING, (repair.id,), community_of(repair), now)


async def scheme_pool(
    accounts: AccountRepository, community: Any, scheme_id: uuid.UUID, title: str, now: datetime
) -> uuid.UUID:
    return await ensure(
        accounts, SCHEME_POOL, (scheme_id,), community_of(community), now, name=f"Contributions: {title}"
    )


async def plan_source(accounts: AccountRepository, plan: Any, source: str, now: datetime) -> uuid.UUID:
    scope = replace(community_of(plan), project_id=plan.project_id)
    return await ensure(accounts, PLAN_SOURCE, (plan.id, source), scope, now, name=f"Funding plan source {source}")
