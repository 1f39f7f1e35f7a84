"""Projects planner benchmark: PSPLIB j30 / j60 through the stateless solver, and a district plan.

    .venv/bin/python bench/bench_projects.py [--limit 1.0] [--j60-every 4] [--district-limit 30] [--workers 1]

* j30: all 480 instances, ``--limit`` s (deterministic time) per instance, counting those reaching the known optimum
  (j30opt.sm) and those proven optimal.
* j60: every ``--j60-every``-th instance (all when 1), mean gap to the best known makespan (j60hrs.sm).
* Baseline measured in the same run: the serial schedule-generation scheme with the latest-finish-time priority
  rule (a classic single-pass heuristic); ratios compare CP-SAT with it.
* District: 300 communities x ~12 packages with shared crews, the face rules, at most 2 faces per community, and
  priority weights from a ranking; every plan goes through the rule checker.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "projects" / "src"))

from common import record  # noqa: E402 - bench/common.py: machine-readable figures for bench/run.py

from projects.domain.catalog import MENU_TO_PACKAGES  # noqa: E402
from projects.domain.planning import PlanLink, PlanPackage, build_problem, layout, weights_from_ranks  # noqa: E402
from projects.domain.psplib import parse_reference, parse_sm  # noqa: E402
from projects.domain.scheduling import Problem, SolveParams, check, critical_path_length, greedy, solve  # noqa: E402

DATA = Path("/work/shared/data/psplib")


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


def psplib(kind: str, limit: float, every: int, workers: int) -> dict:
    ref_file = DATA / kind / ("j30opt.sm" if kind == "j30" else "j60hrs.sm")
    reference = parse_reference(ref_file.read_text())
    files = sorted((DATA / kind).glob(f"{kind}*_*.sm"), key=lambda p: tuple(int(x) for x in p.stem[3:].split("_")))
    files = files[::every]
    hit = proven = 0
    gaps, base_gaps, walls, base_walls = [], [], [], []
    for f in files:
        par, inst = (int(x) for x in f.stem[3:].split("_"))
        problem = parse_sm(f.read_text())
        best = reference[(par, inst)]
        t0 = time.perf_counter()
        base = serial_sgs(problem)
        base_walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s = solve(problem, SolveParams(time_limit_s=limit, workers=workers))
        walls.append(time.perf_counter() - t0)
        assert not check(problem, s.starts), f.name
        assert s.makespan >= critical_path_length(problem)
        hit += s.makespan <= best
        proven += s.status == "optimal"
        gaps.append(100.0 * (s.makespan - best) / best)
        base_gaps.append(100.0 * (base - best) / best)
    return {
        "instances": len(files),
        "hit": hit,
        "proven": proven,
        "gap": statistics.mean(gaps),
        "base_gap": statistics.mean(base_gaps),
        "base_hit": sum(1 for g in base_gaps if g <= 0),
        "wall": sum(walls),
        "base_wall": sum(base_walls),
        "max_wall": max(walls),
    }


def district(communities: int, limit: float, workers: int, seed: int = 42) -> dict:
    rng = random.Random(seed)
    menu = sorted(MENU_TO_PACKAGES)
    core = ["rain_sewage_separation", "water_pipe_renewal", "power_cable_undergrounding", "gas_pipe_renewal"]
    packages, links = [], []
    ranks: dict[str, int | None] = {}
    for c in range(communities):
        items = core[: rng.randint(2, 4)] + rng.sample([m for m in menu if m not in core], rng.randint(5, 7))
        codes = [p for item in items for p in MENU_TO_PACKAGES[item]]
        lay = layout(codes, buildings=1)
        cid = f"c{c:03d}"
        ranks[cid] = c + 1
        ids = [f"{cid}-{k}" for k in range(len(lay.packages))]
        for pid, p in zip(ids, lay.packages, strict=True):
            packages.append(PlanPackage(pid, f"{cid}-{p.face_code}", cid, p.type_code, p.duration_days))
        links.extend(PlanLink(ids[a], ids[b], lag) for a, b, lag in lay.links)
    problem = build_problem(
        packages, links, crews={}, default_crews=max(2, communities // 10), weights=weights_from_ranks(ranks),
        max_faces_per_community=2,
    )  # fmt: skip
    t0 = time.perf_counter()
    base = greedy(problem)
    base_wall = time.perf_counter() - t0
    assert base is not None
    base_end = {t.id: base[t.id] + t.duration for t in problem.tasks}
    t0 = time.perf_counter()
    s = solve(problem, SolveParams(time_limit_s=limit, workers=workers))
    wall = time.perf_counter() - t0
    violations = check(problem, s.starts)
    return {
        "base_makespan": max(base_end.values()),
        "base_wall": base_wall,
        "weighted": s.weighted_completion,
        "base_weighted": sum(
            w * max(base_end[t.id] for t in problem.tasks if t.group == g) for g, w in problem.group_weights.items()
        ),
        "communities": communities,
        "tasks": len(packages),
        "per_community": len(packages) / communities,
        "status": s.status,
        "makespan": s.makespan,
        "gap": s.gap,
        "wall": wall,
        "violations": len(violations),
        "cp_lb": critical_path_length(problem),
        "crews": problem.capacities,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, default=1.0)
    ap.add_argument("--j30-every", type=int, default=1)
    ap.add_argument("--j60-every", type=int, default=4)
    ap.add_argument("--district-limit", type=float, default=30.0)
    ap.add_argument("--communities", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--district-only", action="store_true")
    args = ap.parse_args()
    if not DATA.exists():
        print("PSPLIB data missing; skipping")
        return 0
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"CP-SAT workers={args.workers}, per-instance limit {args.limit}s (deterministic time)")  # fmt: skip
    rows = []
    for kind, every in () if args.district_only else (("j30", args.j30_every), ("j60", args.j60_every)):
        r = psplib(kind, args.limit, every, args.workers)
        rows.append((kind, r))
    print(f"\n{'set':5} {'n':>4} {'=best':>6} {'proven':>7} {'gap%':>6} {'SGS =best':>9} {'SGS gap%':>8} "
          f"{'gap ratio':>9} {'CP-SAT s':>9} {'max s':>6} {'SGS s':>6}")  # fmt: skip
    for kind, r in rows:
        ratio = r["gap"] / r["base_gap"] if r["base_gap"] else float("nan")
        print(
            f"{kind:5} {r['instances']:>4} {r['hit']:>6} {r['proven']:>7} {r['gap']:>6.2f} {r['base_hit']:>9} "
            f"{r['base_gap']:>8.2f} {ratio:>9.3f} {r['wall']:>9.1f} {r['max_wall']:>6.2f} {r['base_wall']:>6.1f}"
        )
    for kind, r in rows:
        note = f"{r['instances']} instances, {args.limit} s deterministic each, {args.workers} worker(s)"
        record("projects", f"psplib.{kind}.sgs_gap", f"PSPLIB {kind}: serial SGS (LFT) mean gap to best known",
               r["base_gap"], "%", better="lower", note=note)  # fmt: skip
        record("projects", f"psplib.{kind}.gap", f"PSPLIB {kind}: CP-SAT mean gap to best known", r["gap"], "%",
               baseline=f"psplib.{kind}.sgs_gap", better="lower", note=note)  # fmt: skip
        record("projects", f"psplib.{kind}.hit", f"PSPLIB {kind}: CP-SAT reaches best known",
               100.0 * r["hit"] / r["instances"], "% of instances", note=note)  # fmt: skip
    d = district(args.communities, args.district_limit, args.workers)
    note = f"{d['communities']} communities, {d['tasks']} packages, {args.district_limit} s"
    record("projects", "district.base", "district plan: constructive baseline makespan", d["base_makespan"],
           "working days", better="lower", note=note)  # fmt: skip
    record("projects", "district.cpsat", "district plan: CP-SAT makespan", d["makespan"], "working days",
           baseline="district.base", better="lower", note=note)  # fmt: skip
    print(
        f"\ndistrict: {d['communities']} communities, {d['tasks']} packages ({d['per_community']:.1f}/community), "
        f"crews/trade {next(iter(d['crews'].values()))}, <=2 faces/community"
    )
    print(
        f"  status {d['status']}, makespan {d['makespan']} working days (precedence bound {d['cp_lb']}), "
        f"gap {100 * d['gap']:.2f}% of the weighted objective, wall {d['wall']:.1f}s, "
        f"rule violations {d['violations']}"
    )
    print(
        f"  baseline (constructive, same rules) makespan {d['base_makespan']} in {d['base_wall']:.1f}s; "
        f"CP-SAT/baseline makespan {d['makespan'] / d['base_makespan']:.3f}, "
        f"weighted completion {d['weighted'] / d['base_weighted']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
