"""Well-known accounts, created on first use (codes are unique, so concurrent creation is safe)."""

from __future__ import annotations

import uuid
from datetime import datetime

from finance.adapters.repositories import AccountRepository, AccountScope
from finance.domain.ledger import AccountKind


def public_income_code(community_id: str) -> str:
    return f"public_income:{community_id}"


async def treasury(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await accounts.ensure(
        code=f"treasury:{district_id}",
        kind=AccountKind.GOVERNMENT,
        name="Government finance (treasury)",
        scope=AccountScope(district_id=district_id),
        now=now,
    )


async def external(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await accounts.ensure(
        code=f"external:{district_id}",
        kind=AccountKind.EXTERNAL,
        name="Outside world (banks, payers, contractors)",
        scope=AccountScope(district_id=district_id),
        now=now,
    )


async def emergency_fund(accounts: AccountRepository, district_id: str, now: datetime) -> uuid.UUID:
    return await accounts.ensure(
        code=f"emergency_fund:{district_id}",
        kind=AccountKind.FUND_SOURCE,
        name="Emergency repair fund, government share (危急维修资金)",
        scope=AccountScope(district_id=district_id),
        now=now,
    )


async def public_income(
    accounts: AccountRepository, district_id: str, street_id: str | None, community_id: str, now: datetime
) -> uuid.UUID:
    return await accounts.ensure(
        code=public_income_code(community_id),
        kind=AccountKind.COMMUNITY_PUBLIC_INCOME,
        name="Community public income (公共收益)",
        scope=AccountScope(district_id=district_id, street_id=street_id, community_id=community_id),
        now=now,
    )


async def household(
    accounts: AccountRepository,
    district_id: str,
    street_id: str | None,
    community_id: str,
    household_id: str,
    now: datetime,
) -> uuid.UUID:
    return await accounts.ensure(
        code=f"household:{household_id}",
        kind=AccountKind.HOUSEHOLD,
        name="Household",
        scope=AccountScope(
            district_id=district_id, street_id=street_id, community_id=community_id, household_id=household_id
        ),
        now=now,
    )


async def project(
    accounts: AccountRepository,
    district_id: str,
    street_id: str | None,
    community_id: str,
    project_id: str,
    now: datetime,
) -> uuid.UUID:
    return await accounts.ensure(
        code=f"project:{project_id}",
        kind=AccountKind.PROJECT,
        name="Renovation project",
        scope=AccountScope(
            district_id=district_id, street_id=street_id, community_id=community_id, project_id=project_id
        ),
        now=now,
    )


async def repair_clearing(
    accounts: AccountRepository,
    district_id: str,
    street_id: str | None,
    community_id: str,
    request_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID:
    return await accounts.ensure(
        code=f"repair:{request_id}",
        kind=AccountKind.REPAIR,
        name="Emergency repair clearing",
        scope=AccountScope(district_id=district_id, street_id=street_id, community_id=community_id),
        now=now,
    )
