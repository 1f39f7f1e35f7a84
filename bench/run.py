"""`make bench`: every benchmark, then ONE table — the raw baselines measured in this run and the project's figures
as ratios to them.

    .venv/bin/python bench/run.py [--quick] [--only survey,outbox] [--skip projects] [--write-docs]

* Starts one durable embedded Postgres + NATS for the whole run (or uses ``DATABASE_URL`` / ``NATS_URL``) and runs
  ``bench_baselines.py`` first, then every other script, each as its own process. The smart-community script keeps
  its own stack (it needs NATS's MQTT listener and its own fsync setting).
* Each script prints its own detailed table and appends its headline figures to a JSON-lines file
  (``BENCH_RESULTS``, see ``bench/common.py``); this script then prints the combined table.
* ``--quick`` bounds every script (fewer households, events, PSPLIB instances — see ``PLAN``), for a shared
  machine; without it each script runs with its own defaults, except where `FULL` says otherwise (PSPLIB: every 4th
  j30 and every 12th j60 instance, so the run stays within 25 minutes).
* Every figure held to a goal of issue 13 shows it beside its value with ``met`` / ``not met``.
* Growth curves (figures measured at several sizes, ``common.curve``) are drawn as SVG charts.
* ``--write-docs`` replaces the results section of ``docs/benchmarks.md`` with this run's table, machine and date,
  and its charts section with the charts (written to ``docs/benchmarks/charts/``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from charts import svg_chart  # noqa: E402
from common import RESULTS_ENV, goal_met, machine, read_results  # noqa: E402

# name -> (script, quick arguments); the full run uses each script's defaults, or FULL below.
PLAN: dict[str, tuple[str, list[str]]] = {
    # the same concurrency as the survey run (16 in flight), so latencies under load compare like with like
    "baselines": (
        "bench_baselines.py",
        ["--requests", "1000", "--concurrency", "16", "--rows", "20000", "--messages", "1000"],
    ),
    "survey": (
        "bench_survey.py",
        ["--sizes", "1000,3605,14420", "--submits", "800", "--syncs", "1000", "--reads", "10"],
    ),
    "smart_community": (
        "bench_smart_community.py",
        ["--sizes", "5000,20000", "--mqtt-events", "4000", "--events", "5000", "--devices", "50", "--probes", "6"],
    ),
    "alarm_webhook": ("bench_alarm_webhook.py", ["--alarms", "10"]),
    "alarm_webhook_backlog": ("bench_alarm_webhook.py", ["--alarms", "10", "--backlog", "10000"]),
    "webhooks": ("bench_webhooks.py", ["--events", "1000", "--sizes", "300,1000", "--concurrency", "16"]),
    "outbox": ("bench_outbox.py", ["--single", "200", "--bursts", "2500,10000"]),
    "consumers": ("bench_consumers.py", ["--sizes", "1000,3605,7210"]),
    "finance": ("bench_finance.py", ["--households", "10,100", "--approvals", "40", "--repairs", "1000,10000"]),
    "projects": (
        "bench_projects.py",
        [
            "--j30-limit",
            "0.5",
            "--j30-every",
            "24",
            "--j60-limit",
            "10",
            "--j60-every",
            "48",
            "--communities",
            "300",
            "--district-limit",
            "15",
        ],
    ),
}
# arguments of the full run where a script's defaults are not it (the same script measured another way)
FULL: dict[str, list[str]] = {
    "alarm_webhook_backlog": ["--backlog", "100000"],
    # all 480 j60 instances at 10 s take ~50 minutes alone (the documented command in docs/benchmarks/projects.md);
    # the 25-minute run takes every 4th j30 and every 12th j60 instance, the same budgets
    "projects": ["--j30-every", "4", "--j30-limit", "1", "--j60-every", "12", "--j60-limit", "10"],
}
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
CHARTS_BEGIN, CHARTS_END = "<!-- bench:charts:begin -->", "<!-- bench:charts:end -->"
CHARTS_DIR = ROOT / "docs" / "benchmarks" / "charts"
# short names of baselines drawn as flat lines in the charts (legends are narrow)
BASELINE_NAMES = {
    "base.js_rate_256": "JetStream, 256 in flight",
    "base.insert_rps": "bare insert (req/s)",
    "base.read_p50": "bare read p50",
    "base.copy": "asyncpg COPY",
}


def fmt(value: float) -> str:
    if value != value:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: list[dict], statuses: dict[str, str]) -> str:
    figures = [r for r in results if r.get("type") != "curve"]
    by_key = {r["key"]: r for r in figures}
    lines = [
        "| figure | value | baseline (same run) | ratio | goal | |",
        "|---|---:|---|---:|---|---|",
    ]
    baselines = [r for r in figures if r["script"] == "baselines"]
    others = [r for r in figures if r["script"] != "baselines"]
    for r in baselines:
        lines.append(f"| **baseline:** {r['label']} | {fmt(r['value'])} {r['unit']} | — | 1.00 | | |")
    for r in others:
        base = by_key.get(r["baseline"] or "")
        ratio = None
        if base is not None:
            ratio = r["value"] / base["value"] if base["value"] else float("nan")
        goal = ""
        if r.get("goal"):
            met = goal_met(r["goal"], r["value"], ratio)
            verdict = "**met**" if met else ("not measured" if met is None else "**not met**")
            goal = f"{r['goal'].replace('>=', '≥').replace('<=', '≤')}: {verdict}"
        if base is None:
            lines.append(f"| {r['label']} | {fmt(r['value'])} {r['unit']} | — | | {goal} | {r['note']} |")
            continue
        how = "× (higher is better)" if r["better"] == "higher" else "× (lower is better)"
        lines.append(
            f"| {r['label']} | {fmt(r['value'])} {r['unit']} | {base['label']}: {fmt(base['value'])} {base['unit']} "
            f"| {fmt(ratio if ratio is not None else float('nan'))} {how} | {goal} | {r['note']} |"
        )
    failed = [f"{name} ({status})" for name, status in statuses.items() if status != "ok"]
    if failed:
        lines.append("")
        lines.append("Scripts that did not finish: " + ", ".join(failed))
    return "\n".join(lines)


def goals_summary(results: list[dict]) -> str:
    figures = [r for r in results if r.get("type") != "curve"]
    by_key = {r["key"]: r for r in figures}
    held = [r for r in figures if r.get("goal")]
    met = 0
    for r in held:
        base = by_key.get(r["baseline"] or "")
        ratio = r["value"] / base["value"] if base is not None and base["value"] else None
        met += bool(goal_met(r["goal"], r["value"], ratio))
    return f"Goals met: {met} of {len(held)}."


def charts(results: list[dict], caption: str) -> list[tuple[str, str, str]]:
    """(chart key, title, SVG text) for every growth curve of the run."""
    by_chart: dict[str, list[dict]] = {}
    for r in results:
        if r.get("type") == "curve":
            by_chart.setdefault(r["chart"], []).append(r)
    figures = {r["key"]: r for r in results if r.get("type") != "curve"}
    out = []
    for key, series in by_chart.items():
        first = series[0]
        lines = {s["series"]: [tuple(p) for p in s["points"]] for s in series}
        xs = sorted({p[0] for s in series for p in s["points"]})
        for s in series:
            base = figures.get(s.get("baseline") or "")
            if base is not None and xs:
                name = BASELINE_NAMES.get(base["key"], base["key"])
                lines[name] = [(xs[0], base["value"]), (xs[-1], base["value"])]
        svg = svg_chart(
            first["title"],
            lines,
            x_label=first["x_label"],
            y_label=first["y_label"],
            log_x=first.get("log_x", False),
            caption=caption,
        )
        out.append((key, first["title"], svg))
    return out


def _replace_section(doc: str, begin: str, end: str, text: str) -> str:
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{begin}\n{text}\n{end}{tail}"
    return f"{doc.rstrip()}\n\n{begin}\n{text}\n{end}\n"


def write_docs(text: str, drawn: list[tuple[str, str, str]], caption: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = _replace_section(path.read_text(encoding="utf-8"), BEGIN, END, text)
    if drawn:
        CHARTS_DIR.mkdir(parents=True, exist_ok=True)
        parts = [caption, ""]
        for key, title, svg in drawn:
            (CHARTS_DIR / f"{key}.svg").write_text(svg, encoding="utf-8")
            parts.append(f"![{title}](benchmarks/charts/{key}.svg)")
            parts.append("")
        doc = _replace_section(doc, CHARTS_BEGIN, CHARTS_END, "\n".join(parts).rstrip())
    path.write_text(doc, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="bounded sizes for a shared machine")
    ap.add_argument("--only", default="", help="comma-separated names: " + ", ".join(PLAN))
    ap.add_argument("--skip", default="", help="comma-separated names to leave out")
    ap.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md with this run")
    args = ap.parse_args()
    names = [n for n in PLAN if (not args.only or n in args.only.split(",")) and n not in args.skip.split(",")]
    if "baselines" not in names and any(n != "projects" for n in names):
        names.insert(0, "baselines")  # ratios need the baselines of the same run

    results_file = Path(tempfile.mkdtemp(prefix="bench-run-")) / "results.jsonl"
    env = {**os.environ, RESULTS_ENV: str(results_file), "LOG_LEVEL": "WARNING"}
    statuses: dict[str, str] = {}
    started = time.perf_counter()
    stack = None
    if not (os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL")):
        from renovation_common.devstack import Stack

        stack = Stack(results_file.parent / "stack", fast=False)
        stack.start()
        env.update(stack.env())
    try:
        for name in names:
            script, quick = PLAN[name]
            cmd = [sys.executable, str(HERE / script), *(quick if args.quick else FULL.get(name, []))]
            print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
            t = time.perf_counter()
            code = subprocess.call(cmd, env=env, cwd=ROOT)
            statuses[name] = "ok" if code == 0 else f"exit {code}"
            print(f"=== {name}: {statuses[name]} in {time.perf_counter() - t:.0f} s", flush=True)
    finally:
        if stack is not None:
            stack.stop()

    m = machine()
    took = time.perf_counter() - started
    header = (
        f"Run: {m['date']}, `bench/run.py{' --quick' if args.quick else ''}`, {took:.0f} s. "
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['os']}, Python {m['python']}."
    )
    results = read_results(results_file)
    text = f"{header}\n\n{table(results, statuses)}\n\n{goals_summary(results)}"
    print("\n" + "=" * 100 + "\n" + text)
    budget = 300 if args.quick else 1500
    if not (args.only or args.skip) and took > budget:
        print(f"\nthe run took {took:.0f} s, over its budget of {budget} s")
    caption = (
        f"Measured {m['date']} on {m['nproc']} CPUs ({m['cpu']}), `bench/run.py{' --quick' if args.quick else ''}`."
    )
    drawn = charts(results, caption)
    if args.write_docs:
        write_docs(text, drawn, caption)
        print(f"\ndocs/benchmarks.md updated ({len(drawn)} charts in docs/benchmarks/charts/)")
    return 0 if all(s == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
