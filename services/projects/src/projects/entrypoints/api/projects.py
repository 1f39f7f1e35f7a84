"""Routes of projects: parse, authenticate, call one use case, render."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from projects.domain.model import ProjectStatus
from projects.domain.planning import FaceSpec
from projects.entrypoints.api import render
from projects.entrypoints.api.dependencies import PLANNERS, READERS, ContextDep, RuntimeDep
from projects.entrypoints.api.schemas import ProjectCreate, ProjectRead, ProjectSummary
from projects.service_layer import projects as uc
from renovation_common.auth import Principal, authorize
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params

router = APIRouter(tags=["projects"])


@router.post(
    "/v1/projects",
    operation_id="createProject",
    status_code=status.HTTP_201_CREATED,
    response_model=ProjectRead,
    summary="Create a project in a community (its place and faces from the survey registry)",
)
async def create_project(
    body: ProjectCreate,
    principal: Annotated[Principal, authorize(*PLANNERS)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> ProjectRead:
    """The community's district and street are the survey registry's (``survey.community.registered.v1``): an
    unknown community is 404 ``community_not_found``, one outside the caller's scope 403 ``out_of_scope``, and a
    body naming another district or street is refused (403 ``out_of_scope``, or 422 ``community_scope_mismatch``).
    Without ``faces`` the work faces are the community's buildings (from its registered households), lanes and
    courtyards (``survey.site.registered.v1``); without lanes or courtyards its open ground is one face.
    ``assignments`` say which packages go on which faces; any other package goes on every face of its preferred
    kind (a second lane gets its own rain/sewage separation)."""
    details = await uc.create_project(
        runtime.uow(),
        ctx,
        principal,
        uc.CreateProject(
            community_id=body.community_id,
            name=body.name,
            package_codes=body.package_codes,
            menu_items=body.menu_items,
            faces=[FaceSpec(f.code, f.name, f.kind, f.size) for f in body.faces] if body.faces else None,
            assignments={a.package_code: a.face_codes for a in body.assignments},
            district_id=body.district_id,
            street_id=body.street_id,
        ),
    )
    return render.project(details)


@router.get(
    "/v1/projects",
    operation_id="listProjects",
    response_model=Page[ProjectSummary],
    summary="List the projects within the caller's scope (oldest first), with filters",
)
async def list_projects(
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[ProjectStatus | None, Query(description="Only projects in this status")] = None,
    community_id: Annotated[str | None, Query(max_length=64)] = None,
    street_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ProjectSummary]:
    """Residents see their community's projects, every other role what its scope claims cover; filters narrow
    that (a filter outside the scope finds nothing). Cursor pagination: pass ``next_cursor`` as ``cursor``."""
    found = await uc.list_projects(
        runtime.read(),
        principal,
        uc.ProjectQuery(status=status, community_id=community_id, street_id=street_id),
        after=page.after_time_and_id(uuid.UUID),
        limit=page.limit,
    )
    items = [render.project_summary(p) for p in found[: page.limit]]
    cursor = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)]) if len(found) > page.limit else None
    return Page[ProjectSummary](items=items, next_cursor=cursor)


@router.get(
    "/v1/projects/{project_id}",
    operation_id="getProject",
    response_model=ProjectRead,
    summary="A project with its work faces, packages and the community's priority",
)
async def get_project(
    project_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], runtime: RuntimeDep
) -> ProjectRead:
    """Residents may read the projects of their own community; staff within their scope."""
    return render.project(await uc.get_project(runtime.read(), principal, project_id))
