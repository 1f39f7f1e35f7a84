"""The projects unit of work: rows read in a block stay readable after it (detached, not expired)."""

from __future__ import annotations

from renovation_common.db import UnitOfWork


class ProjectsUnitOfWork(UnitOfWork):
    async def __aexit__(self, *exc: object) -> None:
        # a read-only block ends in a rollback, which would expire every loaded row; detach them first
        self.session.expunge_all()
        await super().__aexit__(*exc)
