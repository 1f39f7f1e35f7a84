"""Communities and households."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal
from renovation_common.errors import BadRequest, DomainError
from renovation_common.exports import XLSX_MEDIA_TYPE
from renovation_common.pagination import PageParams, decode_cursor, encode_cursor, page_params
from survey.adapters.files import FileFormatError, read_rows
from survey.domain.registry import HouseholdSpec, ResidentSpec, check_rows
from survey.entrypoints.api.deps import officers, readers, staff, utcnow
from survey.entrypoints.api.schemas import (
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

router = APIRouter(tags=["registry"])
MAX_UPLOAD = 5 * 1024 * 1024


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


@router.post("/v1/communities", operation_id="registerCommunity", status_code=201, response_model=CommunityRead)
async def register_community(
    body: CommunityCreate,
    principal: Annotated[Principal, Depends(officers)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> CommunityRead:
    row = await uc.register_community(
        runtime.uow(), principal, uc.NewCommunity(**body.model_dump()), source=runtime.settings.event_source
    )
    return _community_read(row, 0)


@router.get("/v1/communities/{community_id}", operation_id="getCommunity", response_model=CommunityRead)
async def get_community(
    community_id: uuid.UUID,
    principal: Annotated[Principal, Depends(readers)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> CommunityRead:
    row, count = await uc.get_community(runtime.uow(), principal, community_id)
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
    principal: Annotated[Principal, Depends(staff)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdsCreatedRead:
    specs = [(i, _spec(h)) for i, h in enumerate(body.households, start=1)]
    seen: dict[tuple[str, str, str], int] = {}
    errors = []
    for n, s in specs:
        if s.key in seen:
            errors.append(
                {
                    "row": n,
                    "code": "duplicate_household",
                    "field": None,
                    "message": f"same building/unit/room as row {seen[s.key]}",
                }
            )
        seen.setdefault(s.key, n)
    if errors:
        raise uc.RowsRejected(errors=errors)
    created = await uc.add_households(
        runtime.uow(), principal, community_id, specs, now=utcnow(), source=runtime.settings.event_source
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
    "lists every bad row in `errors`.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_households(
    community_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(staff)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    format: Annotated[str | None, Query(pattern="^(csv|xlsx)$")] = None,
) -> HouseholdsCreatedRead:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = format or ("xlsx" if content_type == XLSX_MEDIA_TYPE else "csv" if content_type in ("text/csv", "") else None)
    if fmt is None:
        raise DomainError("send text/csv or an XLSX workbook", code="unsupported_media_type", status=415)
    content = b""
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_UPLOAD:
            raise DomainError("files are limited to 5 MB", code="payload_too_large", status=413)
    try:
        rows = read_rows(content, fmt)
    except FileFormatError as exc:
        raise BadRequest(str(exc), code="unreadable_file") from None
    now = utcnow()
    specs, errors = check_rows(rows, now.year)
    if errors:
        raise uc.RowsRejected(errors=[e.__dict__ for e in errors], rows=len(rows))
    if not specs:
        raise BadRequest("the file has no household rows", code="empty_file")
    numbered = list(enumerate(specs, start=1))  # no bad rows: specs are the data rows in order
    created = await uc.add_households(
        runtime.uow(), principal, community_id, numbered, now=now, source=runtime.settings.event_source
    )
    return HouseholdsCreatedRead(created=len(created), households=created)  # type: ignore[arg-type]


@router.get("/v1/communities/{community_id}/households", operation_id="listHouseholds", response_model=HouseholdPage)
async def list_households(
    community_id: uuid.UUID,
    principal: Annotated[Principal, Depends(staff)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    page: Annotated[PageParams, Depends(page_params)],
) -> HouseholdPage:
    views, next_key = await uc.list_households(
        runtime.uow(), principal, community_id, decode_cursor(page.cursor), page.limit
    )
    return HouseholdPage(
        items=[_household_read(v) for v in views], next_cursor=encode_cursor(list(next_key)) if next_key else None
    )


@router.get("/v1/households/{household_id}", operation_id="getHousehold", response_model=HouseholdRead)
async def get_household(
    household_id: uuid.UUID,
    principal: Annotated[Principal, Depends(readers)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdRead:
    return _household_read(await uc.get_household(runtime.uow(), principal, household_id))


@router.patch("/v1/households/{household_id}", operation_id="updateHousehold", response_model=HouseholdRead)
async def update_household(
    household_id: uuid.UUID,
    body: HouseholdUpdate,
    principal: Annotated[Principal, Depends(staff)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> HouseholdRead:
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
        runtime.uow(), principal, household_id, change, now=utcnow(), source=runtime.settings.event_source
    )
    return _household_read(view)
