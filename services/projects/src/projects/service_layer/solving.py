"""The stateless solver (``POST /v1/solve``): any task network with renewable resources (RCPSP), no records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from projects.domain.scheduling import (
    Link,
    Problem,
    SchedulingError,
    Task,
    check,
    critical_path_length,
)
from projects.domain.solver import Schedule, SolveParams
from projects.service_layer.context import Context
from projects.service_layer.planning import solve_off_loop
from renovation_common.errors import DomainError


@dataclass(frozen=True)
class NetworkTask:
    id: str
    duration: int
    demands: Mapping[str, int] = field(default_factory=dict)
    predecessors: Sequence[tuple[str, int]] = ()  # (task id, lag)


@dataclass(frozen=True)
class Solved:
    schedule: Schedule
    precedence_lower_bound: int


async def solve_network(
    ctx: Context,
    tasks: Sequence[NetworkTask],
    capacities: Mapping[str, int],
    params: SolveParams,
) -> Solved:
    problem = Problem(
        tasks=[Task(t.id, t.duration, dict(t.demands)) for t in tasks],
        links=[Link(pred, t.id, lag) for t in tasks for pred, lag in t.predecessors],
        capacities=dict(capacities),
    )
    try:
        lower = critical_path_length(problem)
        result = await solve_off_loop(ctx, problem, params)
    except SchedulingError as exc:
        raise DomainError(str(exc), code=exc.code, status=422) from None
    violations = check(problem, result.starts)
    if violations:
        raise DomainError(violations[0].detail, code="plan_failed_check", status=500)
    return Solved(result, lower)
