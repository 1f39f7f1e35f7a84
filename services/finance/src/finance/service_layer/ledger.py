"""Ledger use cases: accounts, transfers (idempotent by id, linked groups, two-phase), statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError

from finance.adapters import ledger as repo
from finance.adapters import repos
from finance.domain.errors import RuleViolation
from finance.domain.ledger import MAX_GROUP_SIZE, TransferSpec
from finance.service_layer.context import Context, derived_id
from finance.service_layer.scope import community_scope, ensure_body_agrees, ensure_covers, of_row
from renovation_common.auth import Principal, Scope
from renovation_common.errors import Forbidden, NotFound

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


@dataclass(frozen=True)
class AccountTarget:
    """What a create-account body names. Scope comes from the records of the household, project or community it
    names (read models); a district-level account lives in the caller's own district."""

    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None
    project_id: str | None = None


async def _target_scope(session: Any, principal: Principal, target: AccountTarget) -> dict[str, str | None]:
    records: list[tuple[str, Scope]] = []
    if target.household_id is not None:
        home = await repos.household(session, target.household_id)
        if home is None:
            raise RuleViolation("household_unknown", "no household with this id is known to finance")
        records.append(("household", of_row(home)))
    if target.project_id is not None:
        project = await repos.project(session, target.project_id)
        if project is None:
            raise RuleViolation("project_unknown", "no project with this id has been announced to finance")
        records.append(("project", of_row(project)))
    if target.community_id is not None:
        community = await repos.community(session, target.community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        records.append(("community", community_scope(community)))
    named = {
        "district_id": target.district_id,
        "street_id": target.street_id,
        "community_id": target.community_id,
        "household_id": target.household_id,
    }
    if not records:
        if target.street_id is not None:
            raise RuleViolation(
                "account_target_required",
                "a street is not a target of its own: name the community, household or project",
            )
        if principal.district_id is None:
            raise Forbidden("your token carries no district", code="out_of_scope")
        records.append(("district", Scope(district_id=principal.district_id)))
    # the most specific record is the scope; the body and every other record it names must agree with it
    what, scope = records[0]
    ensure_body_agrees(scope, {k: v for k, v in named.items() if k != "household_id"}, what)
    for other_what, other in records[1:]:
        ensure_body_agrees(
            scope,
            {"district_id": other.district_id, "street_id": other.street_id, "community_id": other.community_id},
            f"{what} (the {other_what} named is elsewhere)",
        )
    ensure_covers(principal, scope, what)
    return {
        "district_id": scope.district_id,
        "street_id": scope.street_id,
        "community_id": scope.community_id,
        "household_id": target.household_id,
        "project_id": target.project_id,
    }


async def create_account(ctx: Context, principal: Principal, target: AccountTarget, values: dict[str, Any]) -> Any:
    """Create an account in the scope of the record it names (refused outside the caller's scope)."""
    async with ctx.uow() as uow:
        scope = await _target_scope(uow.session, principal, target)
        row = await repo.insert_account(uow.session, {"id": ctx.new_id(), **values, **scope})
        await uow.commit()
    return row


async def statement(ctx: Context, account_id: uuid.UUID, *, after: int | None, limit: int) -> list[Any]:
    async with ctx.uow() as uow:
        return await repo.statement(uow.session, account_id, after=after, limit=limit)
