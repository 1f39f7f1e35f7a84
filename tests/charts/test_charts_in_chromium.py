"""The services' SVG charts as a browser draws them (headless Chromium, a CJK font of the charts' font stack).

Both charts come from the running services over HTTP, with real data behind them: the survey's demand-by-age-group
chart of a demand survey answered by residents of three age groups, and the projects service's handover chart of a
planned project whose community and homes reached it as the survey's events (outbox → NATS → consumer). Each SVG is
put into an HTML page; a script in the page measures every ``<text>`` (``getBBox``, ``getBoundingClientRect``) and
the SVG's viewport and writes its findings into the DOM, which ``chromium --headless=new --dump-dom`` prints.

Checked: the texts expected are drawn (title, Chinese labels, a legend entry per mark), the axis ticks are distinct
and increasing (integers on the count axis), no text box reaches outside the viewport (nothing clipped), no two
tick labels and no two legend entries overlap. Chromium and the font are installed by ``make chromium`` (a step of
``make test``); without them this test fails, it never skips."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from projects.domain.catalog import TRADE_NAMES_ZH
from projects.entrypoints.app import create_app as create_projects_app
from renovation_common.contracts.survey import MENU_ITEM_NAMES_ZH
from renovation_common.testing.plugin import bearer, eventually
from survey.entrypoints.app import create_app as create_survey_app

pytestmark = pytest.mark.integration

D, S = "d-chaoyang", "s-jinsong"
TOLERANCE = 0.5  # px: sub-pixel rounding of glyph boxes

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>body {{ margin: 0 }}</style></head>
<body>
{svg}
<pre id="findings"></pre>
<script>
(() => {{
  const svg = document.querySelector("svg");
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const texts = [...svg.querySelectorAll("text")].map((t) => {{
    const b = t.getBBox();
    return {{ text: t.textContent, cls: t.getAttribute("class"), rect: box(t.getBoundingClientRect()),
             local: [b.x, b.y, b.width, b.height] }};
  }});
  const bars = [...svg.querySelectorAll("rect.bar")].map((r) => box(r.getBoundingClientRect()));
  document.getElementById("findings").textContent = JSON.stringify({{
    viewport: box(svg.getBoundingClientRect()),
    font: getComputedStyle(svg).fontFamily,
    texts,
    bars,
  }});
}})();
</script>
</body></html>
"""


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).is_file():
        pytest.fail(
            "headless Chromium is not installed (looked for $CHROMIUM, chromium on PATH, /usr/bin/chromium): "
            "run `make chromium` (apt-get install chromium fonts-wqy-microhei), which `make test` does first"
        )
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
    if not fonts.strip():
        pytest.fail("no CJK font is installed, Chinese labels cannot be measured: run `make chromium`")
    return found


@dataclass(frozen=True)
class Text:
    text: str
    cls: str | None
    rect: tuple[float, float, float, float]  # left, top, right, bottom in CSS px, transforms applied
    local: tuple[float, float, float, float]  # getBBox: x, y, width, height before any transform


@dataclass(frozen=True)
class Rendered:
    viewport: tuple[float, float, float, float]
    font: str
    texts: list[Text]
    bars: list[tuple[float, float, float, float]]  # every rect.bar (a trade's bar on a face), left, top, right, bottom

    def of(self, cls: str) -> list[Text]:
        return [t for t in self.texts if t.cls == cls]

    def strings(self, cls: str | None = None) -> list[str]:
        return [t.text for t in self.texts if cls is None or t.cls == cls]


@pytest.fixture
def browser() -> str:
    """The Chromium binary, looked up before any set-up: a machine without it fails at once."""
    return chromium()


