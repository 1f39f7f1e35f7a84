"""Communities and households."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, authorize
from renovation_common.errors import DomainError
from renovation_common.exports import XLSX_MEDIA_TYPE
from renovation_common.pagination import Page, PageParams, decode_cursor, encode_cursor, make_page, page_params
from survey.domain.registry import HouseholdSpec, ResidentSpec, building_name
from survey.entrypoints.api.deps import ANY_READER, OFFICERS, STAFF, context
from survey.entrypoints.api.schemas import (
    BuildingRead,
    CommunityCreate,
    CommunityRead,
    HouseholdIn,
    HouseholdPage,
    HouseholdRead,
    HouseholdsCreate,
    HouseholdsCreatedRead,
    HouseholdUpdate,
    ResidentRead,
)
from survey.service_layer import registry as uc
from survey.service_layer.context import Context

router = APIRouter(tags=["registry"])
IMPORT_CSV_EXAMPLE = (
    "building,unit,room,floor_area_m2,owner_name,owner_phone,resident_birth_years,lives_alone,needs_accompaniment\n"
    "3,2,301,56.30,王秀兰,13800138000,1948,true,true\n"
    "3,2,302,72.35,李建国,13900139000,1979;1981;2012,false,false\n"
)
MAX_UPLOAD = 5 * 1024 * 1024  # the body limit of the import route (settings may lower the file limit, not raise it)


def _community_read(c: Any, count: int) -> CommunityRead:
    return CommunityRead(
        id=c.id,
        name=c.name,
        district_id=c.district_id,
        street_id=c.street_id,
        address=c.address,
        built_year=c.built_year,
        delivered_year=c.delivered_year,
        maintenance_fund_established=c.maintenance_fund_established,
        household_count=count,
        created_at=c.created_at,
    )


def _household_read(v: uc.HouseholdView) -> HouseholdRead:
    h = v.household
    return HouseholdRead(
        id=h.id,
        community_id=h.community_id,
        building_id=h.building_id,
        building=v.building_code,
        unit=h.unit,
        room=h.room,
        floor_area_m2=h.floor_area_m2,
        owner_name=h.owner_name if v.personal else None,
        owner_phone=h.owner_phone if v.personal else None,
        residents=[
            ResidentRead(
                id=r.id, birth_year=r.birth_year, lives_alone=r.lives_alone, needs_accompaniment=r.needs_accompaniment
            )
            for r in v.residents
        ],
    )


def _spec(h: HouseholdIn) -> HouseholdSpec:
    return HouseholdSpec(
        building=h.building.strip(),
        unit=h.unit.strip(),
        room=h.room.strip(),
        floor_area=h.floor_area_m2,
        owner_name=h.owner_name,
        owner_phone=h.owner_phone,
        residents=tuple(ResidentSpec(r.birth_year, r.lives_alone, r.needs_accompaniment) for r in h.residents),
    )


@router.post(
    "/v1/communities",
    operation_id="registerCommunity",
    summary="Register a community",
    status_code=201,
    response_model=CommunityRead,
)
async def register_community(
    body: CommunityCreate,
    principal: Annotated[Principal, authorize(*OFFICERS)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> CommunityRead:
    """Registers a community under a street the platform knows; its district is the street's recorded district, never
    the body's. Publishes `survey.community.registered.v1`.
    """
    row = await uc.register_community(
        runtime.uow(),
        principal,
        uc.NewCommunity(**body.model_dump()),
        source=runtime.settings.event_source,
        now=runtime.clock(),
    )
    return _community_read(row, 0)


@router.get(
    "/v1/communities",
    operation_id="listCommunities",
    summary="The communities of your scope (cursor pagination)",
    response_model=Page[CommunityRead],
)
async def list_communities(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    street_id: Annotated[str | None, Query(max_length=64, description="Only this street's communities")] = None,
) -> Page[CommunityRead]:
    """Staff list the communities their token's district, street or community covers; a resident gets their own
    community (the one the registry places their household in), e.g. to find its open consultations."""
    rows = await uc.list_communities(
        runtime.read(), principal, street_id=street_id, after=page.after_uuid(), limit=page.limit + 1
    )
    return make_page([_community_read(c, c.household_count) for c in rows], page.limit, lambda c: str(c.id))


@router.get(
    "/v1/communities/{community_id}",
    operation_id="getCommunity",
    summary="Read a community",
    response_model=CommunityRead,
)
async def get_community(
    community_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> CommunityRead:
    """A community with its scope and household count, for staff covering it and its residents."""
    row, count = await uc.get_community(runtime.read(), principal, community_id)
    return _community_read(row, count)


@router.post(
    "/v1/communities/{community_id}/households",
    operation_id="addHouseholds",
    status_code=201,
    response_model=HouseholdsCreatedRead,
    summary="Add households in a JSON batch (all or nothing)",
)
async def add_households(
    community_id: uuid.UUID,
    body: HouseholdsCreate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    ctx: Annotated[Context, Depends(context)],
) -> HouseholdsCreatedRead:
    """Adds households (with residents' birth years) to a community in one transaction; rows that already exist (same
    building, unit, room) are skipped. Owners' names and phones stay in this service and never appear in events.
    """
    created = await uc.add_household_batch(
        runtime.uow(), ctx, principal, community_id, [_spec(h) for h in body.households]
    )
    return HouseholdsCreatedRead(created=len(created), households=created)  # type: ignore[arg-type]


@router.post(
    "/v1/communities/{community_id}/households/import",
    operation_id="importHouseholds",
    status_code=201,
    response_model=HouseholdsCreatedRead,
    summary="Import households from a CSV or XLSX file (all or nothing, with a per-row error report)",
    description="Send the file as the request body (`Content-Type: text/csv` or the XLSX type), up to 5 MB and "
    "10,000 rows. Columns: building, unit, room, floor_area_m2, owner_name, owner_phone, resident_birth_years "
    "(`1948;1951`), lives_alone, needs_accompaniment. If any row is bad nothing is imported and the 422 problem "
    "lists every bad row in `errors`. A file is refused as a whole (problem+json `code`) when it is larger than "
    "5 MB (`payload_too_large`, 413), inflates past the archive limits (`archive_too_large`), has more than "
    "10,000 rows (`too_many_rows`), more than 30 columns (`too_many_columns`), a cell longer than 1000 characters "
    "(`cell_too_long`) or a NUL character (`invalid_cell`), takes longer than the time limit to read "
    "(`import_timed_out`), or cannot be read (`unreadable_file`, 400).",
    openapi_extra={
        "x-max-body-bytes": MAX_UPLOAD,
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": IMPORT_CSV_EXAMPLE},
                XLSX_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary"},
                    "examples": {
                        "workbook": {
                            "summary": "An XLSX workbook with the CSV example's rows",
                            "description": "The first worksheet: a header row with the columns of the text/csv "
                            "example, then one row per household (a workbook cannot be shown inline).",
                        }
                    },
                },
            },
        },
    },
)
async def import_households(
    community_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    ctx: Annotated[Context, Depends(context)],
    format: Annotated[str | None, Query(pattern="^(csv|xlsx)$")] = None,
) -> HouseholdsCreatedRead:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = format or ("xlsx" if content_type == XLSX_MEDIA_TYPE else "csv" if content_type in ("text/csv", "") else None)
    if fmt is None:
        raise DomainError("send text/csv or an XLSX workbook", code="unsupported_media_type", status=415)
    content = await request.body()
    created = await uc.import_households(runtime.uow(), ctx, principal, community_id, content, fmt)
    return HouseholdsCreatedRead(created=len(created), households=created)  # type: ignore[arg-type]


@router.get(
    "/v1/communities/{community_id}/households",
    operation_id="listHouseholds",
    summary="List a community's households",
    response_model=HouseholdPage,
)
async def list_households(
    community_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    page: Annotated[PageParams, Depends(page_params)],
) -> HouseholdPage:
    """Cursor-paginated by building, unit and room. Owners' personal data only for staff covering the community."""
    views, next_key = await uc.list_households(
        runtime.read(), principal, community_id, decode_cursor(page.cursor), page.limit
    )
    return HouseholdPage(
        items=[_household_read(v) for v in views], next_cursor=encode_cursor(list(next_key)) if next_key else None
    )


