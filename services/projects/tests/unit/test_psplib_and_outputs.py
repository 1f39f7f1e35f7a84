from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

from projects.domain.calendar import WorkingCalendar
from projects.domain.chart import build_chart, render_svg
from projects.domain.progress import (
    PlannedPackage,
    daily_report,
    planned_handovers,
    planned_percent,
    progress_table,
    status_of,
)
from projects.domain.psplib import parse_reference, parse_sm
from projects.domain.solver import SolveParams

from .helpers import solve_checked

REPOSITORY = Path(__file__).resolve().parents[4]
# the shared data set lies beside the repository (``../shared/data/psplib``); PSPLIB_DIR may point elsewhere
PSPLIB = Path(os.environ.get("PSPLIB_DIR") or REPOSITORY.parent / "shared" / "data" / "psplib")


def test_a_j30_instance_reaches_its_known_optimum():
    # fails (never skips) when the data is missing: a CI without it must not pass silently
    assert (PSPLIB / "j30" / "j301_1.sm").is_file(), f"PSPLIB data missing at {PSPLIB} (set PSPLIB_DIR)"
    problem = parse_sm((PSPLIB / "j30" / "j301_1.sm").read_text())
    optimum = parse_reference((PSPLIB / "j30" / "j30opt.sm").read_text())[(1, 1)]
    assert len(problem.tasks) == 32 and len(problem.capacities) == 4
    s = solve_checked(problem, SolveParams(time_limit_s=2.0))
    assert s.makespan == optimum


def pkg(pid, face, trade, start, end, cal_dates):
    return PlannedPackage(pid, pid, pid, face, f"face {face}", trade, start, end, cal_dates[start], cal_dates[end - 1])


def test_planned_percent_and_status():
    assert planned_percent(2, 6, 0) == 0
    assert planned_percent(2, 6, 3) == Decimal("25.00")
    assert planned_percent(2, 6, 9) == 100
    assert status_of(Decimal(50), Decimal(30)) == "late"
    assert status_of(Decimal(50), Decimal(45)) == "on_track"
    assert status_of(Decimal(100), Decimal(95)) == "late"
    assert status_of(Decimal(20), Decimal(100)) == "completed"
    assert status_of(Decimal(0), Decimal(0)) == "not_started"


def test_table_handovers_daily_report_and_chart():
    cal = WorkingCalendar.of(date(2025, 3, 3), non_working=[date(2025, 3, 5)])
    dates = cal.dates(20)
    packages = [
        pkg("pipes", "L1", "plumbing", 0, 4, dates),
        pkg("gas", "L1", "gas", 4, 6, dates),
        pkg("paving", "L1", "roadworks", 6, 9, dates),
    ]
    day = dates[3]  # 4 working days done
    rows = progress_table(packages, {"pipes": Decimal(50)}, cal, day)
    assert [(r.package_id, r.planned_percent, r.status) for r in rows] == [
        ("pipes", Decimal(100), "late"),
        ("gas", Decimal(0), "not_started"),
        ("paving", Decimal(0), "not_started"),
    ]
    hand = planned_handovers(packages, dates)
    assert [(h.from_trade, h.to_trade, h.planned_on) for h in hand] == [
        ("plumbing", "gas", dates[4]),
        ("gas", "roadworks", dates[6]),
    ]
    report = daily_report(packages, {"pipes": Decimal(50)}, set(), cal, dates, day)
    assert [r.package_id for r in report.late] == ["pipes"]
    assert [p.package_id for p in report.starting_next] == ["gas"]
    assert [(h.from_trade, h.to_trade) for h in report.due_handovers] == [("plumbing", "gas")]
    assert report.next_working_day == dates[4] and report.delay_days == 2
    done = daily_report(packages, {"pipes": Decimal(50)}, {("L1", "plumbing", "gas")}, cal, dates, day)
    assert done.due_handovers == []
    rows_chart = build_chart(packages, hand)
    svg = render_svg("交叉施工作业面移交时序图 <test>", rows_chart, dates)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("rect")]) >= 3
    assert svg.count("<path") == 2 and "&lt;test&gt;" in svg
