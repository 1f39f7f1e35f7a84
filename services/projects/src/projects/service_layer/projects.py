"""Use cases of projects: create one (from a request or from a closed menu round), list them, read one.

A project's place (district, street, community) is the survey registry's, never the request's; its work faces are
the survey's buildings, lanes and courtyards of the community unless the request names faces; which packages go on
which face follows the catalog's rule unless the request assigns them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from projects.adapters.repositories import (
    CommunityRepository,
    DesignBasisRepository,
    ProjectFilter,
    ProjectRepository,
)
from projects.domain.catalog import UnknownPackage, packages_for_menu
from projects.domain.model import (
    Community,
    PackageLink,
    Project,
    ProjectDetails,
    ProjectStatus,
    WorkFace,
    WorkPackage,
)
from projects.domain.planning import FaceSpec, LayoutError, layout, survey_faces
from projects.service_layer import access, lifecycle
from projects.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import ConsultationClosed
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, DomainError, NotFound
from renovation_common.events import new_event

log = structlog.get_logger("projects.projects")


@dataclass(frozen=True)
class CreateProject:
    community_id: str
    name: str
    package_codes: Sequence[str] = ()  # work-package type codes
    menu_items: Sequence[str] = ()  # menu item codes (survey), each bringing its packages
    faces: Sequence[FaceSpec] | None = None  # None: the survey's faces of the community
    assignments: Mapping[str, Sequence[str]] = field(default_factory=dict)  # package code -> face codes
    district_id: str | None = None  # what the body expects; the registry decides
    street_id: str | None = None


def _package_codes(package_codes: Sequence[str], menu_items: Sequence[str]) -> list[str]:
    try:
        return list(dict.fromkeys([*packages_for_menu(list(menu_items)), *package_codes]))
    except UnknownPackage as exc:
        raise BadRequest(str(exc), code="unknown_work_package") from None


async def _community(uow: UnitOfWork | ReadOnlyUnitOfWork, community_id: str) -> Community:
    community = await CommunityRepository(uow.session).get(community_id)
    if community is None:
        raise NotFound(
            "the survey registry has no such community (or its registration has not arrived yet)",
            code="community_not_found",
        )
    return community


async def create_project(uow: UnitOfWork, ctx: Context, principal: Principal, cmd: CreateProject) -> ProjectDetails:
    """201: a project in a community the caller's scope covers, as the registry places it."""
    codes = _package_codes(cmd.package_codes, cmd.menu_items)
    async with uow:
        community = await _community(uow, cmd.community_id)
        access.ensure_manages(principal, community)
        access.ensure_body_agrees(principal, community, cmd.district_id, cmd.street_id)
        project_id = await _add_project(
            uow, ctx, community, name=cmd.name, codes=codes, faces=cmd.faces, assignments=cmd.assignments,
            consultation_id=None, created_by=principal.sub,
        )  # fmt: skip
        assert project_id is not None
        details = await _details(uow, project_id)
        await lifecycle.refresh(uow, ctx, community.community_id)
        await uow.commit()
    return details


async def project_from_consultation(uow: UnitOfWork, ctx: Context, data: ConsultationClosed) -> uuid.UUID | None:
    """A menu round that selected items becomes a project with those packages (one project per consultation).

    A menu round without a decision rule closes with outcome ``not_applicable`` (the selection is the decision);
    one that carries a rule must have ``passed``. The community's place is the registry's when it is known there,
    else the event's (the survey service is the registry).
    """
    if data.kind != "menu" or data.outcome not in ("passed", "not_applicable") or not data.selected_items:
        return None
    known = [item.code for item in data.selected_items if _known_menu(item.code)]
    if not known:
        return None
    async with uow:
        projects = ProjectRepository(uow.session)
        existing = await projects.by_consultation(data.consultation_id)
        if existing is not None:
            return existing.id
        community = await CommunityRepository(uow.session).get(data.community_id) or Community(
            data.community_id, data.district_id, data.street_id, data.community_id
        )
        name = f"{community.name or data.community_id} 改造项目"
        try:
            project_id = await _add_project(
                uow, ctx, community, name=name, codes=packages_for_menu(known), faces=None, assignments={},
                consultation_id=data.consultation_id, created_by="survey.consultation.closed.v1",
            )  # fmt: skip
        except DomainError as exc:  # a layout the registry cannot support: nothing to plan, say why
            log.warning("project_not_created", consultation_id=data.consultation_id, code=exc.code)
            return None
        await uow.commit()
    return project_id


