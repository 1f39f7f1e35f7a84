"""Well-known accounts, created on first use (codes are unique, so concurrent creation is safe)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.ledger import AccountScope, ensure_account
from finance.domain.ledger import AccountKind


async def treasury(session: AsyncSession, district_id: str) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"treasury:{district_id}",
        kind=AccountKind.GOVERNMENT,
        name="Government finance (treasury)",
        scope=AccountScope(district_id=district_id),
    )


async def external(session: AsyncSession, district_id: str) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"external:{district_id}",
        kind=AccountKind.EXTERNAL,
        name="Outside world (banks, payers, contractors)",
        scope=AccountScope(district_id=district_id),
    )


async def emergency_fund(session: AsyncSession, district_id: str) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"emergency_fund:{district_id}",
        kind=AccountKind.FUND_SOURCE,
        name="Emergency repair fund, government share (危急维修资金)",
        scope=AccountScope(district_id=district_id),
    )


async def public_income(session: AsyncSession, district_id: str, street_id: str | None, community_id: str) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"public_income:{community_id}",
        kind=AccountKind.COMMUNITY_PUBLIC_INCOME,
        name="Community public income (公共收益)",
        scope=AccountScope(district_id=district_id, street_id=street_id, community_id=community_id),
    )


async def household(
    session: AsyncSession, district_id: str, street_id: str | None, community_id: str, household_id: str
) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"household:{household_id}",
        kind=AccountKind.HOUSEHOLD,
        name="Household",
        scope=AccountScope(
            district_id=district_id, street_id=street_id, community_id=community_id, household_id=household_id
        ),
    )


async def project(
    session: AsyncSession, district_id: str, street_id: str | None, community_id: str, project_id: str
) -> uuid.UUID:
    return await ensure_account(
        session,
        code=f"project:{project_id}",
        kind=AccountKind.PROJECT,
        name="Renovation project",
        scope=AccountScope(
            district_id=district_id, street_id=street_id, community_id=community_id, project_id=project_id
        ),
    )
