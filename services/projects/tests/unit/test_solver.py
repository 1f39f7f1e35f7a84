"""The search: deterministic for the same input and seed, better than the constructive plan on a district, honest
about a wall-clock cap, with lower bounds that are proven (never above an optimum) and justification that never
lengthens a plan."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projects.domain.catalog import MENU_TO_PACKAGES, FaceKind
from projects.domain.planning import FaceSpec, PlanLink, PlanPackage, build_problem, layout, weights_from_ranks
from projects.domain.scheduling import (
    Link,
    ListDecoder,
    Problem,
    Task,
    check,
    greedy,
    justify,
    local_search,
    serial_sgs,
    weighted_completion,
    weighted_lower_bound,
)
from projects.domain.solver import FULL_MODEL_TASKS, SolveParams, solve

FACES = (
    FaceSpec("L1", "主巷道", FaceKind.LANE, 2),
    FaceSpec("C1", "中心院落", FaceKind.COURTYARD, 2),
    FaceSpec("B1", "1号楼", FaceKind.BUILDING, 1),
)


def district(communities: int, seed: int = 5, crews: int | None = None) -> Problem:
    """Communities of ~12 packages on a lane, a courtyard and a building, ranked, sharing crews."""
    rng = random.Random(seed)
    menu = sorted(MENU_TO_PACKAGES)
    packages, links = [], []
    for c in range(communities):
        codes = [p for item in rng.sample(menu, 6) for p in MENU_TO_PACKAGES[item]]
        lay = layout(codes, FACES)
        ids = [f"c{c}-{k}" for k in range(len(lay.packages))]
        packages += [PlanPackage(i, f"c{c}-{p.face_code}", f"c{c}", p.type_code, p.duration_days)
                     for i, p in zip(ids, lay.packages, strict=True)]  # fmt: skip
        links += [PlanLink(ids[a], ids[b], lag) for a, b, lag in lay.links]
    return build_problem(
        packages, links, crews={}, default_crews=crews or max(1, communities // 10),
        weights=weights_from_ranks({f"c{c}": c + 1 for c in range(communities)}), max_faces_per_community=2,
    )  # fmt: skip


def test_a_district_plan_beats_the_constructive_one_and_states_a_proven_bound():
    problem = district(12)
    # the wall-clock cap far away: what is tested is the deterministic search, whatever the machine's load (the cap
    # has a test of its own below)
    s = solve(problem, SolveParams(time_limit_s=1.5, wall_cap_factor=1000))
    assert check(problem, s.starts) == []
    base = greedy(problem)
    assert base is not None
    base_wc = weighted_completion(
        problem, {t.id: base[t.id] + t.duration for t in problem.tasks}, problem.group_weights
    )
    assert s.initial_weighted_completion == base_wc
    assert s.weighted_completion < base_wc
    assert s.lower_bound is not None and 0 < s.lower_bound <= s.weighted_completion
    assert s.limited_by in ("deterministic_time", None)


def test_large_networks_search_pinned_neighbourhoods_deterministically():
    problem = district(64, crews=6)
    assert len(problem.tasks) > FULL_MODEL_TASKS
    a = solve(problem, SolveParams(time_limit_s=1.0, seed=3, wall_cap_factor=1000))
    b = solve(problem, SolveParams(time_limit_s=1.0, seed=3, wall_cap_factor=1000))
    assert check(problem, a.starts) == []
    assert a.starts == b.starts and a.lns_steps == b.lns_steps and a.deterministic_time == b.deterministic_time
    assert a.lns_steps > 0 and a.weighted_completion <= (a.initial_weighted_completion or 0)


def test_a_wall_clock_cap_is_reported_as_feasible_never_as_a_silent_other_plan():
    problem = district(64, crews=6)
    # a deterministic budget no machine spends within the cap: the wall clock stops the search
    s = solve(problem, SolveParams(time_limit_s=120, wall_cap_factor=0.0))
    assert s.limited_by == "wall_clock" and s.status == "feasible"
    assert check(problem, s.starts) == []


def test_an_easy_network_is_proven_optimal_and_says_nothing_stopped_it():
    p = Problem(tasks=[Task("a", 2, {"r": 1}), Task("b", 3, {"r": 1}), Task("c", 1)], links=[Link("a", "c")],
                capacities={"r": 1})  # fmt: skip
    s = solve(p, SolveParams(time_limit_s=1))
    assert (s.status, s.limited_by, s.makespan) == ("optimal", None, 5)


@st.composite
def small_districts(draw):
    n = draw(st.integers(1, 4))
    tasks, links = [], []
    for c in range(n):
        for f in range(draw(st.integers(1, 2))):
            face = f"c{c}f{f}"
            for k in range(draw(st.integers(1, 3))):
                tasks.append(Task(f"{face}t{k}", draw(st.integers(1, 4)), {draw(st.sampled_from("ab")): 1},
                                  face=face, group=f"c{c}"))  # fmt: skip
            if k >= 1 and draw(st.booleans()):
                links.append(Link(f"{face}t0", f"{face}t1", draw(st.integers(0, 2))))
    weights = {f"c{c}": draw(st.integers(1, 9)) for c in range(n)}
    return Problem(tasks=tasks, links=links, capacities={"a": draw(st.integers(1, 2)), "b": 1},
                   group_weights=weights, max_faces_per_group=1)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_districts())
def test_the_weighted_lower_bound_never_exceeds_an_optimum(problem):
    s = solve(problem, SolveParams(time_limit_s=2, lns=False))
    if s.status == "optimal":
        assert weighted_lower_bound(problem) <= s.weighted_completion
    assert s.lower_bound is None or s.lower_bound <= s.weighted_completion


@st.composite
def rcpsp(draw):
    n = draw(st.integers(2, 12))
    tasks = [Task(f"t{i}", draw(st.integers(0, 5)), {"r": draw(st.integers(0, 3)), "q": draw(st.integers(0, 2))})
             for i in range(n)]  # fmt: skip
    links = [Link(f"t{i}", f"t{j}", draw(st.integers(0, 2))) for i in range(n) for j in range(i + 1, n)
             if draw(st.integers(0, 4)) == 0]  # fmt: skip
    return Problem(tasks=tasks, links=links, capacities={"r": 3, "q": 2})


@settings(max_examples=60, deadline=None)
@given(rcpsp())
def test_serial_sgs_and_justification_keep_every_rule_and_never_lengthen(problem):
    plan = serial_sgs(problem)
    assert plan is not None and check(problem, plan) == []
    justified = justify(problem, plan)
    assert check(problem, justified) == []

    def span(p: dict[str, int]) -> int:
        return max(p[t.id] + t.duration for t in problem.tasks)

    assert span(justified) <= span(plan)


@settings(max_examples=40, deadline=None)
@given(rcpsp(), st.integers(0, 3))
def test_the_activity_list_search_is_seeded_keeps_every_rule_and_never_lengthens(problem, seed):
    plan = justify(problem, serial_sgs(problem))
    decoder = ListDecoder(problem)
    # the index-array decoder is the serial SGS: the same starts for the same activity list
    order = decoder.feasible_order([decoder.index[x] for x in sorted(decoder.ids, key=lambda x: (plan[x], x))])
    assert decoder.as_plan(decoder.decode(order)) == serial_sgs(
        problem, {decoder.ids[j]: (k,) for k, j in enumerate(order)}
    )
    found = local_search(problem, plan, 200, seed, decoder)
    assert check(problem, found) == []
    assert found == local_search(problem, plan, 200, seed)  # the same call (own decoder or not), the same plan

    def span(p: dict[str, int]) -> int:
        return max(p[t.id] + t.duration for t in problem.tasks)

    assert span(found) <= span(plan)
