"""The CP-SAT model of a scheduling problem and the deterministic search on it.

A solve spends a *deterministic-time* budget (``SolveParams.time_limit_s``, CP-SAT's own measure of work, the same
on an idle and on a loaded machine), never a wall-clock one, so the same problem and seed give the same plan
whatever the load:

1. a first plan: the constructive one (:func:`~projects.domain.scheduling.greedy` with face rules, or the serial
   schedule-generation scheme for a plain RCPSP);
2. small and medium networks: CP-SAT on the whole model, hinted with it (one worker, fixed seed);
3. a plain RCPSP not proven optimal by then: iterated local search on activity lists
   (:func:`~projects.domain.scheduling.local_search`: serial SGS + forward-backward justification on index arrays,
   :class:`~projects.domain.scheduling.ListDecoder`), most of the budget (``search_share``), counted in decoded
   schedules (``SCHEDULES_PER_SECOND``, calibrated so a counted second costs about the wall time of a CP-SAT
   deterministic second); on the hard j60 instances it is what improves the plan, the LNS steps after it rarely do;
4. then, while budget remains and optimality is not proven, large-neighbourhood search (LNS) warm-started from the
   best plan so far, each step a CP-SAT solve of one neighbourhood with a small deterministic budget:

   * *order* neighbourhoods (networks up to ``FULL_MODEL_TASKS``): every task is free, but the tasks outside the
     neighbourhood keep the order they have in the incumbent (an arc for each pair sharing a resource) — they can
     still all move earlier; neighbourhoods are random task sets, time windows and resource windows;
   * *pinned* neighbourhoods (larger networks, e.g. a district): an area (片区: a run of communities in priority
     order) or a time window is free and every other task is pinned where it is; the pinned tasks' crew usage
     becomes a fixed load profile, so a step's model stays small. The step minimises the weighted completion of the
     communities it touches, then the makespan, then (as a tie-break that lets later steps gain) the free tasks'
     finish times.

   A step's plan replaces the incumbent when the whole plan's objective is no worse.

The wall clock is only a safety cap (``wall_cap_factor`` × the budget): if it stops the search first, the plan is
what was found by then — which depends on the machine's load — and the result says so (``limited_by ==
"wall_clock"``, status ``feasible``, never ``optimal``). Otherwise ``limited_by`` is ``"deterministic_time"`` (the
budget was spent) or ``None`` (proven optimal).

Lower bounds: the objective's ``bound`` is CP-SAT's when it solved the whole model, combined with
:func:`~projects.domain.scheduling.weighted_lower_bound` and the critical path; ``lower_bound`` is the proven bound
on the weighted completion itself.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from projects.domain.model import LimitedBy
from projects.domain.scheduling import (
    Infeasible,
    InvalidNetwork,
    ListDecoder,
    NoSolutionFound,
    Problem,
    Task,
    critical_path_length,
    face_group,
    faces_of,
    greedy,
    horizon,
    justify,
    local_search,
    ordered_sets,
    serial_sgs,
    validate,
    weighted_completion,
    weighted_lower_bound,
)

FULL_MODEL_TASKS = 400  # up to this many tasks the whole model is solved first, and LNS frees tasks by order
LNS_STEP_DT = 0.05  # deterministic budget of one small neighbourhood step
PINNED_STEP_DT = 0.2  # of one pinned (large-network) step
# local-search decodes (serial SGS + justification) of a 60-task network counted as one second of budget: about the
# wall time CP-SAT takes for one deterministic second on j60 here (measured on the 2-core VM: 4,000 decodes took
# 3-13 s of wall time, one CP-SAT deterministic second 6-13 s, both under load)
SCHEDULES_PER_SECOND = 4000
SEARCH_RUNS = 3  # independent local-search runs (plain RCPSP), each an even part of its share
PINNED_TARGET_TASKS = 40  # tasks freed by one pinned step (about three communities)


@dataclass(frozen=True)
class SolveParams:
    time_limit_s: float = 2.0  # deterministic-time budget (CP-SAT's unit, close to a second on an idle core)
    seed: int = 0
    workers: int = 1  # >1: the whole-model solve interleaves that many subsolvers, still deterministically
    # Re-planning: keep changes small; share of the budget spent minimising the moves from ``previous``.
    stability_share: float = 0.3
    # the wall clock stops the search at this multiple of the budget (+ 1 s); on a 2-core VM a deterministic second
    # took up to 6 s of wall time (LNS decoding in Python counts into the budget), so 5× was reached even idle
    wall_cap_factor: float = 20.0
    lns: bool = True
    main_share: float = 0.1  # of the budget for the whole-model solve before LNS (small and medium networks)
    search_share: float = 0.8  # of the budget for local search on activity lists (plain RCPSP only)


@dataclass(frozen=True)
class Schedule:
    starts: dict[str, int]
    ends: dict[str, int]
    status: str  # optimal | feasible
    objective: int
    bound: float
    gap: float
    makespan: int
    weighted_completion: int
    wall_time_s: float
    moved_tasks: int = 0
    total_shift_days: int = 0
    lower_bound: float | None = None  # proven lower bound on the weighted completion (None without weights)
    limited_by: LimitedBy | None = None  # None: optimal
    deterministic_time: float | None = None
    lns_steps: int = 0
    lns_improvements: int = 0
    initial_weighted_completion: int | None = None  # of the first (constructive) plan


class _Clock:
    """Deterministic budget spent so far, and the wall-clock safety cap."""

    def __init__(self, params: SolveParams) -> None:
        self.budget = max(0.05, params.time_limit_s)
        self.spent = 0.0
        self.started = time.perf_counter()
        self.cap = self.budget * params.wall_cap_factor + 1.0
        self.wall_stopped = False

    @property
    def left(self) -> float:
        return self.budget - self.spent

    def wall_left(self) -> float:
        return self.cap - (time.perf_counter() - self.started)

    def over_wall(self) -> bool:
        if self.wall_left() <= 0:
            self.wall_stopped = True
        return self.wall_stopped

    def wall(self) -> float:
        return time.perf_counter() - self.started


def _run(model: cp_model.CpModel, clock: _Clock, det: float, seed: int, workers: int = 1) -> tuple[Any, Any]:
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = max(1, workers)
    if workers > 1:
        solver.parameters.interleave_search = True
    solver.parameters.max_deterministic_time = max(0.01, det)
    solver.parameters.push_all_tasks_toward_start = True
    solver.parameters.max_time_in_seconds = max(0.05, clock.wall_left())
    status = solver.solve(model)
    clock.spent += solver.deterministic_time
    if status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and solver.deterministic_time < det * 0.999:
        clock.over_wall()  # stopped by the wall clock before its deterministic budget
    return solver, status


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Model:
    model: cp_model.CpModel
    start: dict[str, Any]  # variable, or int for pinned tasks
    objective: Any
    weighted: Any
    makespan: Any


@dataclass(frozen=True)
class _Neighbourhood:
    """Which tasks a step may move; the others are pinned at ``pinned`` (strict: every rule still holds)."""

    free: frozenset[str]
    pinned: Mapping[str, int]
    lo: Mapping[str, int]
    hi: Mapping[str, int]


def _build(
    problem: Problem,
    by_id: Mapping[str, Task],
    h: int,
    *,
    hood: _Neighbourhood | None = None,
    arcs: Iterable[tuple[str, str]] = (),
    cap: int | None = None,
    left_shift: bool = False,
) -> _Model:
    """The CP-SAT model of ``problem`` (horizon ``h``), or of one pinned neighbourhood of it.

    Frozen tasks (reality) are constants whose later-rules are not enforced; pinned tasks (a search step) are
    constants for which every rule is. ``arcs``: extra finish-to-start orders (order neighbourhoods). ``cap``: a
    bound the model's objective (over the groups it touches) must not exceed."""
    m = cp_model.CpModel()
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    tasks = list(problem.tasks)
    faces = faces_of(tasks)
    if hood is None:
        present = [t.id for t in tasks]
        free = {t.id for t in tasks if not t.frozen}
    else:
        free = set(hood.free)
        faces_touched = {by_id[tid].face for tid in free if by_id[tid].face is not None}
        groups_touched = {by_id[tid].group for tid in free}
        keep = set(free)
        for f in faces_touched:
            keep.update(t.id for t in faces[f or ""])
        if problem.max_faces_per_group is not None:
            for ts in faces.values():
                if face_group(ts) in groups_touched:
                    keep.update(t.id for t in ts)
        present = [t.id for t in tasks if t.id in keep]
    start: dict[str, Any] = {}
    end: dict[str, Any] = {}
    interval: dict[str, Any] = {}
    for tid in present:
        t = by_id[tid]
        if t.fixed_start is not None:
            s: Any = t.fixed_start
        elif tid in free:
            lo = hood.lo[tid] if hood is not None else t.earliest_start
            hi = hood.hi[tid] if hood is not None else h
            s = m.new_int_var(lo, max(lo, hi), f"s_{tid}")
        else:
            assert hood is not None
            s = hood.pinned[tid]
        start[tid] = s
        end[tid] = s + t.duration
        interval[tid] = m.new_fixed_size_interval_var(s, t.duration, f"i_{tid}")
    in_model = set(present)

    for link in problem.links:
        if by_id[link.succ].frozen or link.succ not in in_model or link.pred not in in_model:
            continue
        if link.succ in free or link.pred in free:
            m.add(start[link.succ] >= end[link.pred] + link.lag)
    for a, b in arcs:
        m.add(start[b] >= end[a])

    pinned_end = 0
    pinned_group_end: dict[str, int] = defaultdict(int)
    if hood is not None:
        for t in problem.tasks:
            if t.id not in free:
                e = (t.fixed_start if t.fixed_start is not None else hood.pinned[t.id]) + t.duration
                pinned_end = max(pinned_end, e)
                if t.group is not None:
                    pinned_group_end[t.group] = max(pinned_group_end[t.group], e)
    makespan = m.new_int_var(pinned_end, h, "makespan")
    # the time after the makespan holds every crew (a redundant task that lets the resource reasoning push the
    # makespan; whole models only)
    tail = None if hood is not None else m.new_interval_var(makespan, m.new_int_var(1, h + 1, "tail"), h + 1, "tail")
    for res, capacity in sorted(problem.capacities.items()):
        users = [by_id[tid] for tid in present if by_id[tid].demands.get(res, 0) > 0 and by_id[tid].duration > 0]
        live = [t for t in users if t.id in free]
        if not live:
            continue
        if hood is None:
            items = [(interval[t.id], t.demands[res]) for t in users]
            if tail is not None:
                items.append((tail, capacity))
        else:
            items = [(interval[t.id], t.demands[res]) for t in live]
            lo = min(hood.lo[t.id] for t in live)
            hi = max(hood.hi[t.id] + t.duration for t in live)
            items += [
                (m.new_fixed_size_interval_var(a, b - a, f"load_{res}_{a}"), level)
                for a, b, level in _load(
                    (hood.pinned[t.id] if t.fixed_start is None else t.fixed_start, t.duration, t.demands[res])
                    for t in problem.tasks
                    if t.id not in free and t.demands.get(res, 0) > 0 and t.duration > 0
                )
                if b > lo and a < hi
            ]
        if capacity == 1 or all(2 * d > capacity for _, d in items):
            m.add_no_overlap([iv for iv, _ in items])
        else:
            m.add_cumulative([iv for iv, _ in items], [d for _, d in items], capacity)

    for face_id, face_tasks in sorted(faces.items()):
        if not any(t.id in free for t in face_tasks) or not all(t.id in in_model for t in face_tasks):
            continue
        for rule, first, later in ordered_sets(face_tasks):
            live_later = [t for t in later if not t.frozen]
            if not first or not live_later:
                continue
            switch = m.new_int_var(0, h, f"sw_{rule.replace(':', '_')}_{face_id}")
            for t in first:
                m.add(end[t.id] <= switch)
            for t in live_later:
                m.add(start[t.id] >= switch)
        digging = [t for t in face_tasks if t.excavates]
        others = [t for t in face_tasks if not t.excavates and not t.frozen and t.duration > 0]
        if digging and others:
            ws = m.new_int_var(0, h, f"ws_{face_id}")
            we = m.new_int_var(0, h, f"we_{face_id}")
            m.add_min_equality(ws, [start[t.id] for t in digging])
            m.add_max_equality(we, [end[t.id] for t in digging])
            window = m.new_interval_var(ws, m.new_int_var(0, h, f"wl_{face_id}"), we, f"dig_{face_id}")
            for t in others:
                m.add_no_overlap([window, interval[t.id]])

    if problem.max_faces_per_group is not None:
        spans_by_group: dict[str, list[Any]] = defaultdict(list)
        touched_groups = {by_id[tid].group for tid in free}
        for face_id, face_tasks in sorted(faces.items()):
            group = face_group(face_tasks)
            if group is None or all(t.frozen for t in face_tasks) or group not in touched_groups:
                continue
            if not all(t.id in in_model for t in face_tasks):
                continue
            if any(t.id in free for t in face_tasks):
                fs = m.new_int_var(0, h, f"fs_{face_id}")
                fe = m.new_int_var(0, h, f"fe_{face_id}")
                for t in face_tasks:
                    m.add(fs <= start[t.id])
                    m.add(fe >= end[t.id])
                span = m.new_interval_var(fs, m.new_int_var(0, h, f"fl_{face_id}"), fe, f"span_{face_id}")
            else:
                a = min(start[t.id] for t in face_tasks)
                b = max(end[t.id] for t in face_tasks)
                span = m.new_fixed_size_interval_var(a, b - a, f"span_{face_id}")
            spans_by_group[group].append(span)
        for _group, spans in sorted(spans_by_group.items()):
            if len(spans) > problem.max_faces_per_group:
                m.add_cumulative(spans, [1] * len(spans), problem.max_faces_per_group)

    ends_free = [end[tid] for tid in present if tid in free or hood is None]
    if hood is None:
        m.add_max_equality(makespan, ends_free)
    else:
        for e in ends_free:
            m.add(makespan >= e)
    completion: dict[str, Any] = {}
    groups = sorted(weights) if hood is None else sorted(g for g in {by_id[tid].group for tid in free} if g in weights)
    for g in groups:
        completion[g] = m.new_int_var(pinned_group_end.get(g, 0), h, f"c_{g}")
    for tid in present:
        t = by_id[tid]
        if t.group in completion and (hood is None or tid in free):
            m.add(completion[t.group] >= end[tid])
    weighted = sum(weights[g] * completion[g] for g in groups)
    objective: Any = weighted * (h + 1) + makespan if completion else makespan
    if cap is not None:
        m.add(objective <= cap)
    if left_shift:
        spread = sum(h + 1 for _ in free)
        m.minimize(objective * (spread + 1) + sum(end[tid] for tid in sorted(free)))
    else:
        m.minimize(objective)
    return _Model(m, start, objective, weighted, makespan)


