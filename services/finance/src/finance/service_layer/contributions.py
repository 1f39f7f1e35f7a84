"""Contribution schemes, dues per household, collection rates (payments: ``service_layer/payments.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from finance.adapters import ledger as ledger_repo
from finance.adapters import payments as payments_repo
from finance.adapters import repos
from finance.adapters.ledger import AccountScope
from finance.domain.contributions import Collection, SchemeKind, due_fen, validate_terms
from finance.domain.errors import RuleViolation
from finance.domain.ledger import AccountKind
from finance.service_layer.context import Context
from finance.service_layer.scope import community_scope, ensure_covers
from renovation_common.auth import Principal, Scope
from renovation_common.errors import NotFound

MAX_HOUSEHOLDS_PER_SCHEME = 20_000


def due_scope(due: Any) -> Scope:
    return Scope(
        district_id=due.district_id,
        street_id=due.street_id,
        community_id=due.community_id,
        household_id=due.household_id,
    )


async def create_scheme(
    ctx: Context,
    principal: Principal,
    *,
    community_id: str,
    kind: SchemeKind,
    title: str,
    rate_fen_per_m2: int | None,
    amount_fen_per_household: int | None,
    building_ids: list[str],
) -> tuple[Any, int, int]:
    """Create a scheme and one due per household of the community (or of the given buildings)."""
    terms = validate_terms(kind, rate_fen_per_m2, amount_fen_per_household)
    async with ctx.uow() as uow:
        community = await repos.community(uow.session, community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        ensure_covers(principal, community_scope(community), "community")
        homes = await repos.community_households(uow.session, community_id, building_ids)
        if not homes:
            raise RuleViolation("no_households", "the community (or buildings) has no registered household")
        if len(homes) > MAX_HOUSEHOLDS_PER_SCHEME:
            raise RuleViolation("too_many_households", "too many households for one scheme")
        scheme_id = ctx.new_id()
        pool = await ledger_repo.ensure_account(
            uow.session,
            code=f"scheme:{scheme_id}",
            kind=AccountKind.CONTRIBUTION_POOL,
            name=f"Contributions: {title}"[:200],
            scope=AccountScope(
                district_id=community.district_id, street_id=community.street_id, community_id=community_id
            ),
        )
        due_rows = [
            {
                "id": ctx.new_id(),
                "scheme_id": scheme_id,
                "household_id": h.household_id,
                "community_id": community_id,
                "district_id": community.district_id,
                "street_id": community.street_id,
                "building_id": h.building_id,
                "floor_area_m2": h.floor_area_m2,
                "amount_fen": due_fen(terms, h.floor_area_m2),
            }
            for h in homes
        ]
        await repos.insert_scheme(
            uow.session,
            {
                "id": scheme_id,
                "community_id": community_id,
                "district_id": community.district_id,
                "street_id": community.street_id,
                "kind": kind.value,
                "title": title,
                "rate_fen_per_m2": terms.rate_fen_per_m2,
                "amount_fen_per_household": terms.amount_fen_per_household,
                "pool_account_id": pool,
                "created_by": principal.sub,
            },
            due_rows,
        )
        await uow.commit()
        scheme = await repos.scheme(uow.session, scheme_id)
    return scheme, len(due_rows), sum(r["amount_fen"] for r in due_rows)


@dataclass(frozen=True)
class DueView:
    due: Any
    payments: list[Any]


async def get_due(ctx: Context, due_id: uuid.UUID) -> DueView:
    async with ctx.uow() as uow:
        due = await repos.due(uow.session, due_id)
        if due is None:
            raise NotFound("due not found", code="due_not_found")
        return DueView(due, await payments_repo.due_payments(uow.session, due_id))


async def list_dues(
    ctx: Context, *, household_id: str | None, scheme_id: uuid.UUID | None, after: str | None, limit: int
) -> list[Any]:
    async with ctx.uow() as uow:
        return await repos.list_dues(
            uow.session, household_id=household_id, scheme_id=scheme_id, after=after, limit=limit
        )


@dataclass(frozen=True)
class BuildingCollection:
    building_id: str
    collection: Collection


@dataclass(frozen=True)
class SchemeCollection:
    scheme_id: uuid.UUID
    kind: str
    total: Collection
    buildings: list[BuildingCollection]


async def collection(
    ctx: Context, principal: Principal, community_id: str, scheme_id: uuid.UUID | None
) -> tuple[Collection, list[SchemeCollection]]:
    async with ctx.uow() as uow:
        community = await repos.community(uow.session, community_id)
        if community is None:
            raise NotFound("community not found", code="community_not_found")
        ensure_covers(principal, community_scope(community), "community")
        rows = await repos.collection(uow.session, community_id, scheme_id)
    schemes: dict[uuid.UUID, SchemeCollection] = {}
    for row in rows:
        c = Collection(int(row.due_fen), int(row.paid_fen), row.households, row.households_paid_in_full)
        entry = schemes.get(row.scheme_id)
        if entry is None:
            entry = schemes[row.scheme_id] = SchemeCollection(row.scheme_id, row.kind, Collection(0, 0, 0, 0), [])
        entry.buildings.append(BuildingCollection(row.building_id, c))
    result = []
    for s in schemes.values():
        total = Collection(
            sum(b.collection.due_fen for b in s.buildings),
            sum(b.collection.paid_fen for b in s.buildings),
            sum(b.collection.households for b in s.buildings),
            sum(b.collection.households_paid_in_full for b in s.buildings),
        )
        result.append(SchemeCollection(s.scheme_id, s.kind, total, s.buildings))
    overall = Collection(
        sum(s.total.due_fen for s in result),
        sum(s.total.paid_fen for s in result),
        sum(s.total.households for s in result),
        sum(s.total.households_paid_in_full for s in result),
    )
    return overall, result
