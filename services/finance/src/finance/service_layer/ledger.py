"""Ledger use cases: accounts, transfers (idempotent by id, linked groups, two-phase), statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError

from finance.adapters import ledger as repo
from finance.domain.errors import RuleViolation
from finance.domain.ledger import MAX_GROUP_SIZE, TransferSpec
from finance.service_layer.context import Context, derived_id
from renovation_common.errors import NotFound

RETRYABLE_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure

Authorize = Callable[[list[Any]], None]


@dataclass(frozen=True)
class PostResult:
    transfers: list[Any]
    group_id: uuid.UUID | None
    replayed: bool


def group_id_for(specs: Sequence[TransferSpec]) -> uuid.UUID | None:
    return derived_id("group", specs[0].id) if len(specs) > 1 else None


def _compare(existing: list[Any], specs: Sequence[TransferSpec], group_id: uuid.UUID | None) -> None:
    by_id = {str(row.id): row for row in existing}
    for spec in specs:
        row = by_id.get(spec.id)
        if row is None:
            raise RuleViolation(
                "transfer_id_reused",
                "some ids of this group exist already and others do not: a group is retried whole",
                status=409,
            )
        if row.body_hash != spec.body_hash() or row.group_id != group_id:
            raise RuleViolation(
                "transfer_id_reused",
                f"transfer {spec.id} exists with a different body; corrections are new transfers",
                status=409,
                transfer_id=spec.id,
            )


def _retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
    return code in RETRYABLE_SQLSTATES


async def post(
    ctx: Context,
    specs: Sequence[TransferSpec],
    *,
    authorize: Callable[[list[Any]], Any] | None = None,
) -> PostResult:
    """Post a transfer or a linked group exactly once. Same ids and bodies → the first result, replayed."""
    if not 1 <= len(specs) <= MAX_GROUP_SIZE:
        raise RuleViolation("invalid_group_size", f"a group holds 1 to {MAX_GROUP_SIZE} transfers")
    for spec in specs:
        spec.validate()
    group_id = group_id_for(specs)
    ids = [uuid.UUID(s.id) for s in specs]
    for _attempt in range(5):
        try:
            async with ctx.uow() as uow:
                rows = await repo.post_transfers(uow.session, specs, group_id=group_id)
                if rows is not None:
                    if authorize is not None:
                        await _authorize(uow.session, rows, authorize)
                    await uow.commit()
                    return PostResult(rows, group_id, replayed=False)
        except repo.TransferRaced:
            pass
        except DBAPIError as exc:
            if _retryable(exc):
                continue
            raise
        async with ctx.uow() as uow:
            existing = await repo.existing_transfers(uow.session, ids)
            if not existing and any(s.pending_id for s in specs):
                raise RuleViolation(
                    "pending_already_resolved", "the pending transfer was already posted or voided", status=409
                )
            if not existing:
                continue
            _compare(existing, specs, group_id)
            if authorize is not None:
                await _authorize(uow.session, existing, authorize)
        return PostResult(existing, group_id, replayed=True)
    raise RuleViolation("ledger_busy", "the ledger is busy; retry the same request", status=409)


async def _authorize(session: Any, rows: list[Any], authorize: Callable[[list[Any]], Any]) -> None:
    account_ids = {r.debit_account_id for r in rows} | {r.credit_account_id for r in rows}
    accounts = [await repo.get_account(session, a) for a in sorted(account_ids)]
    authorize(accounts)


async def get_account(ctx: Context, account_id: uuid.UUID) -> Any:
    async with ctx.uow() as uow:
        row = await repo.get_account(uow.session, account_id)
    if row is None:
        raise NotFound("account not found", code="account_not_found")
    return row


async def create_account(ctx: Context, values: dict[str, Any]) -> Any:
    async with ctx.uow() as uow:
        row = await repo.insert_account(uow.session, {"id": ctx.new_id(), **values})
        await uow.commit()
    return row


async def statement(ctx: Context, account_id: uuid.UUID, *, after: int | None, limit: int) -> list[Any]:
    async with ctx.uow() as uow:
        return await repo.statement(uow.session, account_id, after=after, limit=limit)
