"""What every survey repository shares: the session, the transaction's asyncpg connection for the write path's
hottest statements, and the ``unnest`` insert of many rows in one order."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import UnitOfWork, driver_connection


class SqlRepository:
    def __init__(self, session: AsyncSession, uow: UnitOfWork | None = None) -> None:
        self.session = session
        self._uow = uow  # a write that is one statement runs outside a transaction on the unit of work's pool

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def _driver(self, *, begin: bool = True) -> Any:
        """The transaction's asyncpg connection, the transaction begun, for the write path's hottest statements
        (SQLAlchemy's statement building and result processing were 42 % of a write's CPU): fixed SQL, parameters
        bound by the driver (``renovation_common.db.driver_connection``; ``begin=False``: outside a transaction)."""
        if not begin and self._uow is not None:
            return await self._uow.driver(begin=False)
        return await driver_connection(self.session, begin=begin)

    async def _insert_many(
        self, table: str, columns: dict[str, str], rows: list[dict[str, Any]], suffix: str = ""
    ) -> list[Any]:
        """One INSERT of every row, in the given order (``unnest`` of one array per column, ``WITH ORDINALITY``),
        on the driver: the order concurrent writers lock rows in, and the order of an audit trail."""
        if not rows:
            return []
        cols = ", ".join(columns)
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(columns.values()))
        sql = (
            f"insert into {table} ({cols}) select {cols} from unnest({arrays}) with ordinality as u({cols}, i) "
            f"order by i {suffix}"
        )
        params = [[_db_value(t, r.get(c)) for r in rows] for c, t in columns.items()]
        return list(await (await self._driver()).fetch(sql, *params))


def _db_value(pg_type: str, value: Any) -> Any:
    if pg_type == "jsonb":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
