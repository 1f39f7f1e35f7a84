"""Scheduling core: the task network, the checker of every rule, constructive plans and lower bounds.

The CP-SAT model and the search on it are in :mod:`projects.domain.solver`.

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
group weights it is the makespan (plain RCPSP).

Frozen tasks (re-planning: finished or started work) keep their start; rules whose *later* task is frozen are
not enforced (the plan cannot move it; reality has decided), and capacities are raised to what is already on
site when reality overloaded them. :func:`check` applies exactly the same reading.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from projects.domain.catalog import Kind, Layer

MAX_TASKS = 6000
MAX_DURATION = 3650
MAX_WEIGHT = 1000


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


def faces_of(tasks: Iterable[Task]) -> dict[str, list[Task]]:
    faces: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        if t.face is not None:
            faces[t.face].append(t)
    return faces


def ordered_sets(face_tasks: list[Task]) -> list[tuple[str, list[Task], list[Task]]]:
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


def face_group(face_tasks: list[Task]) -> str | None:
    return face_tasks[0].group


# ----------------------------------------------------------------------------------------------------------------
# Constructive plans (the baseline, the first incumbent of the solver, its fallback)
# ----------------------------------------------------------------------------------------------------------------


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
    topo = {tid: i for i, tid in enumerate(topological(by_id, problem.links))}
    faces = faces_of(problem.tasks)
    groups: dict[str | None, list[str]] = defaultdict(list)
    for face_id, face_tasks in faces.items():
        groups[face_group(face_tasks)].append(face_id)
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


def topological(tasks: Mapping[str, Task], links: Sequence[Link]) -> list[str]:
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


def weighted_completion(problem: Problem, ends: Mapping[str, int], weights: Mapping[str, int]) -> int:
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


def serial_sgs(problem: Problem, priority: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, int] | None:
    """Serial schedule-generation scheme: tasks in precedence order, the eligible one of lowest ``priority`` first
    (latest finish time by default), each at the earliest start its links and resources allow. Ignores faces and
    groups (the plain RCPSP; :func:`greedy` is the one that keeps the face rules). ``None`` with frozen tasks."""
    if any(t.frozen for t in problem.tasks):
        return None
    by_id = {t.id: t for t in problem.tasks}
    preds: dict[str, list[Link]] = defaultdict(list)
    succs: dict[str, list[Link]] = defaultdict(list)
    for link in problem.links:
        preds[link.succ].append(link)
        succs[link.pred].append(link)
    h = horizon(problem)
    if priority is None:
        lft: dict[str, int] = {}
        for tid in reversed(topological(by_id, problem.links)):
            lft[tid] = min([h, *(lft[k.succ] - by_id[k.succ].duration - k.lag for k in succs[tid])])
        priority = {tid: (v, i) for i, (tid, v) in enumerate(sorted(lft.items()))}
    usage = {r: [0] * (h + 1) for r in problem.capacities}
    start: dict[str, int] = {}
    waiting = {t.id: len(preds[t.id]) for t in problem.tasks}
    eligible = sorted((tid for tid, n in waiting.items() if n == 0), key=lambda x: priority[x])
    while eligible:
        tid = eligible.pop(0)
        t = by_id[tid]
        at = max([t.earliest_start, *(start[k.pred] + by_id[k.pred].duration + k.lag for k in preds[tid])])
        demands = [(usage[r], d, problem.capacities[r]) for r, d in t.demands.items() if d > 0]
        while True:
            clash = next((k for row, d, cap in demands for k in range(at, at + t.duration) if row[k] + d > cap), None)
            if clash is None:
                break
            at = clash + 1
            if at + t.duration > h:
                return None
        for row, d, _cap in demands:
            for k in range(at, at + t.duration):
                row[k] += d
        start[tid] = at
        for out in succs[tid]:
            waiting[out.succ] -= 1
            if waiting[out.succ] == 0:
                eligible.append(out.succ)
        eligible.sort(key=lambda x: priority[x])
    return start


class ListDecoder:
    """The serial schedule-generation scheme on index arrays, for the activity-list search of a plain RCPSP:
    decoding and forward-backward justification without dictionaries (built once per problem, reused for
    thousands of schedules). Faces, groups and frozen tasks are not looked at."""

    def __init__(self, problem: Problem) -> None:
        self.ids = [t.id for t in problem.tasks]
        index = {tid: i for i, tid in enumerate(self.ids)}
        resources = sorted(problem.capacities)
        res_index = {r: k for k, r in enumerate(resources)}
        self.caps = [problem.capacities[r] for r in resources]
        self.dur = [t.duration for t in problem.tasks]
        self.es = [t.earliest_start for t in problem.tasks]
        self.dem = [
            [(res_index[r], d) for r, d in sorted(t.demands.items()) if d > 0] if t.duration > 0 else []
            for t in problem.tasks
        ]
        n = len(self.ids)
        self.preds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        self.succs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for link in problem.links:
            a, b = index[link.pred], index[link.succ]
            self.preds[b].append((a, link.lag))
            self.succs[a].append((b, link.lag))
        self.pred_sets = [frozenset(a for a, _ in p) for p in self.preds]
        self.succ_sets = [frozenset(b for b, _ in q) for q in self.succs]
        topo = {tid: i for i, tid in enumerate(topological({t.id: t for t in problem.tasks}, problem.links))}
        self.topo = [topo[tid] for tid in self.ids]
        self.horizon = horizon(problem)
        self.index = index

    def _place(self, order: Sequence[int], before: list[list[tuple[int, int]]], release: Sequence[int]) -> list[int]:
        """Each task of ``order`` at the earliest time its ``before`` tasks (finish + lag) and the resources
        allow; the times are on the axis of ``before`` (forward: starts; backward: time from the end)."""
        dur, dem = self.dur, self.dem
        size = self.horizon + max(dur, default=0) + 2
        free = [[c] * size for c in self.caps]
        fin = [0] * len(dur)
        at = [0] * len(dur)
        for j in order:
            t = release[j]
            for p, lag in before[j]:
                v = fin[p] + lag
                if v > t:
                    t = v
            d = dur[j]
            need = dem[j]
            if need:
                moved = True
                while moved:
                    moved = False
                    for r, q in need:
                        row = free[r]
                        for k in range(t + d - 1, t - 1, -1):
                            if row[k] < q:
                                t = k + 1
                                moved = True
                                break
                        if moved:
                            break
                    if t + d >= size:  # cannot happen for a valid network (the horizon holds every task in a row)
                        raise InvalidNetwork("the schedule does not fit the horizon")
                for r, q in need:
                    row = free[r]
                    for k in range(t, t + d):
                        row[k] -= q
            at[j] = t
            fin[j] = t + d
        return at

    def feasible_order(self, order: Sequence[int]) -> list[int]:
        """``order`` with every task after its predecessors: at each place the first task of ``order`` whose
        predecessors are all placed (a precedence-feasible list is returned unchanged)."""
        where = {j: k for k, j in enumerate(order)}
        waiting = [len(p) for p in self.pred_sets]
        ready = [(where[j], j) for j in order if waiting[j] == 0]
        heapq.heapify(ready)
        out: list[int] = []
        while ready:
            _, j = heapq.heappop(ready)
            out.append(j)
            for b in self.succ_sets[j]:
                waiting[b] -= 1
                if waiting[b] == 0:
                    heapq.heappush(ready, (where[b], b))
        return out

    def decode(self, order: Sequence[int]) -> list[int]:
        """Starts of the activity list ``order`` (precedence-feasible), serial SGS."""
        return self._place(order, self.preds, self.es)

    def justify(self, starts: Sequence[int]) -> list[int]:
        """Forward-backward improvement: every task as late as it can (last finish first), then as early as it
        can (first start first). Never longer."""
        dur, topo = self.dur, self.topo
        n = len(dur)
        mk = max(starts[j] + dur[j] for j in range(n))
        back_order = sorted(range(n), key=lambda j: (-(starts[j] + dur[j]), -topo[j]))
        rev = self._place(back_order, self.succs, [0] * n)
        late = [mk - rev[j] - dur[j] for j in range(n)]
        if min(late) < 0:  # cannot happen (each task fits at least where it was); justify forward only
            late = list(starts)
        fwd = self._place(sorted(range(n), key=lambda j: (late[j], topo[j])), self.preds, self.es)
        return fwd if max(fwd[j] + dur[j] for j in range(n)) <= mk else list(starts)

    def as_plan(self, starts: Sequence[int]) -> dict[str, int]:
        return dict(zip(self.ids, starts, strict=True))

    def of_plan(self, plan: Mapping[str, int]) -> list[int]:
        return [plan[tid] for tid in self.ids]


def justify(problem: Problem, starts: Mapping[str, int], decoder: ListDecoder | None = None) -> dict[str, int]:
    """Forward-backward improvement (double justification) of a plain RCPSP plan: every task as late as its
    successors and resources allow (last first), then as early as possible (first first). Never longer; often
    shorter. Faces and groups are not looked at: only for networks without them (and without frozen tasks)."""
    dec = decoder or ListDecoder(problem)
    return dec.as_plan(dec.justify(dec.of_plan(starts)))


def local_search(
    problem: Problem, plan: Mapping[str, int], schedules: int, seed: int = 0, decoder: ListDecoder | None = None
) -> dict[str, int]:
    """Iterated local search on activity lists for a plain RCPSP: move one to three tasks of the incumbent's order
    to another place their links allow, decode with the serial SGS, justify, keep it when no longer (now and then a
    longer one, to wander; the best is kept). ``schedules`` decodes, seeded: the same call gives the same plan."""
    rng = random.Random(seed)
    dec = decoder or ListDecoder(problem)
    dur, preds, succs = dec.dur, dec.pred_sets, dec.succ_sets
    n = len(dur)

    def span(p: Sequence[int]) -> int:
        return max(p[j] + dur[j] for j in range(n))

    current = dec.of_plan(plan)
    current_span = span(current)
    best, best_span = list(current), current_span
    ids = dec.ids
    for k in range(1, schedules + 1):
        # (start, id) is precedence-feasible unless a zero-length task and its successor start together
        order = dec.feasible_order(sorted(range(n), key=lambda x: (current[x], ids[x])))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(n)
            tid = order.pop(i)
            where = {x: j for j, x in enumerate(order)}
            lo = max([where[q] + 1 for q in preds[tid]] + [0])
            hi = min([where[q] for q in succs[tid]] + [n - 1])
            order.insert(rng.randint(lo, hi) if hi >= lo else i, tid)
        candidate = dec.justify(dec.decode(order))
        length = span(candidate)
        if length <= current_span or rng.random() < 0.05:
            current, current_span = candidate, length
            if length < best_span:
                best, best_span = list(candidate), length
        if k % 500 == 0 and current_span > best_span:
            current, current_span = list(best), best_span
    return dec.as_plan(best)


def _face_arcs(face_tasks: Sequence[Task], links: Sequence[Link]) -> dict[str, list[tuple[str, int]]]:
    """The orders a face imposes on its tasks: its links (with lags) and its rules (underground before above
    ground, special works before hardware)."""
    ids = {t.id for t in face_tasks}
    arcs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for link in links:
        if link.pred in ids and link.succ in ids:
            arcs[link.pred].append((link.succ, link.lag))
    for _rule, first, later in ordered_sets(list(face_tasks)):
        for before in first:
            for after in later:
                arcs[before.id].append((after.id, 0))
    return arcs


def face_chain_bound(face_tasks: Sequence[Task], links: Sequence[Link]) -> int:
    """A lower bound on how long a face is disturbed: the longest chain through its links and the order its rules
    impose, crews ignored."""
    return max(_face_tails(face_tasks, links).values(), default=0)


def _face_tails(face_tasks: Sequence[Task], links: Sequence[Link]) -> dict[str, int]:
    """For each task of a face, the longest chain from its start to the end of the face's work (itself included)."""
    by_id = {t.id: t for t in face_tasks}
    arcs = _face_arcs(face_tasks, links)
    order = topological(by_id, [Link(a, b, lag) for a, out in arcs.items() for b, lag in out])
    tail = {tid: by_id[tid].duration for tid in by_id}
    for tid in reversed(order):
        for b, lag in arcs[tid]:
            tail[tid] = max(tail[tid], by_id[tid].duration + lag + tail[b])
    return tail


