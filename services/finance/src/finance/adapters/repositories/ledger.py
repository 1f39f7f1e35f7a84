"""The ledger: transfers posted all or nothing under the database's no-overdraft check, and one entry per
(transfer, account) for statements.

Posting locks every touched account ``FOR UPDATE`` in id order (the same order everywhere: no deadlocks), inserts
the transfers (``ON CONFLICT DO NOTHING``), updates the counters and writes the entries, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import accounts, entries, transfers
from finance.domain.errors import RuleViolation
from finance.domain.ledger import Counters, PendingTransfer, TransferKind, TransferSpec, apply, resolve


class TransferRaced(Exception):
    """A concurrent request inserted one of these transfer ids first: re-read it in a new transaction."""


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def existing(self, ids: Sequence[uuid.UUID]) -> list[Any]:
        rows = await self.session.execute(sa.select(transfers).where(transfers.c.id.in_(ids)).order_by(transfers.c.seq))
        return list(rows.all())

    async def post(
        self, specs: Sequence[TransferSpec], *, group_id: uuid.UUID | None, now: datetime
    ) -> list[Any] | None:
        """Post ``specs`` (all or nothing) in the session's transaction; return the stored rows.

        Returns ``None`` when every id already exists (the caller compares bodies). Raises :class:`TransferRaced`
        when a concurrent transaction inserted one of the ids meanwhile, and :class:`RuleViolation` for refusals.
        """
        ids = [uuid.UUID(s.id) for s in specs]
        if len(set(ids)) != len(ids):
            raise RuleViolation("duplicate_transfer_id", "transfer ids in a group must be distinct")
        if await self.existing(ids):
            return None

        # Pending transfers being resolved: lock them, and refuse a second resolution early (the unique index on
        # pending_id is the guarantee).
        pending: dict[str, PendingTransfer] = {}
        pending_ids = sorted({uuid.UUID(s.pending_id) for s in specs if s.pending_id is not None})
        if pending_ids:
            rows = await self.session.execute(
                sa.select(transfers).where(transfers.c.id.in_(pending_ids)).order_by(transfers.c.id).with_for_update()
            )
            for row in rows:
                if row.kind != TransferKind.PENDING.value:
                    raise RuleViolation("not_a_pending_transfer", f"transfer {row.id} is not pending", status=409)
                pending[str(row.id)] = PendingTransfer(
                    str(row.id), str(row.debit_account_id), str(row.credit_account_id), row.amount_fen
                )
            resolutions = sa.select(transfers.c.pending_id).where(transfers.c.pending_id.in_(pending_ids))
            resolved_already = (await self.session.execute(resolutions)).first()
            if resolved_already is not None:
                raise RuleViolation(
                    "pending_already_resolved", "the pending transfer was already posted or voided", status=409
                )
        resolved = [resolve(s, pending.get(s.pending_id) if s.pending_id else None) for s in specs]

        # Lock every account touched, in id order (the same order everywhere: no deadlocks between transfers).
        account_ids = sorted(
            {uuid.UUID(r.debit_account_id) for r in resolved} | {uuid.UUID(r.credit_account_id) for r in resolved}
        )
        locked = (
            await self.session.execute(
                sa.select(
                    accounts.c.id,
                    accounts.c.allow_negative,
                    accounts.c.debits_posted,
                    accounts.c.credits_posted,
                    accounts.c.debits_pending,
                    accounts.c.credits_pending,
                )
                .where(accounts.c.id.in_(account_ids))
                .order_by(accounts.c.id)
                .with_for_update()
            )
        ).all()
        if len(locked) != len(account_ids):
            found = {row.id for row in locked}
            missing = [str(a) for a in account_ids if a not in found]
            raise RuleViolation("account_not_found", f"unknown account(s): {', '.join(missing)}", status=404)
        before = {
            str(row.id): Counters(row.debits_posted, row.credits_posted, row.debits_pending, row.credits_pending)
            for row in locked
        }
        counters = {k: Counters(**v.__dict__) for k, v in before.items()}
        allow_negative = {str(row.id): row.allow_negative for row in locked}

        transfer_rows: list[dict[str, Any]] = []
        entry_rows: list[dict[str, Any]] = []
        for r in resolved:
            debit, credit = counters[r.debit_account_id], counters[r.credit_account_id]
            pending_before = (debit.debits_pending, credit.credits_pending)
            d_posted, c_posted = apply(r, debit, credit)
            tid = uuid.UUID(r.spec.id)
            transfer_rows.append(
                {
                    "id": tid,
                    "kind": r.spec.kind.value,
                    "debit_account_id": uuid.UUID(r.debit_account_id),
                    "credit_account_id": uuid.UUID(r.credit_account_id),
                    "amount_fen": r.amount_fen,
                    "pending_id": _uuid(r.spec.pending_id),
                    "group_id": group_id,
                    "code": r.spec.code,
                    "reference": r.spec.reference,
                    "memo": r.spec.memo,
                    "body_hash": r.spec.body_hash(),
                    "created_at": now,
                }
            )
            for side, account, counter, delta, pending_delta in (
                ("debit", r.debit_account_id, debit, d_posted, pending_before[0] - debit.debits_pending),
                ("credit", r.credit_account_id, credit, c_posted, credit.credits_pending - pending_before[1]),
            ):
                entry_rows.append(
                    {
                        "transfer_id": tid,
                        "account_id": uuid.UUID(account),
                        "side": side,
                        "posted_delta_fen": delta,
                        "pending_delta_fen": pending_delta,
                        "balance_after_fen": counter.balance,
                        "available_after_fen": counter.available,
                        "created_at": now,
                    }
                )

        inserted = (
            await self.session.execute(
                pg_insert(transfers).values(transfer_rows).on_conflict_do_nothing().returning(transfers.c.id)
            )
        ).all()
        if len(inserted) != len(transfer_rows):
            raise TransferRaced()

        updates = [
            {
                "b_id": uuid.UUID(key),
                "b_dp": c.debits_posted - before[key].debits_posted,
                "b_cp": c.credits_posted - before[key].credits_posted,
                "b_dq": c.debits_pending - before[key].debits_pending,
                "b_cq": c.credits_pending - before[key].credits_pending,
            }
            for key, c in counters.items()
        ]
        stmt = (
            sa.update(accounts)
            .where(accounts.c.id == sa.bindparam("b_id"))
            .values(
                debits_posted=accounts.c.debits_posted + sa.bindparam("b_dp"),
                credits_posted=accounts.c.credits_posted + sa.bindparam("b_cp"),
                debits_pending=accounts.c.debits_pending + sa.bindparam("b_dq"),
                credits_pending=accounts.c.credits_pending + sa.bindparam("b_cq"),
            )
        )
        try:
            for params in updates:  # in id order, like the locks
                await self.session.execute(stmt, params)
        except IntegrityError as exc:
            if "no_overdraft" in str(exc.orig):
                short = [k for k, c in counters.items() if not allow_negative[k] and c.available < 0]
                raise RuleViolation(
                    "insufficient_funds",
                    "the transfer would take an account below zero",
                    accounts=short,
                ) from None
            raise
        await self.session.execute(sa.insert(entries), entry_rows)
        return await self.existing(ids)

    async def statement(self, account_id: uuid.UUID, *, after: int | None, limit: int) -> list[Any]:
        stmt = (
            sa.select(
                entries.c.id.label("entry_id"),
                entries.c.side,
                entries.c.posted_delta_fen,
                entries.c.pending_delta_fen,
                entries.c.balance_after_fen,
                entries.c.available_after_fen,
                entries.c.created_at,
                transfers.c.id.label("transfer_id"),
                transfers.c.kind,
                transfers.c.amount_fen,
                transfers.c.code,
                transfers.c.reference,
                transfers.c.memo,
                transfers.c.debit_account_id,
                transfers.c.credit_account_id,
            )
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.account_id == account_id)
            .order_by(entries.c.id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(entries.c.id > after)
        return list((await self.session.execute(stmt)).all())