def _known_menu(code: str) -> bool:
    try:
        packages_for_menu([code])
    except UnknownPackage:
        return False
    return True


async def _add_project(
    uow: UnitOfWork,
    ctx: Context,
    community: Community,
    *,
    name: str,
    codes: Sequence[str],
    faces: Sequence[FaceSpec] | None,
    assignments: Mapping[str, Sequence[str]],
    consultation_id: str | None,
    created_by: str,
) -> uuid.UUID | None:
    """Inside an open unit of work: lay the project out and add it; ``None`` if its consultation already has one."""
    if not codes:
        raise BadRequest("a project needs at least one work package", code="no_work_packages")
    if faces is None:
        faces = survey_faces(community, await CommunityRepository(uow.session).site_faces(community.community_id))
    try:
        lay = layout(codes, faces, assignments)
    except UnknownPackage as exc:
        raise BadRequest(str(exc), code="unknown_work_package") from None
    except LayoutError as exc:
        raise BadRequest(str(exc), code=exc.code) from None
    now: datetime = ctx.now()
    project = Project(
        id=uuid.uuid4(),
        community_id=community.community_id,
        district_id=community.district_id,
        street_id=community.street_id,
        name=name[:200],
        status=ProjectStatus.DRAFT,
        source_consultation_id=consultation_id,
        current_plan_id=None,
        start_date=None,
        finish_date=None,
        created_by=created_by[:200],
        created_at=now,
    )
    face_ids = {f.code: uuid.uuid4() for f in lay.faces}
    work_faces = [
        WorkFace(face_ids[f.code], project.id, f.code, f.name, f.kind, f.size, f.source, f.source_id) for f in lay.faces
    ]
    packages = [
        WorkPackage(uuid.uuid4(), project.id, face_ids[p.face_code], p.type_code, p.duration_days) for p in lay.packages
    ]
    links = [PackageLink(packages[a].id, packages[b].id, lag) for a, b, lag in lay.links]
    if not await ProjectRepository(uow.session).add(project, work_faces, packages, links):
        return None
    uow.publish(
        new_event(
            ProjectCreated(
                project_id=str(project.id),
                community_id=project.community_id,
                district_id=project.district_id,
                street_id=project.street_id,
                name=project.name,
                package_codes=sorted({p.type_code for p in lay.packages}),
                source_consultation_id=consultation_id,
            ),
            source=ctx.source,
            subject=str(project.id),
        )
    )
    return project.id


async def _details(uow: UnitOfWork | ReadOnlyUnitOfWork, project_id: uuid.UUID) -> ProjectDetails:
    repo = ProjectRepository(uow.session)
    project = await repo.get(project_id)
    if project is None:
        raise NotFound("project not found", code="project_not_found")
    ranks = await CommunityRepository(uow.session).ranks([project.community_id])
    return ProjectDetails(
        project,
        await repo.faces([project_id]),
        await repo.packages([project_id]),
        ranks.get(project.community_id),
        await DesignBasisRepository(uow.session).of_community(project.community_id),
    )


async def visible_project(uow: UnitOfWork | ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID) -> Project:
    """Inside an open unit of work: the project if the caller may see it (404 if none, 403 outside scope)."""
    project = await ProjectRepository(uow.session).get(project_id)
    if project is None:
        raise NotFound("project not found", code="project_not_found")
    access.ensure_sees(principal, project)
    return project


async def get_project(read: ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID) -> ProjectDetails:
    async with read:
        await visible_project(read, principal, project_id)
        return await _details(read, project_id)


@dataclass(frozen=True)
class ProjectQuery:
    status: ProjectStatus | None = None
    community_id: str | None = None
    street_id: str | None = None


async def list_projects(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    query: ProjectQuery,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Project]:
    """Up to ``limit + 1`` projects within the caller's scope (oldest first), narrowed by the query's filters.

    A filter outside the caller's scope finds nothing (it never widens the scope)."""
    scope = access.visible(principal)
    where = ProjectFilter(
        district_id=scope.district_id,
        street_id=scope.street_id,
        community_id=scope.community_id,
        status=query.status,
    )
    for name in ("community_id", "street_id"):
        wanted = getattr(query, name)
        if wanted is None:
            continue
        mine = getattr(where, name)
        if mine is not None and mine != wanted:
            return []
        where = replace(where, **{name: wanted})
    async with read:
        return await ProjectRepository(read.session).page(where, after=after, limit=limit)
