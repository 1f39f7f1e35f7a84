"""`make bench`: every benchmark, then ONE table — the raw baselines measured in this run and the project's figures
as ratios to them.

    .venv/bin/python bench/run.py [--quick] [--only survey,outbox] [--skip projects] [--write-docs]

* Starts one durable embedded Postgres + NATS for the whole run (or uses ``DATABASE_URL`` / ``NATS_URL``) and runs
  ``bench_baselines.py`` first, then every other script, each as its own process. The smart-community script keeps
  its own stack (it needs NATS's MQTT listener and its own fsync setting).
* Each script prints its own detailed table and appends its headline figures to a JSON-lines file
  (``BENCH_RESULTS``, see ``bench/common.py``); this script then prints the combined table.
* ``--quick`` bounds every script (fewer households, events, PSPLIB instances — see ``PLAN``), for a shared
  machine; without it each script runs with its own defaults (the PSPLIB part alone takes ~10 minutes).
* ``--write-docs`` replaces the results section of ``docs/benchmarks.md`` with this run's table and machine.
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

from common import RESULTS_ENV, machine, read_results  # noqa: E402

# name -> (script, quick arguments); the full run uses each script's defaults.
PLAN: dict[str, tuple[str, list[str]]] = {
    # the same concurrency as the quick survey run, so latencies under load compare like with like
    "baselines": (
        "bench_baselines.py",
        ["--requests", "1000", "--concurrency", "16", "--rows", "20000", "--messages", "1000"],
    ),
    "survey": ("bench_survey.py", ["--households", "1000", "--concurrency", "16", "--reads", "10"]),
    "smart_community": ("bench_smart_community.py", ["--events", "5000", "--devices", "50", "--probes", "6"]),
    "alarm_webhook": ("bench_alarm_webhook.py", ["--alarms", "10"]),
    "webhooks": ("bench_webhooks.py", ["--events", "300", "--concurrency", "16"]),
    "outbox": ("bench_outbox.py", ["--single", "100", "--burst", "1000"]),
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
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def fmt(value: float) -> str:
    if value != value:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: list[dict], statuses: dict[str, str]) -> str:
    by_key = {r["key"]: r for r in results}
    lines = [
        "| figure | value | baseline (same run) | ratio | |",
        "|---|---:|---|---:|---|",
    ]
    baselines = [r for r in results if r["script"] == "baselines"]
    others = [r for r in results if r["script"] != "baselines"]
    for r in baselines:
        lines.append(f"| **baseline:** {r['label']} | {fmt(r['value'])} {r['unit']} | — | 1.00 | |")
    for r in others:
        base = by_key.get(r["baseline"] or "")
        if base is None:
            lines.append(f"| {r['label']} | {fmt(r['value'])} {r['unit']} | — | | {r['note']} |")
            continue
        ratio = r["value"] / base["value"] if base["value"] else float("nan")
        how = "× (higher is better)" if r["better"] == "higher" else "× (lower is better)"
        lines.append(
            f"| {r['label']} | {fmt(r['value'])} {r['unit']} | {base['label']}: {fmt(base['value'])} {base['unit']} "
            f"| {fmt(ratio)} {how} | {r['note']} |"
        )
    failed = [f"{name} ({status})" for name, status in statuses.items() if status != "ok"]
    if failed:
        lines.append("")
        lines.append("Scripts that did not finish: " + ", ".join(failed))
    return "\n".join(lines)


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8")
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc = f"{head}{BEGIN}\n{text}\n{END}{tail}"
    else:
        doc = f"{doc.rstrip()}\n\n{BEGIN}\n{text}\n{END}\n"
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
            cmd = [sys.executable, str(HERE / script), *(quick if args.quick else [])]
            print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
            t = time.perf_counter()
            code = subprocess.call(cmd, env=env, cwd=ROOT)
            statuses[name] = "ok" if code == 0 else f"exit {code}"
            print(f"=== {name}: {statuses[name]} in {time.perf_counter() - t:.0f} s", flush=True)
    finally:
        if stack is not None:
            stack.stop()

    m = machine()
    header = (
        f"Run: {m['date']}, `bench/run.py{' --quick' if args.quick else ''}`, {time.perf_counter() - started:.0f} s. "
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['os']}, Python {m['python']}."
    )
    text = f"{header}\n\n{table(read_results(results_file), statuses)}"
    print("\n" + "=" * 100 + "\n" + text)
    if args.write_docs:
        write_docs(text)
        print("\ndocs/benchmarks.md updated")
    return 0 if all(s == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
