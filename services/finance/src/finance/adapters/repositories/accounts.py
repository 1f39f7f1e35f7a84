"""Ledger accounts: the four counters of each account, created once per code, read by id, code or scope."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import accounts
from finance.domain.errors import RuleViolation
from finance.domain.ledger import NEGATIVE_ALLOWED_BY_DEFAULT, AccountKind
from renovation_common.db import rows_after_id

A = accounts.c


@dataclass(frozen=True)
class AccountScope:
    """Where an account lives (the columns it is stored with)."""

    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None
    project_id: str | None = None


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ensure(
        self,
        *,
        code: str,
        kind: AccountKind,
        name: str,
        scope: AccountScope,
        now: datetime,
        allow_negative: bool | None = None,
    ) -> uuid.UUID:
        """The account with ``code``, created if missing (concurrency-safe through the unique code)."""
        negative = kind in NEGATIVE_ALLOWED_BY_DEFAULT if allow_negative is None else allow_negative
        inserted = (
            await self.session.execute(
                pg_insert(accounts)
                .values(
                    id=uuid.uuid4(),
                    code=code,
                    kind=kind.value,
                    name=name[:200],
                    allow_negative=negative,
                    created_at=now,
                    **asdict(scope),
                )
                .on_conflict_do_nothing(index_elements=[A.code])
                .returning(A.id)
            )
        ).scalar_one_or_none()
        if inserted is not None:
            return uuid.UUID(str(inserted))
        existing = (await self.session.execute(sa.select(A.id).where(A.code == code))).scalar_one()
        return uuid.UUID(str(existing))

    async def get(self, account_id: uuid.UUID) -> Any:
        return (await self.session.execute(sa.select(accounts).where(A.id == account_id))).first()

    async def find(
        self, *, filters: dict[str, str], kind: str | None, after: uuid.UUID | None, limit: int
    ) -> list[Any]:
        """Accounts whose columns equal ``filters`` (and of ``kind``), by id after the cursor."""
        return await rows_after_id(self.session, accounts, {**filters, "kind": kind}, after, limit)

    async def get_many(self, account_ids: list[uuid.UUID]) -> list[Any]:
        stmt = sa.select(accounts).where(A.id.in_(account_ids)).order_by(A.id)
        return list((await self.session.execute(stmt)).all())

    async def lock(self, account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """Lock accounts ``FOR UPDATE`` in id order (the ledger's order: no deadlocks) and read their counters."""
        stmt = sa.select(accounts).where(A.id.in_(account_ids)).order_by(A.id).with_for_update()
        return {row.id: row for row in (await self.session.execute(stmt)).all()}

    async def get_by_code(self, code: str, *, for_update: bool = False) -> Any:
        stmt = sa.select(accounts).where(A.code == code)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def add(self, values: dict[str, Any]) -> Any:
        """Insert an account; a code already taken is 409 ``account_code_taken``."""
        try:
            async with self.session.begin_nested():
                return (await self.session.execute(sa.insert(accounts).values(**values).returning(accounts))).one()
        except IntegrityError:
            raise RuleViolation("account_code_taken", "an account with this code already exists", status=409) from None
