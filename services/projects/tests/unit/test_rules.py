"""Each planning rule on small cases: the solver respects it and the checker catches its violation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projects.domain.catalog import Kind, Layer
from projects.domain.scheduling import (
    Infeasible,
    InvalidNetwork,
    Link,
    Problem,
    Task,
    check,
    critical_path_length,
    effective_limits,
)
from projects.domain.solver import SolveParams

from .helpers import solve_checked

UG, AG = Layer.UNDERGROUND, Layer.ABOVE_GROUND
SU, HW = Kind.SPECIAL_UTILITY, Kind.HARDWARE


def rules(violations):
    return {v.rule for v in violations}


def test_above_ground_never_starts_before_underground_ends_on_the_same_face():
    p = Problem(
        tasks=[
            Task("pipes", 5, {"plumbing": 1}, face="f", layer=UG, excavates=True),
            Task("greening", 1, {"landscaping": 1}, face="f", layer=AG),
            Task("elsewhere", 1, {"landscaping": 1}, face="g", layer=AG),
        ],
        capacities={"plumbing": 1, "landscaping": 1},
    )
    s = solve_checked(p)
    assert s.starts["greening"] >= 5
    assert s.status == "optimal" and s.makespan == 6
    bad = dict(s.starts, greening=2)
    assert "underground_first" in rules(check(p, bad))


def test_special_utility_works_come_before_hardware_on_a_face():
    p = Problem(
        tasks=[
            Task("risers", 4, {"plumbing": 1}, face="b1", layer=AG, kind=SU),
            Task("facade", 2, {"facade": 1}, face="b1", layer=AG, kind=HW),
        ],
        capacities={"plumbing": 1, "facade": 1},
    )
    s = solve_checked(p)
    assert s.starts["facade"] >= 4
    assert "special_first" in rules(check(p, {"risers": 0, "facade": 1}))


def test_the_dig_window_is_contiguous_even_when_a_gap_would_fit_other_work():
    # e1 -> e2 with a 4-day lag leaves a gap a 2-day task would fill; the face must not be backfilled and re-dug.
    p = Problem(
        tasks=[
            Task("e1", 3, {"drainage": 1}, face="f", excavates=True),
            Task("e2", 3, {"drainage": 1}, face="f", excavates=True),
            Task("n", 2, {"civil": 1}, face="f"),
        ],
        links=[Link("e1", "e2", 4)],
        capacities={"drainage": 1, "civil": 1},
    )
    s = solve_checked(p)
    window = (min(s.starts["e1"], s.starts["e2"]), max(s.ends["e1"], s.ends["e2"]))
    assert s.ends["n"] <= window[0] or s.starts["n"] >= window[1]
    assert rules(check(p, {"e1": 0, "n": 3, "e2": 7})) == {"dig_window"}


def test_a_crew_of_capacity_one_never_runs_two_packages_at_once():
    p = Problem(
        tasks=[Task(f"t{i}", 2 + i, {"gas": 1}) for i in range(4)],
        capacities={"gas": 1},
    )
    s = solve_checked(p)
    spans = sorted((s.starts[t.id], s.ends[t.id]) for t in p.tasks)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert s.makespan == 2 + 3 + 4 + 5
    assert "capacity" in rules(check(p, {"t0": 0, "t1": 1, "t2": 10, "t3": 20}))


def test_cumulative_capacity_two_runs_two_at_once():
    p = Problem(tasks=[Task(f"t{i}", 3, {"civil": 1}) for i in range(4)], capacities={"civil": 2})
    assert solve_checked(p).makespan == 6


def test_at_most_k_faces_of_a_community_are_disturbed_at_once():
    tasks = [Task(f"{f}{i}", 2, {f"crew{f}": 1}, face=f, group="c1") for f in "abc" for i in range(2)]
    p = Problem(tasks=tasks, capacities={"crewa": 1, "crewb": 1, "crewc": 1}, max_faces_per_group=1)
    s = solve_checked(p)
    assert s.makespan == 12  # faces strictly one after another
    free = Problem(tasks=tasks, capacities=p.capacities, max_faces_per_group=3)
    assert solve_checked(free).makespan == 4
    assert "max_faces" in rules(check(p, solve_checked(free).starts))


def test_finish_to_start_links_hold_their_lag():
    p = Problem(
        tasks=[Task("pit", 6, {"civil": 1}), Task("lift", 20, {"elevator": 1})],
        links=[Link("pit", "lift", 7)],
        capacities={"civil": 1, "elevator": 1},
    )
    s = solve_checked(p)
    assert s.starts["lift"] == 13
    assert rules(check(p, {"pit": 0, "lift": 12})) == {"precedence"}
    assert critical_path_length(p) == 33


def test_priority_weighted_completion_orders_communities_then_makespan():
    tasks = [Task(f"{c}-{i}", 3, {"shared": 1}, group=c) for c in ("low", "high") for i in range(2)]
    p = Problem(tasks=tasks, capacities={"shared": 1}, group_weights={"high": 10, "low": 1})
    s = solve_checked(p)
    assert max(s.ends["high-0"], s.ends["high-1"]) == 6
    assert s.makespan == 12 and s.weighted_completion == 10 * 6 + 12


def test_same_input_and_seed_give_the_same_plan():
    tasks = [Task(f"t{i}", 1 + (i * 7) % 5, {"a": 1 + i % 2, "b": 1}, group=f"g{i % 3}") for i in range(25)]
    links = [Link(f"t{i}", f"t{i + 3}") for i in range(0, 20, 2)]
    p = Problem(tasks=tasks, links=links, capacities={"a": 3, "b": 2}, group_weights={"g0": 3, "g1": 2, "g2": 1})
    a = solve_checked(p, SolveParams(time_limit_s=0.5, seed=7, wall_cap_factor=1000))
    b = solve_checked(p, SolveParams(time_limit_s=0.5, seed=7, wall_cap_factor=1000))
    assert a.starts == b.starts and a.objective == b.objective


def test_result_reports_status_bound_and_gap():
    p = Problem(tasks=[Task("a", 2, {"r": 1}), Task("b", 2, {"r": 1})], capacities={"r": 1})
    s = solve_checked(p)
    assert (s.status, s.objective, s.bound, s.gap) == ("optimal", 4, 4.0, 0.0)


def test_frozen_work_stays_and_replanning_keeps_changes_small():
    base = [Task(f"t{i}", 2, {"r": 1}, face=f"f{i % 3}", group="c") for i in range(6)]
    p = Problem(tasks=base, capacities={"r": 2})
    first = solve_checked(p)
    # data date 2: tasks that started before it are frozen; one of them took 2 days longer than planned
    frozen = []
    for t in base:
        st0 = first.starts[t.id]
        if st0 < 2:
            frozen.append(Task(t.id, t.duration + 2, t.demands, face=t.face, group="c", fixed_start=st0))
        else:
            frozen.append(Task(t.id, t.duration, t.demands, face=t.face, group="c", earliest_start=2))
    replan = effective_limits(Problem(tasks=frozen, capacities={"r": 2}), data_date=2)
    s = solve_checked(replan, hint=first.starts, previous=first.starts)
    for t in frozen:
        if t.frozen:
            assert s.starts[t.id] == first.starts[t.id]
        else:
            assert s.starts[t.id] >= 2
    assert s.moved_tasks <= 4


def test_frozen_rules_are_not_held_against_the_plan_but_live_work_is():
    # an above-ground task already started before the pipes (reality); the pipes are still planned
    p = Problem(
        tasks=[
            Task("paving", 3, {"road": 1}, face="f", layer=AG, fixed_start=0),
            Task("pipes", 2, {"plumb": 1}, face="f", layer=UG, excavates=True, earliest_start=1),
            Task("lamps", 1, {"elec": 1}, face="f", layer=AG, earliest_start=1),
        ],
        capacities={"road": 1, "plumb": 1, "elec": 1},
    )
    s = solve_checked(p)
    assert s.starts["lamps"] >= s.ends["pipes"]


def test_demand_above_capacity_and_cycles_are_refused():
    with pytest.raises(Infeasible):
        solve_checked(Problem(tasks=[Task("a", 1, {"r": 2})], capacities={"r": 1}))
    with pytest.raises(InvalidNetwork):
        solve_checked(
            Problem(tasks=[Task("a", 1), Task("b", 1)], links=[Link("a", "b"), Link("b", "a")], capacities={})
        )
    with pytest.raises(InvalidNetwork):
        solve_checked(Problem(tasks=[Task("a", 1, {"ghost": 1})], capacities={}))


@st.composite
def networks(draw):
    n = draw(st.integers(2, 9))
    drafts = []
    for _ in range(n):
        face = draw(st.sampled_from(["f1", "f2", "f3", None]))
        layer = draw(st.sampled_from([UG, AG, None]))
        kind = draw(st.sampled_from([SU, HW, None]))
        drafts.append((face, layer, kind, draw(st.integers(1, 5)), draw(st.sampled_from(["a", "b", "c"]))))
    # links only go forward in (layer, kind) order and stay on a face, so every network has a plan
    rank = {UG: 0, None: 1, AG: 2}
    krank = {SU: 0, None: 1, HW: 2}
    drafts.sort(key=lambda d: (rank[d[1]], krank[d[2]]))
    tasks = [
        Task(f"t{i}", dur, {res: 1}, face=face, group="g" if face else None, layer=layer, kind=kind,
             excavates=layer is UG)
        for i, (face, layer, kind, dur, res) in enumerate(drafts)
    ]  # fmt: skip
    links = [
        Link(a.id, b.id, draw(st.integers(0, 3)))
        for i, a in enumerate(tasks)
        for b in tasks[i + 1 :]
        if a.face == b.face and draw(st.integers(0, 3)) == 0
    ]
    caps = {r: draw(st.integers(1, 2)) for r in "abc"}
    return Problem(tasks=tasks, links=links, capacities=caps, group_weights={"g": 2}, max_faces_per_group=1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_every_random_network_yields_a_plan_that_passes_every_rule(problem):
    s = solve_checked(problem, SolveParams(time_limit_s=0.5))
    assert s.makespan >= critical_path_length(problem)
