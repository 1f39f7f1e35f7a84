"""Contribution routes: schemes, dues, collection rates (paying a due: ``payments.py``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from finance.domain.contributions import SchemeKind
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.contributions import (
    BuildingCollectionRead,
    CollectionRead,
    CommunityCollectionRead,
    DueRead,
    SchemeCollectionRead,
    SchemeCreate,
    SchemeRead,
)
from finance.entrypoints.api.schemas.types import ID
from finance.service_layer import contributions as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["contributions"])
STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
# Dues and collection rates are read by the finance office too (it records receipts against them).
READERS = (*STAFF, Role.FINANCE_OFFICER)


@router.post(
    "/v1/contribution-schemes",
    operation_id="createContributionScheme",
    response_model=SchemeRead,
    status_code=201,
    summary="Create a contribution scheme and one due per household",
)
async def create_scheme(
    body: SchemeCreate, principal: Annotated[Principal, authorize(*STAFF)], ctx: ContextDep
) -> SchemeRead:
    """Maintenance fund at no less than 500 fen (5 yuan) per m² of exclusive floor area (422
    ``maintenance_rate_below_minimum``), rounded half up to the fen; water meter at a fixed amount per household
    (default 80,000 fen). The dues go to the community's households (or those of ``building_ids``) known from the
    survey's registrations."""
    created = await uc.create_scheme(
        ctx,
        principal,
        uc.CreateScheme(
            community_id=body.community_id,
            kind=body.kind,
            title=body.title,
            rate_fen_per_m2=body.rate_fen_per_m2,
            amount_fen_per_household=body.amount_fen_per_household,
            building_ids=tuple(body.building_ids),
        ),
    )
    scheme = created.scheme
    return SchemeRead(
        id=scheme.id,
        community_id=scheme.community_id,
        district_id=scheme.district_id,
        kind=scheme.kind,
        title=scheme.title,
        rate_fen_per_m2=scheme.rate_fen_per_m2,
        amount_fen_per_household=scheme.amount_fen_per_household,
        pool_account_id=scheme.pool_account_id,
        dues_count=created.dues_count,
        dues_total_fen=created.dues_total_fen,
        created_at=scheme.created_at,
    )


@router.get(
    "/v1/dues",
    operation_id="listDues",
    response_model=Page[DueRead],
    summary="Dues: a resident's own household's, or those of the caller's scope (filters, cursor pagination)",
)
async def list_dues(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(Role.RESIDENT, *READERS)],
    ctx: ContextDep,
    household_id: Annotated[str | None, Query(pattern=ID)] = None,
    community_id: Annotated[str | None, Query(pattern=ID)] = None,
    scheme_id: uuid.UUID | None = None,
    kind: Annotated[SchemeKind | None, Query(description="e.g. emergency_repair: repairs' household shares")] = None,
    status: Annotated[Literal["outstanding", "paid", "cancelled"] | None, Query()] = None,
) -> Page[DueRead]:
    """Residents see their own household's dues only (every kind, the shares of emergency repairs included);
    staff and finance officers the dues of their scope (district, street or community), narrowed by household,
    community, scheme, kind and status."""
    rows = await uc.list_dues(
        ctx,
        principal,
        uc.DueQuery(
            household_id=household_id, community_id=community_id, scheme_id=scheme_id, kind=kind, status=status
        ),
        after=page.after_uuid(),
        limit=page.limit + 1,
    )
    return make_page([DueRead.of(r) for r in rows], page.limit, lambda d: str(d.id))


@router.get(
    "/v1/dues/{due_id}",
    operation_id="getDue",
    response_model=DueRead,
    summary="A due with the payments posted against it",
)
async def get_due(
    due_id: uuid.UUID, principal: Annotated[Principal, authorize(Role.RESIDENT, *READERS)], ctx: ContextDep
) -> DueRead:
    """Each payment shows its proof: a staff receipt (number, method, when received) or a provider's transaction."""
    view = await uc.get_due(ctx, principal, due_id)
    return DueRead.of(view.due, view.payments)


@router.get(
    "/v1/communities/{community_id}/collection",
    operation_id="getCollection",
    response_model=CommunityCollectionRead,
    summary="Collection rates of a community: per scheme and building, in money and households",
)
async def get_collection(
    community_id: str,
    principal: Annotated[Principal, authorize(*READERS)],
    ctx: ContextDep,
    scheme_id: uuid.UUID | None = None,
) -> CommunityCollectionRead:
    """Money due and paid, households with a due, paying and paid in full, per scheme and building and in total;
    a household counts once in every total (two dues or two payments are still one paying household). Cancelled
    dues are not collected."""
    result = await uc.collection(ctx, principal, community_id, scheme_id)
    return CommunityCollectionRead(
        community_id=result.community_id,
        total=CollectionRead.of(result.total),
        schemes=[
            SchemeCollectionRead(
                scheme_id=s.scheme_id,
                kind=s.kind,
                total=CollectionRead.of(s.total),
                buildings=[
                    BuildingCollectionRead(building_id=b.building_id, **CollectionRead.of(b.collection).model_dump())
                    for b in s.buildings
                ],
            )
            for s in result.schemes
        ],
    )