def weighted_lower_bound(problem: Problem) -> int:
    """A proven lower bound on the priority-weighted completion Σ w·C of the groups (0 without weights).

    The larger of two relaxations: (1) each group alone, crews ignored: it ends no earlier than its longest face
    chain, nor before its faces' chains fit through ``max_faces_per_group`` faces at a time; (2) each trade alone:
    its crews as one machine of that speed, work preemptible — Smith's rule (weight over work, largest first) is
    optimal there, and a group ends no earlier than its work on that trade.
    """
    weights = {g: w for g, w in problem.group_weights.items() if w > 0}
    if not weights or any(t.frozen for t in problem.tasks):
        return 0
    by_group_face: dict[str, dict[str, list[Task]]] = defaultdict(lambda: defaultdict(list))
    loose: dict[str, list[Task]] = defaultdict(list)
    for t in problem.tasks:
        if t.group in weights:
            if t.face is not None:
                by_group_face[t.group][t.face].append(t)
            else:
                loose[t.group].append(t)
    cp_by_task = _earliest_finishes(problem)
    lb1 = 0
    for g, w in weights.items():
        chains = [face_chain_bound(ts, problem.links) for ts in by_group_face[g].values()]
        k = problem.max_faces_per_group or max(1, len(chains))
        own = max([0, *chains, -(-sum(chains) // k)])
        tasks_of_g = [t for ts in by_group_face[g].values() for t in ts] + loose[g]
        own = max([own, *(cp_by_task[t.id] for t in tasks_of_g)])
        lb1 += w * own
    after: dict[str, int] = {}  # per task: time its face still needs after the task ends
    for faces in by_group_face.values():
        for ts in faces.values():
            tails = _face_tails(ts, problem.links)
            after.update({t.id: tails[t.id] - t.duration for t in ts})
    lb2 = 0
    for res, cap in problem.capacities.items():
        if cap <= 0:
            continue
        work: dict[str, int] = defaultdict(int)
        tail: dict[str, int] = {}
        for t in problem.tasks:
            if t.group in weights and t.demands.get(res, 0) > 0:
                work[t.group] += t.duration * t.demands[res]
                tail[t.group] = min(tail.get(t.group, after.get(t.id, 0)), after.get(t.id, 0))
        done = 0
        total = 0  # Σ w·(work done by the group's end), over ``cap``: the relaxation's value, kept exact
        for g in sorted(work, key=lambda g: (-weights[g] / work[g], g)):
            done += work[g]
            total += weights[g] * done
        lb2 = max(lb2, -(-total // cap) + sum(weights[g] * tail[g] for g in work))
    return max(lb1, lb2)


def _earliest_finishes(problem: Problem) -> dict[str, int]:
    """Earliest finish of every task through the links alone (releases and fixed starts included)."""
    by_id = {t.id: t for t in problem.tasks}
    succs: dict[str, list[Link]] = defaultdict(list)
    for link in problem.links:
        succs[link.pred].append(link)
    es = {t.id: (t.fixed_start if t.fixed_start is not None else t.earliest_start) for t in problem.tasks}
    for tid in topological(by_id, problem.links):
        for link in succs[tid]:
            es[link.succ] = max(es[link.succ], es[tid] + by_id[tid].duration + link.lag)
    return {tid: es[tid] + by_id[tid].duration for tid in by_id}


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
    faces = faces_of(tasks)
    for face_id, face_tasks in sorted(faces.items()):
        for rule, first, later in ordered_sets(face_tasks):
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
            group = face_group(face_tasks)
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
        for face_tasks in faces_of(problem.tasks).values():
            group = face_group(face_tasks)
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
    "ListDecoder",
    "NoSolutionFound",
    "Problem",
    "SchedulingError",
    "Task",
    "Violation",
    "check",
    "critical_path_length",
    "effective_limits",
    "face_chain_bound",
    "greedy",
    "horizon",
    "justify",
    "local_search",
    "serial_sgs",
    "weighted_completion",
    "weighted_lower_bound",
]
