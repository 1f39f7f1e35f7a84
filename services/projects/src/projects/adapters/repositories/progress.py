"""What happens on site: daily progress reports, handovers, inspections, and the delay notices sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import DelayNoticeRow, HandoverRow, InspectionRow, ProgressReportRow
from projects.domain.model import Defect, DefectSeverity, Handover, Inspection, InspectionResult, ProgressReport


def _report(row: ProgressReportRow) -> ProgressReport:
    return ProgressReport(row.id, row.package_id, row.report_date, row.percent_complete, row.note, row.created_at)


def _inspection(row: InspectionRow) -> Inspection:
    return Inspection(
        id=row.id,
        project_id=row.project_id,
        package_id=row.package_id,
        work_face_id=row.work_face_id,
        result=InspectionResult(row.result),
        defects=[Defect(d["description"], DefectSeverity(d.get("severity", "minor"))) for d in row.defects],
        note=row.note,
        inspected_on=row.inspected_on,
        supervisor=row.supervisor,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class PackageHistory:
    """A package's reports up to a date: the latest percent, when work first showed and when it reached 100 %."""

    percent: Decimal
    first_started: date | None
    first_finished: date | None


class ProgressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_report(
        self,
        *,
        project_id: uuid.UUID,
        package_id: uuid.UUID,
        report_date: date,
        percent_complete: Decimal,
        note: str,
        reported_by: str,
        created_at: datetime,
    ) -> ProgressReport | None:
        """Insert a report; ``None`` when this package already has one for this date (unique constraint)."""
        row = (
            await self.session.scalars(
                pg_insert(ProgressReportRow)
                .values(
                    project_id=project_id,
                    package_id=package_id,
                    report_date=report_date,
                    percent_complete=percent_complete,
                    note=note,
                    reported_by=reported_by[:200],
                    created_at=created_at,
                )
                .on_conflict_do_nothing(index_elements=["package_id", "report_date"])
                .returning(ProgressReportRow)
            )
        ).first()
        return _report(row) if row is not None else None

    async def report(self, package_id: uuid.UUID, day: date) -> ProgressReport | None:
        stmt = sa.select(ProgressReportRow).where(
            ProgressReportRow.package_id == package_id, ProgressReportRow.report_date == day
        )
        row = (await self.session.scalars(stmt)).first()
        return _report(row) if row is not None else None

    async def latest_before(self, package_id: uuid.UUID, day: date) -> Decimal | None:
        stmt = (
            sa.select(ProgressReportRow.percent_complete)
            .where(ProgressReportRow.package_id == package_id, ProgressReportRow.report_date < day)
            .order_by(ProgressReportRow.report_date.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def earliest_after(self, package_id: uuid.UUID, day: date) -> Decimal | None:
        stmt = (
            sa.select(ProgressReportRow.percent_complete)
            .where(ProgressReportRow.package_id == package_id, ProgressReportRow.report_date > day)
            .order_by(ProgressReportRow.report_date)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def percent_as_of(self, project_id: uuid.UUID, day: date) -> dict[uuid.UUID, Decimal]:
        """The latest reported percent of each package of a project on or before ``day``."""
        stmt = (
            sa.select(ProgressReportRow.package_id, ProgressReportRow.percent_complete)
            .where(ProgressReportRow.project_id == project_id, ProgressReportRow.report_date <= day)
            .ext(distinct_on(ProgressReportRow.package_id))
            .order_by(ProgressReportRow.package_id, ProgressReportRow.report_date.desc())
        )
        return {row.package_id: row.percent_complete for row in (await self.session.execute(stmt)).all()}

    async def history_as_of(self, project_id: uuid.UUID, day: date) -> dict[uuid.UUID, PackageHistory]:
        """Per package, what its reports dated up to ``day`` say (reports after it are not looked at)."""
        latest = await self.percent_as_of(project_id, day)
        r = ProgressReportRow
        stmt = (
            sa.select(
                r.package_id,
                sa.func.min(r.report_date).filter(r.percent_complete > 0),
                sa.func.min(r.report_date).filter(r.percent_complete >= 100),
            )
            .where(r.project_id == project_id, r.report_date <= day)
            .group_by(r.package_id)
        )
        return {
            package_id: PackageHistory(latest.get(package_id, Decimal(0)), started, finished)
            for package_id, started, finished in (await self.session.execute(stmt)).all()
        }

    async def add_delay_notice(self, project_id: uuid.UUID, as_of: date) -> bool:
        """Record that the project's delay on ``as_of`` was announced; ``False`` when it already was."""
        stmt = (
            pg_insert(DelayNoticeRow)
            .values(project_id=project_id, as_of=as_of)
            .on_conflict_do_nothing()
            .returning(DelayNoticeRow.project_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def add_handover(
        self,
        *,
        handover_id: uuid.UUID,
        project_id: uuid.UUID,
        work_face_id: uuid.UUID,
        from_trade: str,
        to_trade: str,
        handed_over_at: datetime,
        note: str,
        recorded_by: str,
    ) -> bool:
        """Insert a handover; ``False`` when this face already went from this trade to that one."""
        stmt = (
            pg_insert(HandoverRow)
            .values(
                id=handover_id,
                project_id=project_id,
                work_face_id=work_face_id,
                from_trade=from_trade,
                to_trade=to_trade,
                handed_over_at=handed_over_at,
                note=note,
                recorded_by=recorded_by[:200],
            )
            .on_conflict_do_nothing(index_elements=["work_face_id", "from_trade", "to_trade"])
            .returning(HandoverRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def handovers(self, project_id: uuid.UUID) -> list[Handover]:
        stmt = sa.select(HandoverRow).where(HandoverRow.project_id == project_id).order_by(HandoverRow.handed_over_at)
        return [
            Handover(h.id, h.work_face_id, h.from_trade, h.to_trade, h.handed_over_at, h.note)
            for h in (await self.session.scalars(stmt)).all()
        ]

    async def add_inspection(self, inspection: Inspection) -> None:
        await self.session.execute(
            sa.insert(InspectionRow).values(
                id=inspection.id,
                project_id=inspection.project_id,
                package_id=inspection.package_id,
                work_face_id=inspection.work_face_id,
                result=inspection.result.value,
                defects=[{"description": d.description, "severity": d.severity.value} for d in inspection.defects],
                note=inspection.note,
                inspected_on=inspection.inspected_on,
                supervisor=inspection.supervisor[:200],
                created_at=inspection.created_at,
            )
        )

    async def inspections(
        self, project_id: uuid.UUID, *, after: tuple[date, uuid.UUID] | None, limit: int
    ) -> list[Inspection]:
        """Up to ``limit + 1`` inspections, newest inspection date first (then by id), after the cursor key."""
        stmt = sa.select(InspectionRow).where(InspectionRow.project_id == project_id)
        if after is not None:
            day, ident = after
            stmt = stmt.where(
                sa.or_(
                    InspectionRow.inspected_on < day,
                    sa.and_(InspectionRow.inspected_on == day, InspectionRow.id > ident),
                )
            )
        stmt = stmt.order_by(InspectionRow.inspected_on.desc(), InspectionRow.id).limit(limit + 1)
        return [_inspection(r) for r in (await self.session.scalars(stmt)).all()]
