"""One chart, one table (一图一表): handovers per face, the daily progress table and the daily dispatch report."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from projects.domain.calendar import WorkingCalendar

HUNDRED = Decimal(100)
LATE_THRESHOLD = Decimal(10)  # percentage points behind plan before a package counts as late


class ProgressStatus(StrEnum):
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AHEAD = "ahead"  # more than the threshold ahead of plan
    LATE = "late"  # more than the threshold behind plan, or due and not finished
    COMPLETED = "completed"


@dataclass(frozen=True)
class PlannedPackage:
    package_id: str
    code: str
    name_zh: str
    face_id: str
    face_name: str
    trade: str
    start: int  # working-day index, inclusive
    end: int  # working-day index, exclusive
    start_date: date
    finish_date: date


@dataclass(frozen=True)
class PlannedHandover:
    face_id: str
    face_name: str
    from_trade: str
    to_trade: str
    index: int
    planned_on: date


@dataclass(frozen=True)
class ProgressRow:
    package_id: str
    code: str
    name_zh: str
    face_name: str
    trade: str
    start_date: date
    finish_date: date
    planned_percent: Decimal
    actual_percent: Decimal
    variance: Decimal
    status: ProgressStatus


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def planned_percent(start: int, end: int, worked: int) -> Decimal:
    """Planned completion after ``worked`` working days, linear over the package's working days."""
    if end <= start:
        return HUNDRED if worked >= end else Decimal(0)
    done = min(max(worked - start, 0), end - start)
    return _q(Decimal(done) * HUNDRED / Decimal(end - start))


def status_of(planned: Decimal, actual: Decimal, threshold: Decimal = LATE_THRESHOLD) -> ProgressStatus:
    if actual >= HUNDRED:
        return ProgressStatus.COMPLETED
    if planned - actual > threshold or (planned >= HUNDRED and actual < HUNDRED):
        return ProgressStatus.LATE
    if actual - planned > threshold:
        return ProgressStatus.AHEAD
    if planned == 0 and actual == 0:
        return ProgressStatus.NOT_STARTED
    return ProgressStatus.ON_TRACK


def progress_table(
    packages: Sequence[PlannedPackage], actual: Mapping[str, Decimal], calendar: WorkingCalendar, day: date
) -> list[ProgressRow]:
    worked = calendar.worked_by(day)
    rows = []
    for p in sorted(packages, key=lambda p: (p.start, p.face_name, p.code)):
        plan = planned_percent(p.start, p.end, worked)
        act = _q(actual.get(p.package_id, Decimal(0)))
        rows.append(
            ProgressRow(
                package_id=p.package_id,
                code=p.code,
                name_zh=p.name_zh,
                face_name=p.face_name,
                trade=p.trade,
                start_date=p.start_date,
                finish_date=p.finish_date,
                planned_percent=plan,
                actual_percent=act,
                variance=act - plan,
                status=status_of(plan, act),
            )
        )
    return rows


def overall(packages: Sequence[PlannedPackage], rows: Sequence[ProgressRow]) -> tuple[Decimal, Decimal]:
    """Duration-weighted planned and actual completion of the whole project."""
    weight = {p.package_id: Decimal(max(1, p.end - p.start)) for p in packages}
    total = sum(weight.values(), Decimal(0)) or Decimal(1)
    planned = sum((weight[r.package_id] * r.planned_percent for r in rows), Decimal(0)) / total
    actual = sum((weight[r.package_id] * r.actual_percent for r in rows), Decimal(0)) / total
    return _q(planned), _q(actual)


def planned_handovers(packages: Sequence[PlannedPackage], calendar_dates: Sequence[date]) -> list[PlannedHandover]:
    """Per face, trades in order of their first start; each hands the face to the next at the next one's start."""
    by_face: dict[str, list[PlannedPackage]] = defaultdict(list)
    for p in packages:
        by_face[p.face_id].append(p)
    out: list[PlannedHandover] = []
    for face_id, items in sorted(by_face.items(), key=lambda kv: (kv[1][0].face_name, kv[0])):
        first_start: dict[str, int] = {}
        for p in items:
            first_start[p.trade] = min(first_start.get(p.trade, p.start), p.start)
        order = sorted(first_start, key=lambda tr: (first_start[tr], tr))
        for a, b in itertools.pairwise(order):
            idx = first_start[b]
            out.append(PlannedHandover(face_id, items[0].face_name, a, b, idx, calendar_dates[idx]))
    return out


@dataclass(frozen=True)
class DailyReport:
    day: date
    next_working_day: date
    late: list[ProgressRow]
    starting_next: list[PlannedPackage]
    due_handovers: list[PlannedHandover]
    delay_days: int


def daily_report(
    packages: Sequence[PlannedPackage],
    actual: Mapping[str, Decimal],
    recorded_handovers: set[tuple[str, str, str]],
    calendar: WorkingCalendar,
    calendar_dates: Sequence[date],
    day: date,
) -> DailyReport:
    """每日调度: late packages, tomorrow's starts and the handovers due by the next working day."""
    rows = progress_table(packages, actual, calendar, day)
    late = [r for r in rows if r.status is ProgressStatus.LATE]
    nxt = calendar.index_on_or_after(day) if not calendar.is_working(day) else calendar.worked_by(day)
    next_day = calendar.date_of(nxt)
    starting = [p for p in packages if p.start == nxt and actual.get(p.package_id, Decimal(0)) == 0]
    due = [
        h
        for h in planned_handovers(packages, calendar_dates)
        if h.index <= nxt and (h.face_id, h.from_trade, h.to_trade) not in recorded_handovers
    ]
    worked = calendar.worked_by(day)
    delay = 0
    for p in packages:
        act = actual.get(p.package_id, Decimal(0))
        if act < HUNDRED and worked > p.start:
            remaining = (HUNDRED - act) / HUNDRED * Decimal(p.end - p.start)
            projected = worked + int(remaining.to_integral_value(rounding="ROUND_CEILING"))
            delay = max(delay, projected - p.end)
    return DailyReport(day, next_day, late, sorted(starting, key=lambda p: (p.face_name, p.code)), due, delay)