async def render(binary: str, svg: str, workdir: Path) -> Rendered:
    """``svg`` drawn by headless Chromium: the page's own measurements of every text and of the viewport."""
    page = workdir / f"chart-{uuid.uuid4().hex}.html"
    page.write_text(PAGE.format(svg=svg), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={workdir / 'chromium-profile'}",
        "--dump-dom",
        page.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("headless Chromium did not print the page within 120 s") from None
    found = re.search(r'<pre id="findings">(.*?)</pre>', out.decode("utf-8"), re.S)
    assert proc.returncode == 0 and found and found.group(1), (
        f"chromium exited {proc.returncode} without findings: {err.decode(errors='replace')[-2000:]}"
    )
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    texts = [Text(t["text"], t["cls"], tuple(t["rect"]), tuple(t["local"])) for t in data["texts"]]
    return Rendered(tuple(data["viewport"]), data["font"], texts, [tuple(b) for b in data.get("bars", [])])


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > TOLERANCE and min(a[3], b[3]) - max(a[1], b[1]) > TOLERANCE


def assert_drawn_cleanly(chart: Rendered, title: str) -> None:
    """The title is all there, every text lies inside the viewport, no tick and no legend entry overlaps another."""
    assert "WenQuanYi Micro Hei" in chart.font and "Noto Sans CJK SC" in chart.font, chart.font
    assert "".join(chart.strings("title")).replace(" ", "") == title.replace(" ", "")
    left, top, right, bottom = chart.viewport
    assert right - left > 100 and bottom - top > 100
    for t in chart.texts:
        assert t.local[2] > 0, f"{t.text!r} is drawn with no width"
        x0, y0, x1, y1 = t.rect
        inside = x0 >= left - TOLERANCE and y0 >= top - TOLERANCE and x1 <= right + TOLERANCE
        assert inside and y1 <= bottom + TOLERANCE, f"{t.text!r} at {t.rect} is clipped by {chart.viewport}"
    for cls in ("tick", "legend", "title"):
        for a, b in itertools.combinations(chart.of(cls), 2):
            assert not overlap(a.rect, b.rect), f"{cls} labels {a.text!r} {a.rect} and {b.text!r} {b.rect} overlap"


# -- the survey's demand-by-age-group chart ---------------------------------------------------------------------
async def test_the_demand_by_age_chart_in_chromium(browser, service_client, make_token, tmp_path):
    _, survey = await service_client(create_survey_app, "survey", outbox_poll_interval_s=0.05)
    admin = bearer(make_token("district_admin", district_id=D))
    made = await survey.post(
        "/v1/communities",
        headers=admin,
        json={"name": "劲松北社区", "district_id": D, "street_id": S, "built_year": 1985, "delivered_year": 1987,
              "maintenance_fund_established": False},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    community = made.json()["id"]
    worker = bearer(make_token("community_worker", district_id=D, street_id=S, community_id=community))
    births = [1996, 1999, 1978, 1950, 1948, 1944]  # two young, one middle-aged, three elderly residents
    homes = await survey.post(
        f"/v1/communities/{community}/households",
        headers=worker,
        json={"households": [
            {"building": "1", "unit": "1", "room": str(101 + i), "floor_area_m2": "60.00", "owner_name": f"业主{i}",
             "owner_phone": "13800000000", "residents": [{"birth_year": year}]}
            for i, year in enumerate(births)
        ]},
    )  # fmt: skip
    assert homes.status_code == 201, homes.text
    options = ["community_canteen", "elderly_care", "gym", "parcel_lockers", "barber"]
    labels = {"gym": "健身房", "parcel_lockers": "快递柜", "barber": "理发店"}
    title = "劲松北社区第二轮菜单式改造居民需求调查（按青年、中年、老年分组统计，含社区食堂、养老服务与便民设施）"
    question = "您最需要社区增加哪些服务设施?"
    created = await survey.post(
        "/v1/consultations",
        headers=worker,
        json={"community_id": community, "kind": "demand", "title": title, "rule": {"kind": "none"},
              "questions": [{"id": "want", "kind": "multiple_choice", "text": question, "options": options,
                             "option_labels": labels}]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["questions"][0]["option_labels"] == labels
    assert (await survey.post(f"/v1/consultations/{cid}/open", headers=worker)).status_code == 200
    picks = [["gym", "parcel_lockers"], ["gym"], ["barber", "community_canteen"], ["community_canteen"],
             ["community_canteen", "elderly_care"], ["community_canteen", "elderly_care"]]  # fmt: skip
    for home, want in zip(homes.json()["households"], picks, strict=True):
        detail = (await survey.get(f"/v1/households/{home['id']}", headers=worker)).json()
        answered = await survey.post(
            f"/v1/consultations/{cid}/responses",
            headers=worker,
            json={"submission_id": str(uuid.uuid4()), "household_id": home["id"], "channel": "door_to_door",
                  "resident_id": detail["residents"][0]["id"], "answers": {"want": want}},
        )  # fmt: skip
        assert answered.status_code == 201, answered.text

    got = await survey.get(f"/v1/consultations/{cid}/charts/demand-by-age.svg", headers=worker)
    assert got.status_code == 200 and got.headers["content-type"].startswith("image/svg+xml"), got.text
    chart = await render(browser, got.text, tmp_path)
    if os.environ.get("CHARTS_KEEP"):
        Path(os.environ["CHARTS_KEEP"], "demand-by-age.svg").write_text(got.text, encoding="utf-8")

    assert_drawn_cleanly(chart, f"{title}: {question}")
    assert len(chart.of("title")) >= 2  # a long title wraps onto lines within the width
    # the questionnaire's labels, else the menu item's Chinese name; never a code
    expected = [labels.get(o) or MENU_ITEM_NAMES_ZH[o] for o in options]
    assert chart.strings("option") == expected and expected[:2] == ["社区食堂", "养老服务"]
    assert chart.strings("legend") == ["青年", "中年", "老年"]  # one entry per age group drawn
    ticks = chart.of("tick")
    values = [int(t.text) for t in ticks]  # integers, or this raises
    assert values == [0, 1, 2, 3]  # the peak is 3 (elderly, 社区食堂): one tick per count, each once
    heights = [(t.rect[1] + t.rect[3]) / 2 for t in ticks]
    assert all(b < a for a, b in itertools.pairwise(heights))  # larger counts sit higher up the axis


# -- the projects service's handover chart ----------------------------------------------------------------------
async def test_the_handover_chart_in_chromium(browser, service_client, make_token, tmp_path):
    _, survey = await service_client(create_survey_app, "survey", outbox_poll_interval_s=0.05)
    projects_app, projects = await service_client(create_projects_app, "projects", outbox_poll_interval_s=0.05)
    admin = bearer(make_token("district_admin", district_id=D))
    made = await survey.post(
        "/v1/communities",
        headers=admin,
        json={"name": "桂东社区", "district_id": D, "street_id": S, "built_year": 1990, "delivered_year": 1992,
              "maintenance_fund_established": False},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    community = made.json()["id"]
    worker = bearer(make_token("community_worker", district_id=D, street_id=S, community_id=community))
    homes = [
        {"building": b, "unit": "1", "room": str(100 + k), "floor_area_m2": "70.00", "owner_name": f"业主{b}{k}",
         "owner_phone": "13800000000", "residents": [{"birth_year": 1960}]}
        for b in ("1", "2") for k in range(6)
    ]  # fmt: skip
    added = await survey.post(f"/v1/communities/{community}/households", headers=worker, json={"households": homes})
    assert added.status_code == 201, added.text

    async def registry_arrived() -> bool:  # the survey's events, through NATS, in the projects read model
        async with projects_app.state.sessionmaker() as session:
            count = await session.scalar(
                sa.text("SELECT count(*) FROM households WHERE community_id = :c"), {"c": community}
            )
        return count == len(homes)

    # generous: in a whole-suite run the projects consumer first works through the survey events earlier tests left
    await eventually(registry_arrived, timeout_s=180, interval_s=0.3)
    officer = bearer(make_token("street_officer", district_id=D, street_id=S))
    name = "桂东社区老旧小区综合改造工程（雨污分流、供水管网、加装电梯、绿化与道路铺装）"
    body = {"community_id": community, "district_id": D, "street_id": S, "name": name,
            "menu_items": ["rain_sewage_separation", "water_pipe_renewal", "elevator_installation", "greening",
                           "road_paving", "lighting"]}  # fmt: skip
    created = await projects.post("/v1/projects", json=body, headers=officer)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    plan = await projects.post(
        "/v1/plans",
        headers=admin,
        json={"project_ids": [pid], "start_date": date(2025, 3, 3).isoformat(), "crews": {"civil": 1},
              "default_crews": 1, "max_faces_per_community": 2, "time_limit_s": 1.0},
    )  # fmt: skip
    assert plan.status_code == 201 and plan.json()["status"] == "done", plan.text

    contractor = bearer(make_token("contractor", district_id=D))
    data = (await projects.get(f"/v1/projects/{pid}/handover-chart", headers=contractor)).json()
    got = await projects.get(f"/v1/projects/{pid}/handover-chart?format=svg", headers=contractor)
    assert got.status_code == 200 and got.headers["content-type"].startswith("image/svg+xml"), got.text
    chart = await render(browser, got.text, tmp_path)
    if os.environ.get("CHARTS_KEEP"):  # CHARTS_KEEP=dir: the SVGs as drawn, to look at
        Path(os.environ["CHARTS_KEEP"], "handover-chart.svg").write_text(got.text, encoding="utf-8")

    assert_drawn_cleanly(chart, data["title"])
    trades = sorted({bar["trade"] for face in data["faces"] for bar in face["bars"]})
    assert len(trades) >= 3
    # a legend entry for every mark: each trade's bar colour by its Chinese name, and both kinds of diamond
    assert chart.strings("legend") == [TRADE_NAMES_ZH[t] for t in trades] + ["计划移交", "已移交"]
    faces = chart.strings("face")
    assert len(faces) == len(data["faces"]) and all(
        f == face["face_name"] or (f.endswith("…") and face["face_name"].startswith(f[:-1]))
        for f, face in zip(faces, data["faces"], strict=True)
    )
    ticks = chart.of("tick")
    days = [date.fromisoformat(t.text) for t in ticks]  # dates of the plan's working days, or this raises
    assert len(days) >= 2 and all(b > a for a, b in itertools.pairwise(days))
    assert all(b.rect[0] > a.rect[0] for a, b in itertools.pairwise(ticks))  # left to right
    # every trade's bar is seen: trades working one face at the same time get a lane each, none hides another
    assert len(chart.bars) == sum(len(face["bars"]) for face in data["faces"])
    for a, b in itertools.combinations(chart.bars, 2):
        assert not overlap(a, b), f"bars {a} and {b} overlap: one hides the other"
