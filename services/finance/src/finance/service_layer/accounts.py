"""Account use cases: create an account in the scope of the record it names, read it, its statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
    HouseholdRepository,
    LedgerRepository,
    ProjectRepository,
)
from finance.domain.errors import RuleViolation
from finance.domain.ledger import NEGATIVE_ALLOWED_BY_DEFAULT, AccountKind
from finance.service_layer.context import Context
from finance.service_layer.scope import community_scope, covers_account, ensure_body_agrees, list_filters, of_row
from renovation_common.auth import Principal, Scope
from renovation_common.errors import Forbidden, NotFound

MAX_EXPORT_ENTRIES = 50_000


@dataclass(frozen=True)
class CreateAccount:
    """What a create-account body names. Scope comes from the records of the household, project or community it
    names (read models); a district-level account lives in the caller's own district."""

    kind: AccountKind
    name: str
    code: str | None = None
    allow_negative: bool | None = None  # None: by kind (treasury, outside world and households may go negative)
    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None
    project_id: str | None = None


async def _target_scope(session: Any, principal: Principal, target: CreateAccount) -> dict[str, str | None]:
    records: list[tuple[str, Scope]] = []
    if target.household_id is not None:
        home = await HouseholdRepository(session).get(target.household_id)
        if home is None:
            raise RuleViolation("household_unknown", "no household with this id is known to finance")
        records.append(("household", of_row(home)))
    if target.project_id is not None:
        project = await ProjectRepository(session).get(target.project_id)
        if project is None:
            raise RuleViolation("project_unknown", "no project with this id has been announced to finance")
        records.append(("project", of_row(project)))
    if target.community_id is not None:
        community = await CommunityRepository(session).get(target.community_id)
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
    principal.ensure_covers(scope, what)
    return {
        "district_id": scope.district_id,
        "street_id": scope.street_id,
        "community_id": scope.community_id,
        "household_id": target.household_id,
        "project_id": target.project_id,
    }


async def create_account(ctx: Context, principal: Principal, cmd: CreateAccount) -> Any:
    """Create an account in the scope of the record it names (refused outside the caller's scope)."""
    negative = cmd.kind in NEGATIVE_ALLOWED_BY_DEFAULT if cmd.allow_negative is None else cmd.allow_negative
    async with ctx.uow() as uow:
        scope = await _target_scope(uow.session, principal, cmd)
        row = await AccountRepository(uow.session).add(
            {
                "id": ctx.new_id(),
                "code": cmd.code,
                "kind": cmd.kind.value,
                "name": cmd.name,
                "allow_negative": negative,
                "created_at": ctx.clock(),
                **scope,
            }
        )
        await uow.commit()
    return row


async def _readable(session: Any, principal: Principal, account_id: uuid.UUID) -> Any:
    row = await AccountRepository(session).get(account_id)
    if row is None:
        raise NotFound("account not found", code="account_not_found")
    if not covers_account(principal, row):
        raise Forbidden("this account is outside your scope", code="out_of_scope")
    return row


async def list_accounts(
    ctx: Context,
    principal: Principal,
    *,
    kind: AccountKind | None,
    community_id: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """Accounts in the caller's scope (a resident: their household's), narrowed to a community when asked; an
    account above the caller's level is not listed, as it is not readable."""
    filters = list_filters(principal)
    if community_id is not None:
        if filters.get("community_id", community_id) != community_id:
            return []
        filters["community_id"] = community_id
    async with ctx.read() as reader:
        return await AccountRepository(reader.session).find(
            filters=filters, kind=kind.value if kind else None, after=after, limit=limit
        )


async def get_account(ctx: Context, principal: Principal, account_id: uuid.UUID) -> Any:
    async with ctx.read() as reader:
        return await _readable(reader.session, principal, account_id)


async def statement(
    ctx: Context, principal: Principal, account_id: uuid.UUID, *, after: int | None, limit: int
) -> list[Any]:
    """Up to ``limit`` entries of the account after entry ``after``, oldest first."""
    async with ctx.read() as reader:
        await _readable(reader.session, principal, account_id)
        return await LedgerRepository(reader.session).statement(account_id, after=after, limit=limit)


@dataclass(frozen=True)
class StatementExport:
    account: Any
    entries: list[Any]


async def statement_export(ctx: Context, principal: Principal, account_id: uuid.UUID) -> StatementExport:
    async with ctx.read() as reader:
        account = await _readable(reader.session, principal, account_id)
        rows = await LedgerRepository(reader.session).statement(account_id, after=None, limit=MAX_EXPORT_ENTRIES)
    return StatementExport(account, rows)
