"""Contribution schemes, dues per household, collection rates (paying a due: ``payments.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
    DueFilter,
    DueRepository,
    HouseholdRepository,
    PaymentRepository,
    SchemeRepository,
)
from finance.domain.contributions import Collection, SchemeKind, due_fen, validate_terms
from finance.domain.errors import RuleViolation
from finance.service_layer import well_known_accounts
from finance.service_layer.context import Context
from finance.service_layer.scope import community_scope, list_filters, of_row
from renovation_common.auth import Principal, Role
from renovation_common.errors import Forbidden, NotFound

MAX_HOUSEHOLDS_PER_SCHEME = 20_000


@dataclass(frozen=True)
class CreateScheme:
    community_id: str
    kind: SchemeKind
    title: str
    rate_fen_per_m2: int | None = None
    amount_fen_per_household: int | None = None
    building_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemeCreated:
    scheme: Any
    dues_count: int
    dues_total_fen: int


async def create_scheme(ctx: Context, principal: Principal, cmd: CreateScheme) -> SchemeCreated:
    """Create a scheme and one due per household of the community (or of the given buildings)."""
    terms = validate_terms(cmd.kind, cmd.rate_fen_per_m2, cmd.amount_fen_per_household)
    now = ctx.clock()
    async with ctx.uow() as uow:
        community = await CommunityRepository(uow.session).get(cmd.community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        principal.ensure_covers(community_scope(community), "community")
        homes = await HouseholdRepository(uow.session).of_community(cmd.community_id, cmd.building_ids)
        if not homes:
            raise RuleViolation("no_households", "the community (or buildings) has no registered household")
        if len(homes) > MAX_HOUSEHOLDS_PER_SCHEME:
            raise RuleViolation("too_many_households", "too many households for one scheme")
        scheme_id = ctx.new_id()
        pool = await well_known_accounts.scheme_pool(
            AccountRepository(uow.session), community, scheme_id, cmd.title, now
        )
        due_rows = [
            {
                "id": ctx.new_id(),
                "scheme_id": scheme_id,
                "household_id": h.household_id,
                "community_id": cmd.community_id,
                "district_id": community.district_id,
                "street_id": community.street_id,
                "building_id": h.building_id,
                "floor_area_m2": h.floor_area_m2,
                "amount_fen": due_fen(terms, h.floor_area_m2),
                "created_at": now,
            }
            for h in homes
        ]
        schemes = SchemeRepository(uow.session)
        await schemes.add(
            {
                "id": scheme_id,
                "community_id": cmd.community_id,
                "district_id": community.district_id,
                "street_id": community.street_id,
                "kind": cmd.kind.value,
                "title": cmd.title,
                "rate_fen_per_m2": terms.rate_fen_per_m2,
                "amount_fen_per_household": terms.amount_fen_per_household,
                "pool_account_id": pool,
                "created_by": principal.sub,
                "created_at": now,
            },
            due_rows,
        )
        scheme = await schemes.get(scheme_id)
        await uow.commit()
    return SchemeCreated(scheme, len(due_rows), sum(r["amount_fen"] for r in due_rows))


@dataclass(frozen=True)
class DueView:
    due: Any
    payments: list[Any]


async def due_view(session: Any, due_id: uuid.UUID) -> DueView:
    due = await DueRepository(session).get(due_id)
    if due is None:
        raise NotFound("due not found", code="due_not_found")
    return DueView(due, await PaymentRepository(session).of_due(due_id))


async def get_due(ctx: Context, principal: Principal, due_id: uuid.UUID) -> DueView:
    """A due with its payments; residents: their own household's only."""
    async with ctx.read() as reader:
        view = await due_view(reader.session, due_id)
    principal.ensure_covers(of_row(view.due), "due")
    return view


@dataclass(frozen=True)
class DueQuery:
    household_id: str | None = None
    scheme_id: uuid.UUID | None = None
    community_id: str | None = None
    kind: SchemeKind | None = None
    status: str | None = None  # outstanding | paid | cancelled


async def _ensure_named_targets_in_scope(session: Any, principal: Principal, query: DueQuery) -> None:
    """A household or community the query names is checked against finance's record of it (403 outside scope)."""
    if query.household_id is not None:
        home = await HouseholdRepository(session).get(query.household_id)
        if home is not None:
            principal.ensure_covers(of_row(home), "household")
    if query.community_id is not None:
        community = await CommunityRepository(session).get(query.community_id)
        if community is not None:
            principal.ensure_covers(community_scope(community), "community")


async def list_dues(
    ctx: Context, principal: Principal, query: DueQuery, *, after: uuid.UUID | None, limit: int
) -> list[Any]:
    """Residents see their own household's dues only; staff see the dues of their scope (district, street or
    community, from their claims), narrowed by household, community, scheme, kind and status.

    Returns up to ``limit`` dues after the cursor, by id."""
    where = DueFilter(
        household_id=query.household_id,
        community_id=query.community_id,
        scheme_id=query.scheme_id,
        kind=query.kind.value if query.kind else None,
        status=query.status,
    )
    if principal.role is Role.RESIDENT and query.household_id not in (None, principal.household_id):
        raise Forbidden("residents see only their own household", code="out_of_scope")
    scope = list_filters(principal)  # a resident: their household; staff: every claim their token carries
    async with ctx.read() as reader:
        if principal.role is not Role.RESIDENT:
            await _ensure_named_targets_in_scope(reader.session, principal, query)
            named = query.community_id
            if named is not None and scope.get("community_id", named) != named:
                return []  # a worker of one community naming another: nothing of theirs there
        where = replace(where, **scope)
        rows = await DueRepository(reader.session).find(where, after=after, limit=limit)
    for row in rows:
        principal.ensure_covers(of_row(row), "due")
    return rows


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


@dataclass(frozen=True)
class CommunityCollection:
    community_id: str
    total: Collection
    schemes: list[SchemeCollection]


def _add(parts: list[Collection]) -> Collection:
    return Collection(
        sum(c.due_fen for c in parts),
        sum(c.paid_fen for c in parts),
        sum(c.households for c in parts),
        sum(c.households_paid_in_full for c in parts),
        sum(c.households_paying for c in parts),
    )


def _collection(row: Any) -> Collection:
    return Collection(
        int(row.due_fen), int(row.paid_fen), row.households, row.households_paid_in_full, row.households_paying
    )


async def collection(
    ctx: Context, principal: Principal, community_id: str, scheme_id: uuid.UUID | None
) -> CommunityCollection:
    """Per scheme and building, and in total; every total counts a household once (a household owing two dues, or
    paying one due in two payments, is one household and one paying household)."""
    async with ctx.read() as reader:
        community = await CommunityRepository(reader.session).get(community_id)
        if community is None:
            raise NotFound("community not found", code="community_not_found")
        principal.ensure_covers(community_scope(community), "community")
        dues = DueRepository(reader.session)
        rows = await dues.collection(community_id, scheme_id)
        total = await dues.community_households(community_id, scheme_id)
    buildings: dict[uuid.UUID, tuple[str, list[BuildingCollection]]] = {}
    for row in rows:
        buildings.setdefault(row.scheme_id, (row.kind, []))[1].append(
            BuildingCollection(row.building_id, _collection(row))
        )
    # inside one scheme a household has one due (a unique constraint) in one building: the buildings add up
    schemes = [
        SchemeCollection(sid, kind, _add([b.collection for b in parts]), parts)
        for sid, (kind, parts) in buildings.items()
    ]
    return CommunityCollection(community_id, _collection(total), schemes)
