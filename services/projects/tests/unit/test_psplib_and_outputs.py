from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
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
    assert svg.count("<path") == 2 + 2 and "&lt;test&gt;" in svg  # two handovers, two legend diamonds


def test_the_handover_chart_speaks_chinese_and_keeps_every_label_inside():
    from projects.domain.catalog import TRADE_NAMES_ZH
    from renovation_common.svg import text_width

    cal = WorkingCalendar.of(date(2025, 3, 3))
    dates = cal.dates(400)
    packages = [
        pkg("pipes", "L1", "plumbing", 0, 40, dates),
        pkg("gas", "L1", "gas", 40, 60, dates),
        pkg("paving", "L1", "roadworks", 60, 90, dates),
        pkg("risers", "B7", "plumbing", 0, 3, dates),
        pkg("elev", "B7", "elevator", 10, 300, dates),
    ]
    # a face with a long Chinese name, and a title far longer than the picture is wide
    long_name = "锦绣花园小区东区第十七号楼东单元北侧通道"
    long_face = [replace(p, face_name=long_name) if p.face_id == "B7" else p for p in packages]
    hand = planned_handovers(long_face, dates)
    title = "锦绣花园小区（东区、西区与南区）老旧小区综合改造工程 交叉施工作业面移交时序图 " * 3
    recorded = {("L1", "plumbing", "gas"): datetime(2025, 4, 1)}
    svg = render_svg(title, build_chart(long_face, hand), dates, recorded, TRADE_NAMES_ZH)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    assert "Noto Sans CJK SC" in root.attrib["font-family"]
    texts = [(e, "".join(e.itertext())) for e in root.iter() if e.tag.endswith("text")]
    shown = {t for _, t in texts}
    # Chinese trade names in the bars' tooltips and the legend, never the codes; a legend entry for each mark
    for code in ("plumbing", "gas", "roadworks", "elevator"):
        assert TRADE_NAMES_ZH[code] in shown and code not in shown, code
    assert {"计划移交", "已移交"} <= shown
    assert not any("plumbing" in t for t in shown)
    # nothing clipped: every label's estimated box lies inside the picture; the title wraps onto lines
    title_lines = [t for e, t in texts if e.attrib.get("font-weight") == "bold"]
    assert len(title_lines) >= 2 and "".join(title_lines).replace(" ", "") == title.replace(" ", "")
    for e, t in texts:
        size = float(e.attrib.get("font-size", 11))
        x, y = float(e.attrib["x"]), float(e.attrib["y"])
        assert x >= 0 and x + text_width(t, size) <= width + 0.5, t
        assert size <= y <= height, t
    # the date axis: labels are real working days, a whole number of days apart, in order
    ticks = [date.fromisoformat(t) for e, t in texts if e.attrib.get("font-size") == "9"]
    assert len(ticks) >= 3 and ticks == sorted(ticks) and all(d in dates for d in ticks)
    steps = {dates.index(b) - dates.index(a) for a, b in pairwise(ticks)}
    assert len(steps) == 1 and steps.pop() >= 1
