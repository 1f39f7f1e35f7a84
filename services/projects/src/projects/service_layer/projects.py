"""Use cases: projects, the community read model and priorities."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from projects.adapters import repository as repo
from projects.adapters.orm import PackageLinkRow, ProjectRow, WorkFaceRow, WorkPackageRow
from projects.domain.catalog import UnknownPackage, packages_for_menu
from projects.domain.planning import FaceSpec, layout
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import CommunityRegistered, ConsultationClosed, RankingPublished
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest
from renovation_common.events import new_event


@dataclass(frozen=True)
class CreateProject:
    community_id: str
    district_id: str
    street_id: str | None
    name: str
    package_codes: Sequence[str]  # work-package type codes
    faces: Sequence[FaceSpec] | None = None
    buildings: int = 2
    source_consultation_id: str | None = None
    created_by: str = "system"


async def create_project(uow: UnitOfWork, cmd: CreateProject, *, source: str) -> tuple[uuid.UUID, bool]:
    """Inside an open unit of work (the caller commits). Returns (project id, created?)."""
    try:
        lay = layout(cmd.package_codes, cmd.faces, buildings=cmd.buildings)
    except UnknownPackage as exc:
        raise BadRequest(str(exc), code="unknown_work_package") from None
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_layout") from None
    if not lay.packages:
        raise BadRequest("a project needs at least one work package", code="no_work_packages")
    project_id = uuid.uuid4()
    inserted = await repo.insert_project(
        uow.session,
        id=project_id,
        community_id=cmd.community_id,
        district_id=cmd.district_id,
        street_id=cmd.street_id,
        name=cmd.name[:200],
        source_consultation_id=cmd.source_consultation_id,
        created_by=cmd.created_by[:200],
    )
    if inserted is None:  # this consultation already produced its project
        existing = await repo.project_by_consultation(uow.session, cmd.source_consultation_id or "")
        assert existing is not None
        return existing.id, False
    face_ids = {f.code: uuid.uuid4() for f in lay.faces}
    rows: list[object] = [
        WorkFaceRow(
            id=face_ids[f.code], project_id=project_id, code=f.code, name=f.name, kind=f.kind.value, size=f.size
        )
        for f in lay.faces
    ]
    package_ids = [uuid.uuid4() for _ in lay.packages]
    rows.extend(
        WorkPackageRow(
            id=pid,
            project_id=project_id,
            work_face_id=face_ids[p.face_code],
            type_code=p.type_code,
            duration_days=p.duration_days,
        )
        for pid, p in zip(package_ids, lay.packages, strict=True)
    )
    repo.add_all(uow.session, rows)
    await uow.session.flush()
    repo.add_all(
        uow.session,
        [
            PackageLinkRow(pred_id=package_ids[a], succ_id=package_ids[b], project_id=project_id, lag_days=lag)
            for a, b, lag in lay.links
        ],
    )
    uow.publish(
        new_event(
            ProjectCreated(
                project_id=str(project_id),
                community_id=cmd.community_id,
                district_id=cmd.district_id,
                street_id=cmd.street_id,
                name=cmd.name[:200],
                package_codes=sorted({p.type_code for p in lay.packages}),
                source_consultation_id=cmd.source_consultation_id,
            ),
            source=source,
            subject=str(project_id),
        )
    )
    return project_id, True


async def on_consultation_closed(uow: UnitOfWork, data: ConsultationClosed, *, source: str) -> uuid.UUID | None:
    """A menu round that selected items becomes a project with those packages (one project per consultation).

    A menu round without a decision rule closes with outcome ``not_applicable`` (the selection is the decision);
    one that carries a rule must have ``passed``.
    """
    if data.kind != "menu" or data.outcome not in ("passed", "not_applicable") or not data.selected_items:
        return None
    codes = [item.code for item in data.selected_items]
    try:
        package_codes = packages_for_menu(codes)
    except UnknownPackage:
        known = [c for c in codes if _known_menu(c)]
        if not known:
            return None
        package_codes = packages_for_menu(known)
    community = await repo.community(uow.session, data.community_id)
    name = f"{community.name if community and community.name else data.community_id} 改造项目"
    project_id, _ = await create_project(
        uow,
        CreateProject(
            community_id=data.community_id,
            district_id=data.district_id,
            street_id=data.street_id,
            name=name,
            package_codes=package_codes,
            source_consultation_id=data.consultation_id,
            created_by="survey.consultation.closed.v1",
        ),
        source=source,
    )
    return project_id


def _known_menu(code: str) -> bool:
    try:
        packages_for_menu([code])
    except UnknownPackage:
        return False
    return True


async def on_community_registered(uow: UnitOfWork, data: CommunityRegistered) -> None:
    await repo.upsert_community(
        uow.session,
        community_id=data.community_id,
        district_id=data.district_id,
        street_id=data.street_id,
        name=data.name[:200],
    )


async def on_ranking_published(uow: UnitOfWork, data: RankingPublished) -> None:
    for entry in data.entries:
        await repo.set_community_rank(uow.session, entry.community_id, data.district_id, entry.rank, data.ranking_id)


async def load_project(uow: UnitOfWork, project_id: uuid.UUID) -> ProjectRow | None:
    return await repo.project(uow.session, project_id)
