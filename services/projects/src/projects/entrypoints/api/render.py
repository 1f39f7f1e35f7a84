"""Domain values → response schemas (the one place each shape is rendered)."""

from __future__ import annotations

from projects.domain.catalog import package_type
from projects.domain.model import Inspection, Plan, Project, ProjectDetails, WorkFace, WorkPackage
from projects.domain.progress import PlannedHandover, PlannedPackage, ProgressRow
from projects.entrypoints.api import schemas as s


def project_summary(p: Project) -> s.ProjectSummary:
    return s.ProjectSummary.model_validate(p, from_attributes=True)


def face(f: WorkFace) -> s.FaceRead:
    return s.FaceRead.model_validate(f, from_attributes=True)


def package(k: WorkPackage) -> s.PackageRead:
    t = package_type(k.type_code)
    return s.PackageRead(
        id=k.id,
        work_face_id=k.work_face_id,
        type_code=k.type_code,
        name_zh=t.name_zh,
        trade=t.trade,
        layer=t.layer,
        kind=t.kind,
        excavates=t.excavates,
        duration_days=k.duration_days,
        percent_complete=k.percent_complete,
        actual_start=k.actual_start,
        actual_finish=k.actual_finish,
    )


def project(d: ProjectDetails) -> s.ProjectRead:
    return s.ProjectRead(
        **project_summary(d.project).model_dump(),
        current_plan_id=d.project.current_plan_id,
        priority_rank=d.priority_rank,
        design_basis=[s.DesignBasisRead.model_validate(b, from_attributes=True) for b in d.design_basis],
        faces=[face(f) for f in d.faces],
        packages=[package(k) for k in d.packages],
    )


def plan(p: Plan) -> s.PlanRead:
    return s.PlanRead(
        id=p.id,
        kind=p.kind,
        status=p.status,
        project_ids=p.project_ids,
        solver_status=p.solver_status,
        result=s.PlanResultRead.model_validate(p.result) if p.result is not None else None,
        error_code=p.error_code,
        error=p.error,
        created_at=p.created_at,
        finished_at=p.finished_at,
    )


def scheduled(p: PlannedPackage) -> s.ScheduledPackage:
    return s.ScheduledPackage(
        package_id=p.package_id,
        code=p.code,
        name_zh=p.name_zh,
        work_face_id=p.face_id,
        face_name=p.face_name,
        trade=p.trade,
        start_idx=p.start,
        end_idx=p.end,
        start_date=p.start_date,
        finish_date=p.finish_date,
    )


def progress_row(r: ProgressRow) -> s.ProgressRowRead:
    return s.ProgressRowRead.model_validate(r, from_attributes=True)


def handover_due(h: PlannedHandover) -> s.HandoverPoint:
    return s.HandoverPoint(from_trade=h.from_trade, to_trade=h.to_trade, planned_on=h.planned_on, recorded_at=None)


def inspection(i: Inspection) -> s.InspectionRead:
    return s.InspectionRead(
        id=i.id,
        package_id=i.package_id,
        work_face_id=i.work_face_id,
        result=i.result,
        defects=[s.DefectIn(description=d.description, severity=d.severity) for d in i.defects],
        note=i.note,
        inspected_on=i.inspected_on,
        created_at=i.created_at,
    )
