"""``projects.project.delayed.v1``: once per project and day when packages fall behind the plan.

Raised by the daily check (a periodic job that runs once per tick across replicas, ``check_delays``) for every
planned or running project as of today, and when a progress report shows late packages on its date. The
``delay_notices`` table (one row per project and day) makes either path announce a day at most once.
"""

from __future__ import annotations

import uuid
from datetime import date

import structlog

from projects.adapters.repositories import ProgressRepository, ProjectRepository
from projects.domain.progress import daily_report
from projects.service_layer.context import Context
from projects.service_layer.views import ProjectView, actual_as_of, load_view
from renovation_common.contracts.projects import ProjectDelayed
from renovation_common.db import UnitOfWork, UowFactory
from renovation_common.events import new_event

log = structlog.get_logger("projects.delays")


async def announce_delay(uow: UnitOfWork, ctx: Context, view: ProjectView, day: date) -> bool:
    """Inside an open unit of work: compare plan and progress on ``day``; publish the delay once. Whether it did."""
    calendar = view.require_plan()
    actual = await actual_as_of(uow, view.project.id, day)
    try:
        report = daily_report(view.planned, actual, set(), calendar, view.dates, day)
    except ValueError:  # a day the plan's calendar cannot reach: nothing to compare
        return False
    if not report.late:
        return False
    if not await ProgressRepository(uow.session).add_delay_notice(view.project.id, day):
        return False
    uow.publish(
        new_event(
            ProjectDelayed(
                project_id=str(view.project.id),
                community_id=view.project.community_id,
                district_id=view.project.district_id,
                as_of=day,
                late_packages=len(report.late),
                delay_days=report.delay_days,
            ),
            source=ctx.source,
            subject=str(view.project.id),
        )
    )
    return True


async def check_delays(uow_factory: UowFactory, ctx: Context) -> int:
    """The daily check: every planned or running project as of today, in batches (one transaction each).

    Returns how many delays were announced."""
    today = ctx.today()
    announced = 0
    after: uuid.UUID | None = None
    while True:
        uow = uow_factory()
        async with uow:
            batch = await ProjectRepository(uow.session).active_with_plan(after=after, limit=ctx.delay_check_batch)
            for project in batch:
                announced += await announce_delay(uow, ctx, await load_view(uow, project), today)
            await uow.commit()
        if len(batch) < ctx.delay_check_batch:
            break
        after = batch[-1].id
    if announced:
        log.info("delays_announced", day=today.isoformat(), projects=announced)
    return announced
