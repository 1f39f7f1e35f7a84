"""Projects planner benchmark: PSPLIB j30 / j60 through the solver, and a district plan.

    .venv/bin/python bench/bench_projects.py [--j30-limit 1] [--j60-limit 10] [--j30-every 1] [--j60-every 1]
        [--j60-set names.txt] [--wall-cap 20] [--communities 300] [--district-limit 15] [--only j30,j60,district]
        [--out results.jsonl]

* j30 (``--j30-every``-th instance, all when 1) at ``--j30-limit`` s of deterministic time each: instances reaching
  the known optimum (j30opt.sm) and proven optimal.
* j60 (``--j60-every``-th instance, or the instances named in ``--j60-set``, e.g. ``bench/j60_tail_set.txt``: the
  hard tail and a random sample, docs/benchmarks/projects.md) at ``--j60-limit`` s each: mean and
  largest gap to the best known makespan (j60hrs.sm), instances above 3 %, the worst instances, wall time per
  instance and deterministic time per wall second. ``--wall-cap``: the wall-clock safety cap, × the budget (+1 s);
  set it high (e.g. 1000) so the clock never cuts a solve on a loaded machine.
* Baseline measured in the same run: the serial schedule-generation scheme with the latest-finish-time priority
  rule (a classic single-pass heuristic); ratios compare the solver with it.
* District: ``--communities`` communities × ~12 packages (a lane, a courtyard and a building each) with shared crews,
  the face rules, at most 2 faces per community, and priority weights from a ranking. The constructive plan (the
  rule-respecting greedy) is the baseline; the solver starts from it (LNS over areas and time windows) for
  ``--district-limit`` s of deterministic time. Reported: weighted completion against the baseline, the proven
  lower bound, wall time, and whether the wall-clock cap (never the deterministic budget) stopped it.
* Every plan goes through the rule checker. The budgets are CP-SAT's deterministic time: the plans do not depend on
  the machine's load; the wall times printed do.

PSPLIB data: ``../shared/data/psplib`` beside the repository, or ``PSPLIB_DIR``; the script fails without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "projects" / "src"))

from common import record  # noqa: E402 - bench/common.py: machine-readable figures for bench/run.py

from projects.domain.catalog import MENU_TO_PACKAGES, FaceKind  # noqa: E402
from projects.domain.planning import (  # noqa: E402
    FaceSpec,
    PlanLink,
    PlanPackage,
    build_problem,
    layout,
    weights_from_ranks,
)
from projects.domain.psplib import parse_reference, parse_sm  # noqa: E402
from projects.domain.scheduling import Problem, check, critical_path_length, greedy  # noqa: E402
from projects.domain.solver import SolveParams, solve  # noqa: E402

DATA = Path(os.environ.get("PSPLIB_DIR") or ROOT.parent / "shared" / "data" / "psplib")


def serial_sgs(problem: Problem) -> int:
    """Serial SGS, latest-finish-time priority: the baseline heuristic. Returns the makespan."""
    tasks = {t.id: t for t in problem.tasks}
    succs, preds = defaultdict(list), defaultdict(list)
    for link in problem.links:
        succs[link.pred].append(link.succ)
        preds[link.succ].append(link.pred)
    # latest finish times by a backward pass on the precedence-only horizon
    horizon = sum(t.duration for t in problem.tasks)
    lft: dict[str, int] = {}
    order = _topo(tasks, succs, preds)
    for tid in reversed(order):
        lft[tid] = min([horizon, *(lft[s] - tasks[s].duration for s in succs[tid])])
    usage: dict[str, list[int]] = {r: [0] * (horizon + 1) for r in problem.capacities}
    finish: dict[str, int] = {}
    remaining = {tid: len(preds[tid]) for tid in tasks}
    eligible = [tid for tid, n in remaining.items() if n == 0]
    while eligible:
        eligible.sort(key=lambda x: (lft[x], x))
        tid = eligible.pop(0)
        t = tasks[tid]
        start = max([0, *(finish[p] for p in preds[tid])])
        while any(
            usage[r][k] + d > problem.capacities[r]
            for r, d in t.demands.items()
            for k in range(start, start + t.duration)
        ):
            start += 1
        for r, d in t.demands.items():
            for k in range(start, start + t.duration):
                usage[r][k] += d
        finish[tid] = start + t.duration
        for s in succs[tid]:
            remaining[s] -= 1
            if remaining[s] == 0:
                eligible.append(s)
    return max(finish.values())


def _topo(tasks, succs, preds):
    indeg = {t: len(preds[t]) for t in tasks}
    ready = sorted(t for t, d in indeg.items() if d == 0)
    out = []
    while ready:
        t = ready.pop()
        out.append(t)
        for s in succs[t]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    return out


def psplib(
    kind: str, limit: float, every: int, workers: int, out: Any = None, names: list[str] | None = None,
    wall_cap_factor: float = 20.0,
) -> dict:  # fmt: skip
    ref_file = DATA / kind / ("j30opt.sm" if kind == "j30" else "j60hrs.sm")
    reference = parse_reference(ref_file.read_text())
    files = sorted((DATA / kind).glob(f"{kind}*_*.sm"), key=lambda p: tuple(int(x) for x in p.stem[3:].split("_")))
    files = [f for f in files if f.stem in set(names)] if names else files[::every]
    hit = proven = capped = 0
    gaps, base_gaps, walls, base_walls, dets = [], [], [], [], []
    worst: list[tuple[float, str, int, int]] = []
    for f in files:
        par, inst = (int(x) for x in f.stem[3:].split("_"))
        problem = parse_sm(f.read_text())
        best = reference[(par, inst)]
        t0 = time.perf_counter()
        base = serial_sgs(problem)
        base_walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s = solve(problem, SolveParams(time_limit_s=limit, workers=workers, wall_cap_factor=wall_cap_factor))
        walls.append(time.perf_counter() - t0)
        dets.append(s.deterministic_time or 0.0)
        assert not check(problem, s.starts), f.name
        assert s.makespan >= critical_path_length(problem)
        hit += s.makespan <= best
        proven += s.status == "optimal"
        capped += s.limited_by == "wall_clock"
        gap = 100.0 * (s.makespan - best) / best
        gaps.append(gap)
        base_gaps.append(100.0 * (base - best) / best)
        worst.append((gap, f.stem, s.makespan, best))
        if out is not None:
            out.write(json.dumps({"set": kind, "instance": f.stem, "makespan": s.makespan, "best_known": best,
                                  "gap_pct": round(gap, 3), "status": s.status, "limited_by": s.limited_by,
                                  "bound": s.bound, "wall_s": round(walls[-1], 2), "det": s.deterministic_time,
                                  "lns_steps": s.lns_steps, "sgs": base}) + "\n")  # fmt: skip
            out.flush()
    worst.sort(reverse=True)
    return {
        "instances": len(files),
        "hit": hit,
        "proven": proven,
        "capped": capped,
        "gap": statistics.mean(gaps),
        "max_gap": max(gaps),
        "worst": worst[:5],
        "base_gap": statistics.mean(base_gaps),
        "base_hit": sum(1 for g in base_gaps if g <= 0),
        "wall": sum(walls),
        "mean_wall": statistics.mean(walls),
        "base_wall": sum(base_walls),
        "max_wall": max(walls),
        "above3": sum(1 for g in gaps if g > 3.0),
        "det": sum(dets),
    }


FACES = (
    FaceSpec("L1", "主巷道", FaceKind.LANE, 2),
    FaceSpec("C1", "中心院落", FaceKind.COURTYARD, 2),
    FaceSpec("B1", "1号楼", FaceKind.BUILDING, 1),
)


def district_problem(communities: int, seed: int = 42) -> Problem:
    rng = random.Random(seed)
    menu = sorted(MENU_TO_PACKAGES)
    core = ["rain_sewage_separation", "water_pipe_renewal", "power_cable_undergrounding", "gas_pipe_renewal"]
    packages, links = [], []
    ranks: dict[str, int | None] = {}
    for c in range(communities):
        items = core[: rng.randint(2, 4)] + rng.sample([m for m in menu if m not in core], rng.randint(5, 7))
        codes = [p for item in items for p in MENU_TO_PACKAGES[item]]
        lay = layout(codes, FACES)
        cid = f"c{c:03d}"
        ranks[cid] = c + 1
        ids = [f"{cid}-{k}" for k in range(len(lay.packages))]
        for pid, p in zip(ids, lay.packages, strict=True):
            packages.append(PlanPackage(pid, f"{cid}-{p.face_code}", cid, p.type_code, p.duration_days))
        links.extend(PlanLink(ids[a], ids[b], lag) for a, b, lag in lay.links)
    return build_problem(
        packages, links, crews={}, default_crews=max(2, communities // 10), weights=weights_from_ranks(ranks),
        max_faces_per_community=2,
    )  # fmt: skip


def district(communities: int, limit: float, workers: int, wall_cap_factor: float) -> dict:
    problem = district_problem(communities)
    t0 = time.perf_counter()
    base = greedy(problem)
    base_wall = time.perf_counter() - t0
    assert base is not None and not check(problem, base)
    base_end = {t.id: base[t.id] + t.duration for t in problem.tasks}
    t0 = time.perf_counter()
    s = solve(problem, SolveParams(time_limit_s=limit, workers=workers, wall_cap_factor=wall_cap_factor))
    wall = time.perf_counter() - t0
    violations = check(problem, s.starts)
    base_weighted = sum(
        w * max(base_end[t.id] for t in problem.tasks if t.group == g) for g, w in problem.group_weights.items()
    )
    assert s.initial_weighted_completion == base_weighted
    return {
        "base_makespan": max(base_end.values()),
        "base_wall": base_wall,
        "weighted": s.weighted_completion,
        "base_weighted": base_weighted,
        "lower_bound": s.lower_bound,
        "communities": communities,
        "tasks": len(problem.tasks),
        "per_community": len(problem.tasks) / communities,
        "status": s.status,
        "limited_by": s.limited_by,
        "makespan": s.makespan,
        "gap": s.gap,
        "wall": wall,
        "det": s.deterministic_time,
        "steps": s.lns_steps,
        "improvements": s.lns_improvements,
        "violations": len(violations),
        "cp_lb": critical_path_length(problem),
        "crews": problem.capacities,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--j30-limit", type=float, default=1.0)
    ap.add_argument("--j60-limit", type=float, default=10.0)
    ap.add_argument("--j30-every", type=int, default=1)
    ap.add_argument("--j60-every", type=int, default=1)
    ap.add_argument("--district-limit", type=float, default=15.0)
    ap.add_argument("--district-wall-cap", type=float, default=4.0, help="wall cap, × the district budget (+1 s)")
    ap.add_argument("--communities", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only", default="j30,j60,district")
    ap.add_argument("--j60-set", default="", help="file of instance names (e.g. j6013_1), one a line: only those")
    ap.add_argument("--wall-cap", type=float, default=20.0, help="PSPLIB wall cap, × the budget (+1 s)")
    ap.add_argument("--out", default="", help="JSON lines, one per PSPLIB instance")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    if parts & {"j30", "j60"} and not DATA.exists():
        print(f"PSPLIB data missing at {DATA} (set PSPLIB_DIR)", file=sys.stderr)
        return 2
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, 1 CP-SAT worker per solve, deterministic-time budgets")  # fmt: skip
    out = open(args.out, "a", encoding="utf-8") if args.out else None  # noqa: SIM115 - closed at exit
    rows = []
    for kind, every, limit in (("j30", args.j30_every, args.j30_limit), ("j60", args.j60_every, args.j60_limit)):
        if kind in parts:
            names = Path(args.j60_set).read_text().split() if kind == "j60" and args.j60_set else None
            rows.append((kind, limit, psplib(kind, limit, every, args.workers, out, names, args.wall_cap)))
    if rows:
        print(f"\n{'set':5} {'n':>4} {'limit':>5} {'=best':>6} {'proven':>7} {'gap%':>6} {'max%':>6} {'SGS gap%':>8} "
              f"{'wall/inst':>9} {'max s':>6} {'capped':>6} {'>3%':>4} {'det/wall':>8}")  # fmt: skip
    for kind, limit, r in rows:
        print(
            f"{kind:5} {r['instances']:>4} {limit:>5} {r['hit']:>6} {r['proven']:>7} {r['gap']:>6.2f} "
            f"{r['max_gap']:>6.2f} {r['base_gap']:>8.2f} {r['mean_wall']:>9.1f} {r['max_wall']:>6.1f} {r['capped']:>6} "
            f"{r['above3']:>4} {r['det'] / r['wall']:>8.2f}"
        )
        print("      worst: " + ", ".join(f"{name} {mk} vs {best} ({g:.1f} %)" for g, name, mk, best in r["worst"]))
    for kind, limit, r in rows:
        note = f"{r['instances']} instances, {limit} s deterministic each, mean wall {r['mean_wall']:.1f} s"
        record("projects", f"psplib.{kind}.sgs_gap", f"PSPLIB {kind}: serial SGS (LFT) mean gap to best known",
               r["base_gap"], "%", better="lower", note=note)  # fmt: skip
        record("projects", f"psplib.{kind}.gap", f"PSPLIB {kind}: solver mean gap to best known", r["gap"], "%",
               baseline=f"psplib.{kind}.sgs_gap", better="lower", note=note)  # fmt: skip
        record("projects", f"psplib.{kind}.max_gap", f"PSPLIB {kind}: solver largest gap to best known",
               r["max_gap"], "%", better="lower", note=note)  # fmt: skip
        record("projects", f"psplib.{kind}.hit", f"PSPLIB {kind}: solver reaches best known",
               100.0 * r["hit"] / r["instances"], "% of instances", note=note)  # fmt: skip
    if "district" in parts:
        d = district(args.communities, args.district_limit, args.workers, args.district_wall_cap)
        note = (f"{d['communities']} communities, {d['tasks']} packages, {args.district_limit} s deterministic, "
                f"wall {d['wall']:.0f} s, stopped by {d['limited_by']}")  # fmt: skip
        record("projects", "district.base_weighted", "district plan: constructive weighted completion",
               d["base_weighted"], "weighted days", better="lower", note=note)  # fmt: skip
        record("projects", "district.weighted", "district plan: solver weighted completion", d["weighted"],
               "weighted days", baseline="district.base_weighted", better="lower", note=note)  # fmt: skip
        record("projects", "district.lower_bound", "district plan: proven lower bound, weighted completion",
               d["lower_bound"] or 0.0, "weighted days", baseline="district.weighted", note=note)  # fmt: skip
        print(
            f"\ndistrict: {d['communities']} communities, {d['tasks']} packages ({d['per_community']:.1f}/community), "
            f"crews/trade {next(iter(d['crews'].values()))}, <=2 faces/community"
        )
        print(
            f"  constructive plan (same rules): weighted completion {d['base_weighted']:,}, makespan "
            f"{d['base_makespan']} working days, {d['base_wall']:.2f} s"
        )
        improvement = 100.0 * (1 - d["weighted"] / d["base_weighted"])
        print(
            f"  solver: weighted completion {d['weighted']:,} ({improvement:.1f} % better), makespan {d['makespan']}, "
            f"status {d['status']} (stopped by {d['limited_by']}), {d['det']} s deterministic, wall {d['wall']:.1f} s, "
            f"{d['steps']} LNS steps ({d['improvements']} improving), rule violations {d['violations']}"
        )
        print(
            f"  proven lower bound {d['lower_bound']:,.0f}: the plan is within "
            f"{100.0 * (d['weighted'] / d['lower_bound'] - 1):.1f} % of it (precedence bound on the makespan "
            f"{d['cp_lb']})"
        )
    if out is not None:
        out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
