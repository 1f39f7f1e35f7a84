"""Read model of the projects service's projects, with the ledger account finance keeps for each."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import projects

P = projects.c


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, project_id: str) -> Any:
        return (await self.session.execute(sa.select(projects).where(P.project_id == project_id))).first()

    async def upsert(self, values: dict[str, Any]) -> None:
        """A project is announced once (``projects.project.created.v1``); a repeat overwrites its description."""
        stmt = pg_insert(projects).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "project_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=[P.project_id], set_=updates))

    async def set_account(self, project_id: str, account_id: uuid.UUID) -> None:
        await self.session.execute(sa.update(projects).where(P.project_id == project_id).values(account_id=account_id))
