"""Every plan a unit test produces goes through the checker."""

from __future__ import annotations

from collections.abc import Mapping

from projects.domain.scheduling import Problem, check
from projects.domain.solver import Schedule, SolveParams, solve


def solve_checked(
    problem: Problem,
    params: SolveParams = SolveParams(time_limit_s=1.0),
    *,
    hint: Mapping[str, int] | None = None,
    previous: Mapping[str, int] | None = None,
) -> Schedule:
    schedule = solve(problem, params, hint=hint, previous=previous)
    violations = check(problem, schedule.starts)
    assert violations == [], violations
    return schedule
