"""Parser of PSPLIB single-mode ``.sm`` files into a :class:`~projects.domain.scheduling.Problem`."""

from __future__ import annotations

import re

from projects.domain.scheduling import Link, Problem, Task


def parse_sm(text: str) -> Problem:
    lines = text.splitlines()

    def section(title: str) -> int:
        for i, line in enumerate(lines):
            if line.strip().startswith(title):
                return i
        raise ValueError(f"section {title!r} missing")

    jobs = int(re.search(r"jobs \(incl\. supersource/sink \):\s*(\d+)", text).group(1))  # type: ignore[union-attr]
    prec = section("PRECEDENCE RELATIONS:") + 2
    links: list[Link] = []
    for line in lines[prec : prec + jobs]:
        f = [int(x) for x in line.split()]
        job, n_succ = f[0], f[2]
        links.extend(Link(str(job), str(s)) for s in f[3 : 3 + n_succ])
    req = section("REQUESTS/DURATIONS:") + 3
    tasks: list[Task] = []
    for line in lines[req : req + jobs]:
        f = [int(x) for x in line.split()]
        job, duration, demands = f[0], f[2], f[3:]
        tasks.append(Task(str(job), duration, {f"R{k + 1}": d for k, d in enumerate(demands) if d > 0}))
    avail = section("RESOURCEAVAILABILITIES:") + 2
    caps = [int(x) for x in lines[avail].split()]
    return Problem(tasks=tasks, links=links, capacities={f"R{k + 1}": c for k, c in enumerate(caps)})


def parse_reference(text: str) -> dict[tuple[int, int], int]:
    """``j30opt.sm`` / ``j60hrs.sm``: (parameter group, instance) -> makespan (first integer after the pair)."""
    out: dict[tuple[int, int], int] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 3 and f[0].isdigit() and f[1].isdigit() and f[2].isdigit():
            out[(int(f[0]), int(f[1]))] = int(f[2])
    return out