@router.get(
    "/v1/communities/{community_id}/buildings",
    operation_id="listBuildings",
    summary="List a community's buildings (cursor pagination)",
    response_model=Page[BuildingRead],
)
async def list_buildings(
    community_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    page: Annotated[PageParams, Depends(page_params)],
    code: Annotated[
        str | None, Query(min_length=1, max_length=20, description="Only the building with this code", examples=["3"])
    ] = None,
    with_households: Annotated[
        bool | None,
        Query(description="Only buildings with (`true`) or without (`false`) registered households", examples=[True]),
    ] = None,
) -> Page[BuildingRead]:
    """The community's buildings by code, each with its id (what other services place devices and repairs by),
    its name (`3号楼`), its registered households and their exclusive floor area. Staff whose scope covers the
    community and the community's residents (the registry places their household) may read it; anyone else is
    refused with 403 `out_of_scope`, an unknown community is 404 `community_not_found`."""
    views = await uc.list_buildings(
        runtime.read(),
        principal,
        community_id,
        code=code,
        with_households=with_households,
        after=page.after_text_and_id(uuid.UUID, max_length=20),
        limit=page.limit + 1,
    )
    items = [
        BuildingRead(
            id=v.building.id,
            community_id=v.community.id,
            community_name=v.community.name,
            code=v.building.code,
            name=building_name(v.building.code),
            household_count=v.building.household_count,
            floor_area_m2=v.floor_area_m2,
        )
        for v in views
    ]
    return make_page(items, page.limit, lambda b: [b.code, str(b.id)])


@router.get(
    "/v1/households/{household_id}",
    operation_id="getHousehold",
    summary="Read a household",
    response_model=HouseholdRead,
)
async def get_household(
    household_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*ANY_READER)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdRead:
    """A household and its residents; personal data only for the household itself and staff in scope."""
    return _household_read(await uc.get_household(runtime.read(), principal, household_id))


@router.patch(
    "/v1/households/{household_id}",
    operation_id="updateHousehold",
    summary="Change a household",
    response_model=HouseholdRead,
)
async def update_household(
    household_id: uuid.UUID,
    body: HouseholdUpdate,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdRead:
    """Floor area, owner and residents of a household; the change is audited (personal values never copied into the
    audit) and published with the household's new state.
    """
    change = uc.HouseholdChange(
        floor_area=body.floor_area_m2,
        owner_name=body.owner_name,
        owner_phone=body.owner_phone,
        residents=None
        if body.residents is None
        else tuple(ResidentSpec(r.birth_year, r.lives_alone, r.needs_accompaniment) for r in body.residents),
        add_residents=tuple(
            ResidentSpec(r.birth_year, r.lives_alone, r.needs_accompaniment) for r in body.add_residents
        ),
    )
    view = await uc.update_household(
        runtime.uow(), principal, household_id, change, now=runtime.clock(), source=runtime.settings.event_source
    )
    return _household_read(view)
