"""Ledger use cases: transfers posted exactly once (idempotent by id, linked groups, two-phase).

``post`` is the one way money moves: every other use case that moves money either calls it (its own transaction,
retried on a deadlock or a concurrent insert of the same ids) or posts inside its own transaction through
``LedgerRepository.post`` with ids derived from its business id (``derived_id``), so a retry maps to the same
transfers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError

from finance.adapters.repositories import AccountRepository, LedgerRepository, TransferRaced
from finance.domain.errors import RuleViolation
from finance.domain.ledger import MAX_GROUP_SIZE, TransferSpec
from finance.service_layer.context import Context, derived_id
from renovation_common.auth import Principal
from renovation_common.errors import Forbidden

RETRYABLE_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure

# Given the accounts a group touches (rows), raises when the caller may not move money between them.
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


async def _authorize(session: Any, rows: list[Any], authorize: Authorize) -> None:
    account_ids = sorted({r.debit_account_id for r in rows} | {r.credit_account_id for r in rows})
    authorize(await AccountRepository(session).get_many(account_ids))


async def post(ctx: Context, specs: Sequence[TransferSpec], *, authorize: Authorize | None = None) -> PostResult:
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
                rows = await LedgerRepository(uow.session).post(specs, group_id=group_id, now=ctx.clock())
                if rows is not None:
                    if authorize is not None:
                        await _authorize(uow.session, rows, authorize)
                    await uow.commit()
                    return PostResult(rows, group_id, replayed=False)
        except TransferRaced:
            pass
        except DBAPIError as exc:
            if _retryable(exc):
                continue
            raise
        async with ctx.read() as reader:
            existing = await LedgerRepository(reader.session).existing(ids)
            if not existing and any(s.pending_id for s in specs):
                raise RuleViolation(
                    "pending_already_resolved", "the pending transfer was already posted or voided", status=409
                )
            if not existing:
                continue
            _compare(existing, specs, group_id)
            if authorize is not None:
                await _authorize(reader.session, existing, authorize)
        return PostResult(existing, group_id, replayed=True)
    raise RuleViolation("ledger_busy", "the ledger is busy; retry the same request", status=409)


async def create_transfers(ctx: Context, principal: Principal, specs: Sequence[TransferSpec]) -> PostResult:
    """A district admin moves money between accounts of their own district (a group: all or nothing)."""

    def in_district(accounts: list[Any]) -> None:
        if any(a.district_id != principal.district_id for a in accounts):
            raise Forbidden("every account of a transfer must be in your district", code="out_of_scope")

    return await post(ctx, specs, authorize=in_district)