def _load(items: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Pinned crew usage as segments of constant level: (from, to, level)."""
    delta: dict[int, int] = defaultdict(int)
    for s, d, level in items:
        delta[s] += level
        delta[s + d] -= level
    out: list[tuple[int, int, int]] = []
    level = 0
    last = None
    for time_ in sorted(delta):
        if last is not None and level > 0 and time_ > last:
            out.append((last, time_, level))
        level += delta[time_]
        last = time_
    return out


# ----------------------------------------------------------------------------------------------------------------
# The search
# ----------------------------------------------------------------------------------------------------------------


def _value(problem: Problem, starts: Mapping[str, int], weights: Mapping[str, int]) -> tuple[int, int, dict[str, int]]:
    ends = {t.id: starts[t.id] + t.duration for t in problem.tasks}
    return weighted_completion(problem, ends, weights), max(ends.values()), ends


def solve(
    problem: Problem,
    params: SolveParams = SolveParams(),
    *,
    hint: Mapping[str, int] | None = None,
    previous: Mapping[str, int] | None = None,
) -> Schedule:
    """Solve ``problem``. ``hint``: starts to try first; ``previous``: keep moves from it small (re-planning)."""
    by_id = validate(problem)
    clock = _Clock(params)
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    first = _first_plan(problem)
    h = horizon(problem)
    if first is not None:
        h = max(first[t.id] + t.duration for t in problem.tasks)  # a feasible plan bounds the horizon
        if hint is None:
            hint = first
    if weights and sum(weights.values()) * h * (h + 1) > 2**62:
        raise InvalidNetwork("the network is too large for the weighted objective")
    lb_weighted = weighted_lower_bound(problem) if weights else 0
    lb_makespan = critical_path_length(problem)
    best: dict[str, int] | None = dict(first) if first is not None else None
    bound = float(lb_weighted * (h + 1) + lb_makespan if weights else lb_makespan)
    proven = False
    large = len(problem.tasks) > FULL_MODEL_TASKS
    main_budget = clock.budget * (
        (1 - params.stability_share) if previous else (params.main_share if params.lns else 1)
    )
    if not large or best is None or previous:
        built = _build(problem, by_id, h)
        for tid, value in sorted((hint or {}).items()):
            if tid in built.start and not by_id[tid].frozen and not isinstance(built.start[tid], int):
                built.model.add_hint(built.start[tid], max(by_id[tid].earliest_start, min(value, h)))
        solver, status = _run(
            built.model, clock, main_budget if best is not None else clock.budget, params.seed, params.workers
        )
        if status == cp_model.INFEASIBLE:
            raise Infeasible("no plan satisfies every rule (check capacities, links and fixed work)")
        if status == cp_model.MODEL_INVALID:  # a bug in the model, never the caller's input
            raise RuntimeError(f"invalid CP-SAT model: {built.model.validate()}")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = {tid: (v if isinstance(v, int) else int(solver.value(v))) for tid, v in built.start.items()}
            if best is None or _better(problem, found, best, weights):
                best = found
            bound = max(bound, float(solver.best_objective_bound))
            proven = status == cp_model.OPTIMAL
        if previous and best is not None:
            best = _stabilise(problem, by_id, h, built, best, previous, clock, params)
    if best is None:
        raise NoSolutionFound("no plan found within the time limit")
    steps = improvements = 0
    initial_wc = _value(problem, first, weights)[0] if first is not None else None
    searching = not proven and _plain(problem) and params.lns and len(problem.tasks) <= FULL_MODEL_TASKS
    decoder = ListDecoder(problem) if _plain(problem) else None
    if searching:
        # local search on activity lists, its share of the budget counted in decoded schedules (deterministic):
        # independent runs from the same plan, seeds ``seed``, ``seed + 1``, ...; one run levels off after some
        # thousand schedules, and the best of several is more often near the best known than one long run
        share = clock.budget * params.search_share / SEARCH_RUNS
        schedules = int(share * SCHEDULES_PER_SECOND * 60 / max(60, len(problem.tasks)))
        start = best
        for r in range(SEARCH_RUNS):
            clock.spent += share
            searched = local_search(problem, start, schedules, params.seed + r, decoder)
            if _better(problem, searched, best, weights):
                best = searched
            proven = _value(problem, best, weights)[1] <= bound  # reached the lower bound: nothing left to search
            if proven:
                break
    if params.lns and not proven and not previous and clock.left > 0.01 and not clock.wall_stopped:
        best, steps, improvements, proven = _lns(problem, by_id, h, best, weights, clock, params, bound, large, decoder)
    wc, mk, ends = _value(problem, best, weights)
    objective = wc * (h + 1) + mk if weights else mk
    if objective <= bound:
        proven = True
    status_name = "optimal" if proven and not clock.wall_stopped else "feasible"
    limited_by: LimitedBy | None = (
        None if status_name == "optimal" else ("wall_clock" if clock.wall_stopped else "deterministic_time")
    )
    moved = shift = 0
    if previous:
        live = [t for t in problem.tasks if not t.frozen and t.id in previous]
        moved = sum(1 for t in live if best[t.id] != previous[t.id])
        shift = sum(abs(best[t.id] - previous[t.id]) for t in live)
    gap = 0.0 if status_name == "optimal" else max(0.0, (objective - bound) / max(1.0, abs(objective)))
    lower = None
    if weights:
        lower = float(max(lb_weighted, -(-(int(bound) - h) // (h + 1))))
    return Schedule(
        starts=dict(best),
        ends=ends,
        status=status_name,
        objective=objective,
        bound=min(bound, float(objective)),
        gap=round(gap, 6),
        makespan=mk,
        weighted_completion=wc,
        wall_time_s=round(clock.wall(), 3),
        moved_tasks=moved,
        total_shift_days=shift,
        lower_bound=lower,
        limited_by=limited_by,
        deterministic_time=round(clock.spent, 3),
        lns_steps=steps,
        lns_improvements=improvements,
        initial_weighted_completion=initial_wc,
    )


def _plain(problem: Problem) -> bool:
    """A plain RCPSP: no faces, groups or frozen work (justification may move any task)."""
    return not any(t.face is not None or t.group is not None or t.frozen for t in problem.tasks)


def _first_plan(problem: Problem) -> dict[str, int] | None:
    """The constructive plan: with faces or groups the rule-keeping greedy; for a plain RCPSP the serial SGS
    (latest finish time) justified forward-backward, when better."""
    if any(t.frozen for t in problem.tasks):
        return None
    plans = [p for p in (greedy(problem),) if p is not None]
    if _plain(problem):
        sgs = serial_sgs(problem)
        if sgs is not None:
            plans.append(justify(problem, sgs))
    if not plans:
        return None
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    return min(plans, key=lambda p: _value(problem, p, weights)[:2])


def _better(problem: Problem, a: Mapping[str, int], b: Mapping[str, int], weights: Mapping[str, int]) -> bool:
    return _value(problem, a, weights)[:2] < _value(problem, b, weights)[:2]


def _stabilise(
    problem: Problem,
    by_id: Mapping[str, Task],
    h: int,
    built: _Model,
    best: dict[str, int],
    previous: Mapping[str, int],
    clock: _Clock,
    params: SolveParams,
) -> dict[str, int]:
    """Re-planning, phase two: the fewest moves from ``previous`` at an unchanged objective."""
    live = [t for t in problem.tasks if not t.frozen and t.id in previous]
    if not live:
        return best
    m = built.model
    m.clear_hints()  # type: ignore[no-untyped-call]
    for tid, v in sorted(best.items()):
        if not by_id[tid].frozen and not isinstance(built.start[tid], int):
            m.add_hint(built.start[tid], v)
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    wc, mk, _ = _value(problem, best, weights)
    m.add(built.objective <= (wc * (h + 1) + mk if weights else mk))
    deviations = []
    for t in live:
        d = m.new_int_var(0, h, f"dev_{t.id}")
        m.add_abs_equality(d, built.start[t.id] - previous[t.id])
        deviations.append(d)
    m.minimize(sum(deviations))
    solver, status = _run(m, clock, max(0.1, clock.left), params.seed, params.workers)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {tid: (v if isinstance(v, int) else int(solver.value(v))) for tid, v in built.start.items()}
    return best


def _lns(
    problem: Problem,
    by_id: Mapping[str, Task],
    h: int,
    best: dict[str, int],
    weights: Mapping[str, int],
    clock: _Clock,
    params: SolveParams,
    bound: float,
    large: bool,
    decoder: ListDecoder | None,
) -> tuple[dict[str, int], int, int, bool]:
    rng = random.Random(params.seed)
    wc, mk, ends0 = _value(problem, best, weights)
    total = sum(ends0.values())  # the tie-break: every task as early as it can (a later step may gain from it)
    steps = improvements = 0
    movable = sorted(t.id for t in problem.tasks if not t.frozen and t.duration > 0)
    if not movable:
        return best, 0, 0, False
    hoods = _pinned_hoods(problem, by_id, rng) if large else None
    plain = _plain(problem)
    size = min(len(movable), 12)
    while clock.left > 0.005 and not clock.over_wall():
        steps += 1
        if large:
            assert hoods is not None
            free = next(hoods)(best)
            hood = _bounds(problem, by_id, h, best, free)
            touched = {by_id[tid].group for tid in free}
            ends = {t.id: best[t.id] + t.duration for t in problem.tasks}
            part = weighted_completion(problem, ends, {g: w for g, w in weights.items() if g in touched})
            built = _build(problem, by_id, h, hood=hood, cap=part * (h + 1) + mk if weights else mk, left_shift=True)
            for tid in sorted(free):
                built.model.add_hint(built.start[tid], best[tid])
            det = min(PINNED_STEP_DT, clock.left)
        else:
            free = _order_hood(problem, best, movable, rng, size, steps)
            arcs = _arcs(problem, by_id, best, free)
            built = _build(problem, by_id, h, arcs=arcs, cap=wc * (h + 1) + mk if weights else mk, left_shift=True)
            for tid, v in sorted(best.items()):
                if not isinstance(built.start[tid], int):
                    built.model.add_hint(built.start[tid], v)
            det = min(LNS_STEP_DT, clock.left)
        solver, status = _run(built.model, clock, det, rng.randrange(1 << 30))
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = dict(best)
            for tid, v in built.start.items():
                if not isinstance(v, int):
                    found[tid] = int(solver.value(v))
            if plain:
                found = justify(problem, found, decoder)
            nwc, nmk, nends = _value(problem, found, weights)
            spread = sum(nends.values())
            gained = (nwc, nmk) < (wc, mk)
            improvements += gained
            # the neighbourhood's size follows how hard its steps are: exhausted without gain → larger, cut off by
            # the step's budget without gain → smaller
            if not gained and status == cp_model.OPTIMAL:
                size = min(len(movable), size + 1)
            elif not gained:
                size = max(4, size - 1)
            if (nwc, nmk, spread) <= (wc, mk, total):
                best, wc, mk, total = found, nwc, nmk, spread
                if (wc * (h + 1) + mk if weights else mk) <= bound:
                    return best, steps, improvements, True
        else:
            size = max(4, size - 1)
    return best, steps, improvements, False


def _order_hood(
    problem: Problem, best: Mapping[str, int], movable: Sequence[str], rng: random.Random, size: int, step: int
) -> frozenset[str]:
    """Random tasks, a time window, or a window on one resource (in turn)."""
    ends = {t.id: best[t.id] + t.duration for t in problem.tasks}
    mk = max(ends.values())
    kind = step % 3
    if kind == 0:
        return frozenset(rng.sample(list(movable), min(size, len(movable))))
    width = max(2, mk * size // max(1, len(movable)))
    if kind == 1:
        a = rng.randrange(0, max(1, mk))
        chosen = [tid for tid in movable if a <= best[tid] < a + width]
    else:
        resources = sorted(problem.capacities)
        res = resources[rng.randrange(len(resources))] if resources else None
        users = [t.id for t in problem.tasks if t.id in set(movable) and res and t.demands.get(res, 0) > 0]
        if not users:
            return frozenset(rng.sample(list(movable), min(size, len(movable))))
        pivot = best[users[rng.randrange(len(users))]]
        chosen = [tid for tid in users if abs(best[tid] - pivot) <= width]
    return frozenset(chosen or rng.sample(list(movable), min(size, len(movable))))


def _arcs(
    problem: Problem, by_id: Mapping[str, Task], best: Mapping[str, int], free: frozenset[str]
) -> list[tuple[str, str]]:
    """The order of the tasks outside the neighbourhood: a before b when a ends by b's start and they share a
    resource (they can all still move earlier)."""
    users: dict[str, list[str]] = defaultdict(list)
    for t in problem.tasks:
        if t.id in free or t.frozen or t.duration == 0:
            continue
        for res, d in t.demands.items():
            if d > 0:
                users[res].append(t.id)
    arcs: set[tuple[str, str]] = set()
    for res in sorted(users):
        ids = sorted(users[res], key=lambda x: (best[x], x))
        starts = [best[x] for x in ids]
        for a in ids:
            ea = best[a] + by_id[a].duration
            # only the arcs the others do not imply: to the tasks starting from a's end until the first of them
            # ends (a later task follows that one, which follows a)
            first = bisect.bisect_left(starts, ea)
            horizon_end = None
            for b in ids[first:]:
                if horizon_end is not None and best[b] >= horizon_end:
                    break
                arcs.add((a, b))
                e = best[b] + by_id[b].duration
                horizon_end = e if horizon_end is None else min(horizon_end, e)
    return sorted(arcs)


def _pinned_hoods(problem: Problem, by_id: Mapping[str, Task], rng: random.Random) -> Any:
    """An endless round of pinned neighbourhoods: areas (runs of communities in priority order), then time windows
    sweeping the plan from its start."""
    weights = problem.group_weights
    groups: dict[str, list[str]] = defaultdict(list)
    for t in problem.tasks:
        if not t.frozen and t.duration > 0:
            groups[t.group or ""].append(t.id)
    order = sorted(groups, key=lambda g: (-weights.get(g, 0), g))
    areas: list[frozenset[str]] = []
    current: list[str] = []
    for g in order:
        current.extend(groups[g])
        if len(current) >= PINNED_TARGET_TASKS:
            areas.append(frozenset(current))
            current = []
    if current:
        areas.append(frozenset(current))

    def area(k: int) -> Any:
        return lambda best: areas[k]

    def window(k: int, count: int) -> Any:
        def pick(best: Mapping[str, int]) -> frozenset[str]:
            live = sorted((best[tid], tid) for ts in groups.values() for tid in ts)
            chunk = max(1, len(live) // count)
            return frozenset(tid for _, tid in live[k * chunk : (k + 1) * chunk + chunk // 2])

        return pick

    def rounds() -> Any:
        while True:
            yield from (area(k) for k in range(len(areas)))
            count = max(1, len(by_id) // PINNED_TARGET_TASKS)
            yield from (window(k, count) for k in range(count))

    return rounds()


def _bounds(
    problem: Problem, by_id: Mapping[str, Task], h: int, best: Mapping[str, int], free: frozenset[str]
) -> _Neighbourhood:
    """Where each free task may go: after its pinned predecessors, before its pinned successors, and no later than
    a window past where it is now."""
    lo = {tid: by_id[tid].earliest_start for tid in free}
    hi = {tid: h - by_id[tid].duration for tid in free}
    starts = [best[tid] for tid in free]
    slack = max(10, (max(starts) - min(starts)) // 2) if starts else 10
    for tid in free:
        hi[tid] = min(hi[tid], best[tid] + slack)
    for link in problem.links:
        p, s = by_id[link.pred], by_id[link.succ]
        if s.id in free and p.id not in free:
            pstart = p.fixed_start if p.fixed_start is not None else best[p.id]
            lo[s.id] = max(lo[s.id], pstart + p.duration + link.lag)
        if p.id in free and s.id not in free and not s.frozen:
            hi[p.id] = min(hi[p.id], best[s.id] - link.lag - p.duration)
    for tid in free:
        lo[tid] = min(lo[tid], best[tid])
        hi[tid] = max(hi[tid], best[tid])
    return _Neighbourhood(free, best, lo, hi)


__all__ = ["FULL_MODEL_TASKS", "Schedule", "SolveParams", "solve"]
