"""Scheduling core: the task network, the CP-SAT model and the checker of every rule.

Time is in working days (index 0 = the first working day of the calendar); a task occupies ``[start, start + d)``.
The rules (domain brief §2):

* ``precedence``: finish-to-start links with a lag in working days;
* ``capacity``: crews per trade (any renewable resource) are cumulative resources;
* ``underground_first``: on a work face every underground task ends before any above-ground task starts;
* ``special_first``: on a work face every special-utility task ends before any hardware task of the same layer
  starts (across layers, underground first decides);
* ``dig_window``: the excavating tasks of a face lie in one window (their hull) and no non-excavating task of the
  face overlaps it, so the face is never re-opened;
* ``max_faces``: at most ``max_faces_per_group`` faces of a group (community) are disturbed at once, a face being
  disturbed from its first task's start to its last task's end (faces holding only frozen work are history and
  are not counted).

Objective: priority-weighted group completion, then makespan (lexicographic through exact scaling). With no
group weights it is the makespan (plain RCPSP). Deterministic: fixed seed, fixed number of workers and a
deterministic-time budget.

Frozen tasks (re-planning: finished or started work) keep their start; rules whose *later* task is frozen are
not enforced (the plan cannot move it; reality has decided), and capacities are raised to what is already on
site when reality overloaded them. :func:`check` applies exactly the same reading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from projects.domain.catalog import Kind, Layer

MAX_TASKS = 6000
MAX_DURATION = 3650
MAX_WEIGHT = 1000
GREEDY_FROM_TASKS = 150  # larger networks get a constructive plan as hint, horizon and fallback


class SchedulingError(ValueError):
    code = "scheduling_error"


class InvalidNetwork(SchedulingError):
    code = "invalid_network"


class Infeasible(SchedulingError):
    code = "plan_infeasible"


class NoSolutionFound(SchedulingError):
    code = "no_solution_in_time"


@dataclass(frozen=True)
class Task:
    id: str
    duration: int
    demands: Mapping[str, int] = field(default_factory=dict)
    face: str | None = None
    group: str | None = None
    layer: Layer | None = None
    kind: Kind | None = None
    excavates: bool = False
    earliest_start: int = 0
    fixed_start: int | None = None  # frozen task (finished or started work)

    @property
    def frozen(self) -> bool:
        return self.fixed_start is not None


@dataclass(frozen=True)
class Link:
    pred: str
    succ: str
    lag: int = 0


@dataclass(frozen=True)
class Problem:
    tasks: Sequence[Task]
    links: Sequence[Link] = ()
    capacities: Mapping[str, int] = field(default_factory=dict)
    group_weights: Mapping[str, int] = field(default_factory=dict)
    max_faces_per_group: int | None = None


@dataclass(frozen=True)
class SolveParams:
    time_limit_s: float = 2.0
    seed: int = 0
    workers: int = 1
    # Re-planning: keep changes small; share of the time spent minimising the moves from ``previous``.
    stability_share: float = 0.3


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
    limited_by: str | None = None  # deterministic_time | wall_clock | None (optimal)
    deterministic_time: float | None = None


def validate(problem: Problem) -> dict[str, Task]:
    """Structural checks; returns the tasks by id. Raises :class:`InvalidNetwork` or :class:`Infeasible`."""
    if not problem.tasks:
        raise InvalidNetwork("the network has no tasks")
    if len(problem.tasks) > MAX_TASKS:
        raise InvalidNetwork(f"at most {MAX_TASKS} tasks per solve")
    by_id: dict[str, Task] = {}
    for t in problem.tasks:
        if t.id in by_id:
            raise InvalidNetwork(f"task id {t.id!r} appears twice")
        if not 0 <= t.duration <= MAX_DURATION:
            raise InvalidNetwork(f"task {t.id!r}: duration must be 0..{MAX_DURATION}")
        if t.earliest_start < 0 or (t.fixed_start is not None and t.fixed_start < 0):
            raise InvalidNetwork(f"task {t.id!r}: starts are non-negative")
        for res, amount in t.demands.items():
            if amount < 0:
                raise InvalidNetwork(f"task {t.id!r}: negative demand on {res!r}")
            if amount > 0 and res not in problem.capacities:
                raise InvalidNetwork(f"task {t.id!r}: resource {res!r} has no capacity")
            if amount > problem.capacities.get(res, 0) and not t.frozen and t.duration > 0:
                raise Infeasible(f"task {t.id!r} needs {amount} of {res!r}, capacity is {problem.capacities[res]}")
        by_id[t.id] = t
    for cap in problem.capacities.values():
        if cap < 0:
            raise InvalidNetwork("capacities are non-negative")
    for w in problem.group_weights.values():
        if not 0 <= w <= MAX_WEIGHT:
            raise InvalidNetwork(f"group weights are 0..{MAX_WEIGHT}")
    for link in problem.links:
        if link.pred not in by_id or link.succ not in by_id:
            raise InvalidNetwork(f"link {link.pred!r} -> {link.succ!r} names an unknown task")
        if link.pred == link.succ:
            raise InvalidNetwork(f"task {link.pred!r} cannot precede itself")
        if not 0 <= link.lag <= MAX_DURATION:
            raise InvalidNetwork("lags are 0..3650 working days")
    _ensure_acyclic(by_id, problem.links)
    if problem.max_faces_per_group is not None and problem.max_faces_per_group < 1:
        raise InvalidNetwork("max_faces_per_group must be at least 1")
    return by_id


def _ensure_acyclic(tasks: Mapping[str, Task], links: Sequence[Link]) -> None:
    succs: dict[str, list[str]] = defaultdict(list)
    indeg: dict[str, int] = dict.fromkeys(tasks, 0)
    for link in links:
        succs[link.pred].append(link.succ)
        indeg[link.succ] += 1
    ready = [t for t, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        t = ready.pop()
        seen += 1
        for s in succs[t]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if seen != len(tasks):
        raise InvalidNetwork("the precedence links contain a cycle")


def horizon(problem: Problem) -> int:
    first = max((t.fixed_start if t.fixed_start is not None else t.earliest_start) for t in problem.tasks)
    return first + sum(t.duration for t in problem.tasks) + sum(link.lag for link in problem.links) + 1


def _faces(tasks: Iterable[Task]) -> dict[str, list[Task]]:
    faces: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        if t.face is not None:
            faces[t.face].append(t)
    return faces


def _ordered_pairs_sets(face_tasks: list[Task]) -> list[tuple[str, list[Task], list[Task]]]:
    under = [t for t in face_tasks if t.layer is Layer.UNDERGROUND]
    above = [t for t in face_tasks if t.layer is Layer.ABOVE_GROUND]
    out = [("underground_first", under, above)]
    # special works before hardware within a layer (across layers "underground first" already orders them;
    # an underground elevator pit is hardware and still precedes the above-ground water risers)
    for layer in (Layer.UNDERGROUND, Layer.ABOVE_GROUND, None):
        same = [t for t in face_tasks if t.layer is layer]
        special = [t for t in same if t.kind is Kind.SPECIAL_UTILITY]
        hardware = [t for t in same if t.kind is Kind.HARDWARE]
        out.append((f"special_first:{layer.value if layer else 'any'}", special, hardware))
    return out


def _face_group(face_tasks: list[Task]) -> str | None:
    return face_tasks[0].group


# ----------------------------------------------------------------------------------------------------------------
# Solver
# ----------------------------------------------------------------------------------------------------------------


def solve(
    problem: Problem,
    params: SolveParams = SolveParams(),
    *,
    hint: Mapping[str, int] | None = None,
    previous: Mapping[str, int] | None = None,
) -> Schedule:
    """Solve ``problem`` with CP-SAT. ``hint``: starts to try first; ``previous``: keep moves from it small."""
    by_id = validate(problem)
    h = horizon(problem)
    constructive = greedy(problem) if len(problem.tasks) > GREEDY_FROM_TASKS else None
    if constructive is not None:
        h = max(constructive[t.id] + t.duration for t in problem.tasks)  # a feasible plan bounds the horizon
        if hint is None:
            hint = constructive
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    if weights and sum(weights.values()) * h * (h + 1) > 2**62:
        raise InvalidNetwork("the network is too large for the weighted objective")
    model = cp_model.CpModel()
    start: dict[str, Any] = {}
    end: dict[str, Any] = {}
    interval: dict[str, Any] = {}
    for t in problem.tasks:
        if t.fixed_start is not None:
            s: Any = model.new_constant(t.fixed_start)
        else:
            s = model.new_int_var(t.earliest_start, h, f"s_{t.id}")
        start[t.id] = s
        end[t.id] = s + t.duration
        interval[t.id] = model.new_fixed_size_interval_var(s, t.duration, f"i_{t.id}")

    for link in problem.links:
        if not by_id[link.succ].frozen:
            model.add(start[link.succ] >= end[link.pred] + link.lag)

    for res, cap in sorted(problem.capacities.items()):
        users = [t for t in problem.tasks if t.demands.get(res, 0) > 0 and t.duration > 0]
        if not users:
            continue
        if cap == 1 or all(2 * t.demands[res] > cap for t in users):
            model.add_no_overlap([interval[t.id] for t in users])
        else:
            model.add_cumulative([interval[t.id] for t in users], [t.demands[res] for t in users], cap)

    faces = _faces(problem.tasks)
    for face_id, face_tasks in sorted(faces.items()):
        for rule, first, later in _ordered_pairs_sets(face_tasks):
            live_later = [t for t in later if not t.frozen]
            if not first or not live_later:
                continue
            switch = model.new_int_var(0, h, f"sw_{rule.replace(':', '_')}_{face_id}")
            for t in first:
                model.add(end[t.id] <= switch)
            for t in live_later:
                model.add(start[t.id] >= switch)
        digging = [t for t in face_tasks if t.excavates]
        others = [t for t in face_tasks if not t.excavates and not t.frozen and t.duration > 0]
        if digging and others:
            ws = model.new_int_var(0, h, f"ws_{face_id}")
            we = model.new_int_var(0, h, f"we_{face_id}")
            model.add_min_equality(ws, [start[t.id] for t in digging])
            model.add_max_equality(we, [end[t.id] for t in digging])
            window = model.new_interval_var(ws, model.new_int_var(0, h, f"wl_{face_id}"), we, f"dig_{face_id}")
            for t in others:
                model.add_no_overlap([window, interval[t.id]])

    if problem.max_faces_per_group is not None:
        spans_by_group: dict[str, list[Any]] = defaultdict(list)
        for face_id, face_tasks in sorted(faces.items()):
            group = _face_group(face_tasks)
            if group is None or all(t.frozen for t in face_tasks):
                continue  # frozen-only faces are history, not the plan's choice
            fs = model.new_int_var(0, h, f"fs_{face_id}")
            fe = model.new_int_var(0, h, f"fe_{face_id}")
            for t in face_tasks:
                model.add(fs <= start[t.id])
                model.add(fe >= end[t.id])
            spans_by_group[group].append(
                model.new_interval_var(fs, model.new_int_var(0, h, f"fl_{face_id}"), fe, f"span_{face_id}")
            )
        for _group, spans in sorted(spans_by_group.items()):
            if len(spans) > problem.max_faces_per_group:
                model.add_cumulative(spans, [1] * len(spans), problem.max_faces_per_group)

    makespan = model.new_int_var(0, h, "makespan")
    model.add_max_equality(makespan, [end[t.id] for t in problem.tasks])
    completion: dict[str, Any] = {}
    for g in sorted(weights):
        completion[g] = model.new_int_var(0, h, f"c_{g}")
    for t in problem.tasks:
        if t.group in completion:
            model.add(completion[t.group] >= end[t.id])
    weighted = sum(weights[g] * completion[g] for g in sorted(completion))
    objective: Any = weighted * (h + 1) + makespan if completion else makespan
    model.minimize(objective)

    if hint:
        for tid, value in sorted(hint.items()):
            if tid in start and not by_id[tid].frozen:
                model.add_hint(start[tid], max(by_id[tid].earliest_start, min(value, h)))

    solver = _solver(params, params.time_limit_s * ((1 - params.stability_share) if previous else 1))
    status = solver.solve(model)
    wall = solver.wall_time
    if status == cp_model.INFEASIBLE:
        raise Infeasible("no plan satisfies every rule (check capacities, links and fixed work)")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if constructive is None:
            raise NoSolutionFound("no plan found within the time limit")
        ends = {t.id: constructive[t.id] + t.duration for t in problem.tasks}
        return Schedule(
            starts=dict(constructive), ends=ends, status="feasible", objective=-1,
            bound=float(solver.best_objective_bound), gap=1.0, makespan=max(ends.values()),
            weighted_completion=_weighted_completion(problem, ends, weights), wall_time_s=round(wall, 3),
        )  # fmt: skip
    best = int(solver.objective_value)
    bound = float(solver.best_objective_bound)
    status_name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    values = {tid: int(solver.value(v)) for tid, v in start.items()}
    moved, shift = 0, 0
    if previous:
        live = [t for t in problem.tasks if not t.frozen and t.id in previous]
        if live:
            model.clear_hints()  # type: ignore[no-untyped-call]
            for tid, v in sorted(values.items()):
                if not by_id[tid].frozen:
                    model.add_hint(start[tid], v)
            model.add(objective <= best)
            deviations = []
            for t in live:
                d = model.new_int_var(0, h, f"dev_{t.id}")
                model.add_abs_equality(d, start[t.id] - previous[t.id])
                deviations.append(d)
            model.minimize(sum(deviations))
            solver2 = _solver(params, max(0.1, params.time_limit_s * params.stability_share))
            status2 = solver2.solve(model)
            wall += solver2.wall_time
            if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                values = {tid: int(solver2.value(v)) for tid, v in start.items()}
        moved = sum(1 for t in live if values[t.id] != previous[t.id])
        shift = sum(abs(values[t.id] - previous[t.id]) for t in live)
    ends = {t.id: values[t.id] + t.duration for t in problem.tasks}
    mk = max(ends.values())
    wc = _weighted_completion(problem, ends, weights)
    gap = 0.0 if status_name == "optimal" else max(0.0, (best - bound) / max(1.0, abs(best)))
    return Schedule(
        starts=values,
        ends=ends,
        status=status_name,
        objective=best,
        bound=bound,
        gap=round(gap, 6),
        makespan=mk,
        weighted_completion=wc,
        wall_time_s=round(wall, 3),
        moved_tasks=moved,
        total_shift_days=shift,
    )


def greedy(problem: Problem) -> dict[str, int] | None:
    """A rule-respecting constructive plan (hint and horizon for CP-SAT; fallback when it finds none in time).

    Communities by weight, faces of a community one after another, packages of a face one after another in rule
    order (layer, kind, excavating first), each at the earliest start its links and crews allow. ``None`` when the
    result breaks a rule (links against the rule order) or when tasks are frozen.
    """
    if any(t.frozen for t in problem.tasks):
        return None
    by_id = {t.id: t for t in problem.tasks}
    preds: dict[str, list[Link]] = defaultdict(list)
    for link in problem.links:
        preds[link.succ].append(link)
    layer_rank = {Layer.UNDERGROUND: 0, None: 1, Layer.ABOVE_GROUND: 2}
    kind_rank = {Kind.SPECIAL_UTILITY: 0, None: 1, Kind.HARDWARE: 2}
    topo = {tid: i for i, tid in enumerate(_topological(by_id, problem.links))}
    faces = _faces(problem.tasks)
    groups: dict[str | None, list[str]] = defaultdict(list)
    for face_id, face_tasks in faces.items():
        groups[_face_group(face_tasks)].append(face_id)
    weights = problem.group_weights
    order: list[str] = []
    for group in sorted(groups, key=lambda g: (-weights.get(g or "", 0), g or "")):
        for face_id in sorted(groups[group]):
            order.extend(
                t.id
                for t in sorted(
                    faces[face_id],
                    key=lambda t: (layer_rank[t.layer], kind_rank[t.kind], not t.excavates, topo[t.id]),
                )
            )
    order.extend(sorted((t.id for t in problem.tasks if t.face is None), key=lambda tid: topo[tid]))
    h = horizon(problem)
    usage = {r: [0] * (h + 1) for r in problem.capacities}
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    face_free: dict[str, int] = defaultdict(int)
    group_free: dict[str | None, int] = defaultdict(int)
    face_open: dict[str, bool] = {}
    pending = list(order)
    placed: set[str] = set()
    guard = 0
    while pending:
        guard += 1
        if guard > len(order) * 4:
            return None
        tid = next((x for x in pending if all(link.pred in placed for link in preds[x])), None)
        if tid is None:
            return None
        pending.remove(tid)
        t = by_id[tid]
        ready = max([t.earliest_start, *(end[link.pred] + link.lag for link in preds[tid])])
        if t.face is not None:
            ready = max(ready, face_free[t.face])
            if problem.max_faces_per_group is not None and not face_open.get(t.face):
                ready = max(ready, group_free[t.group])
        at = ready
        while True:
            clash = next(
                (
                    k
                    for r, d in t.demands.items()
                    if d > 0
                    for k in range(at, at + t.duration)
                    if usage[r][k] + d > problem.capacities[r]
                ),
                None,
            )
            if clash is None:
                break
            at = clash + 1
            if at + t.duration > h:
                return None
        for r, d in t.demands.items():
            for k in range(at, at + t.duration):
                usage[r][k] += d
        start[tid], end[tid] = at, at + t.duration
        placed.add(tid)
        if t.face is not None:
            face_free[t.face] = end[tid]
            face_open[t.face] = True
            if problem.max_faces_per_group is not None and all(x.id in placed for x in faces[t.face]):
                group_free[t.group] = max(group_free[t.group], end[tid])
    return start if not check(problem, start) else None


def _topological(tasks: Mapping[str, Task], links: Sequence[Link]) -> list[str]:
    succs: dict[str, list[str]] = defaultdict(list)
    indeg: dict[str, int] = dict.fromkeys(tasks, 0)
    for link in links:
        succs[link.pred].append(link.succ)
        indeg[link.succ] += 1
    ready = sorted((t for t, d in indeg.items() if d == 0), reverse=True)
    out: list[str] = []
    while ready:
        t = ready.pop()
        out.append(t)
        for s2 in succs[t]:
            indeg[s2] -= 1
            if indeg[s2] == 0:
                ready.append(s2)
    return out


def _solver(params: SolveParams, seconds: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = params.seed
    solver.parameters.num_workers = max(1, params.workers)
    solver.parameters.max_deterministic_time = max(0.05, seconds)
    solver.parameters.max_time_in_seconds = max(0.1, 2 * seconds)
    return solver


def _weighted_completion(problem: Problem, ends: Mapping[str, int], weights: Mapping[str, int]) -> int:
    completion: dict[str, int] = {}
    for t in problem.tasks:
        if t.group is not None and t.group in weights:
            completion[t.group] = max(completion.get(t.group, 0), ends[t.id])
    return sum(weights[g] * c for g, c in completion.items())


# ----------------------------------------------------------------------------------------------------------------
# Checker
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str


def check(problem: Problem, starts: Mapping[str, int]) -> list[Violation]:
    """Every rule on any plan: returns the violations (empty list = the plan is valid)."""
    out: list[Violation] = []
    tasks = list(problem.tasks)
    by_id = {t.id: t for t in tasks}
    missing = [t.id for t in tasks if t.id not in starts]
    if missing:
        return [Violation("complete", f"no start for {len(missing)} task(s), e.g. {missing[0]!r}")]
    end = {t.id: starts[t.id] + t.duration for t in tasks}
    for t in tasks:
        if t.fixed_start is not None and starts[t.id] != t.fixed_start:
            out.append(Violation("fixed", f"{t.id} moved from its fixed start {t.fixed_start}"))
        if t.fixed_start is None and starts[t.id] < t.earliest_start:
            out.append(Violation("release", f"{t.id} starts at {starts[t.id]} before {t.earliest_start}"))
    for link in problem.links:
        if by_id[link.succ].frozen:
            continue
        if starts[link.succ] < end[link.pred] + link.lag:
            out.append(Violation("precedence", f"{link.succ} starts before {link.pred} ends + {link.lag}"))
    for res, cap in sorted(problem.capacities.items()):
        peak, at = _peak([(starts[t.id], end[t.id], t.demands.get(res, 0)) for t in tasks])
        if peak > cap:
            out.append(Violation("capacity", f"{res}: {peak} in use at day {at}, capacity {cap}"))
    faces = _faces(tasks)
    for face_id, face_tasks in sorted(faces.items()):
        for rule, first, later in _ordered_pairs_sets(face_tasks):
            for b in later:
                if b.frozen:
                    continue
                for a in first:
                    if end[a.id] > starts[b.id]:
                        name = rule.split(":", 1)[0]
                        out.append(Violation(name, f"face {face_id}: {b.id} starts before {a.id} ends"))
        digging = [t for t in face_tasks if t.excavates]
        if digging:
            ws = min(starts[t.id] for t in digging)
            we = max(end[t.id] for t in digging)
            for t in face_tasks:
                if t.excavates or t.frozen or t.duration == 0:
                    continue
                if starts[t.id] < we and end[t.id] > ws:
                    out.append(Violation("dig_window", f"face {face_id}: {t.id} overlaps the dig window [{ws},{we})"))
    if problem.max_faces_per_group is not None:
        spans: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for face_tasks in faces.values():
            group = _face_group(face_tasks)
            if group is not None and not all(t.frozen for t in face_tasks):
                spans[group].append((min(starts[t.id] for t in face_tasks), max(end[t.id] for t in face_tasks), 1))
        for group, items in sorted(spans.items()):
            peak, at = _peak(items)
            if peak > problem.max_faces_per_group:
                out.append(Violation("max_faces", f"group {group}: {peak} faces disturbed at day {at}"))
    return out


def _peak(items: Iterable[tuple[int, int, int]]) -> tuple[int, int]:
    events: list[tuple[int, int]] = []
    for s, e, d in items:
        if d > 0 and e > s:
            events.append((s, d))
            events.append((e, -d))
    events.sort(key=lambda x: (x[0], x[1]))  # ends (negative) before starts at the same time
    load, peak, at = 0, 0, 0
    for time, delta in events:
        load += delta
        if load > peak:
            peak, at = load, time
    return peak, at


def critical_path_length(problem: Problem) -> int:
    """Precedence-only lower bound on the makespan (ignores resources and face rules)."""
    by_id = validate(problem)
    succs: dict[str, list[Link]] = defaultdict(list)
    indeg: dict[str, int] = dict.fromkeys(by_id, 0)
    for link in problem.links:
        succs[link.pred].append(link)
        indeg[link.succ] += 1
    es = {t.id: (t.fixed_start if t.fixed_start is not None else t.earliest_start) for t in problem.tasks}
    ready = [tid for tid, d in indeg.items() if d == 0]
    while ready:
        tid = ready.pop()
        for link in succs[tid]:
            es[link.succ] = max(es[link.succ], es[tid] + by_id[tid].duration + link.lag)
            indeg[link.succ] -= 1
            if indeg[link.succ] == 0:
                ready.append(link.succ)
    return max(es[t.id] + t.duration for t in problem.tasks)


def effective_limits(problem: Problem, data_date: int) -> Problem:
    """Re-planning: raise capacities / the face limit to what frozen work already holds (reality wins)."""
    caps = dict(problem.capacities)
    frozen = [t for t in problem.tasks if t.frozen]
    for res in caps:
        peak, _ = _peak(
            [(t.fixed_start or 0, (t.fixed_start or 0) + t.duration, t.demands.get(res, 0)) for t in frozen]
        )
        caps[res] = max(caps[res], peak)
    limit = problem.max_faces_per_group
    if limit is not None:
        open_by_group: dict[str, int] = defaultdict(int)
        for face_tasks in _faces(problem.tasks).values():
            group = _face_group(face_tasks)
            fz = [t for t in face_tasks if t.frozen]
            if group is None or not fz:
                continue
            crosses = any((t.fixed_start or 0) + t.duration > data_date for t in fz)
            has_live = any(not t.frozen for t in face_tasks)
            if crosses or has_live:
                open_by_group[group] += 1
        limit = max([limit, *open_by_group.values()])
    return Problem(
        tasks=problem.tasks,
        links=problem.links,
        capacities=caps,
        group_weights=problem.group_weights,
        max_faces_per_group=limit,
    )


__all__ = [
    "Infeasible",
    "InvalidNetwork",
    "Link",
    "NoSolutionFound",
    "Problem",
    "Schedule",
    "SchedulingError",
    "SolveParams",
    "Task",
    "Violation",
    "check",
    "critical_path_length",
    "effective_limits",
    "horizon",
    "solve",
]
