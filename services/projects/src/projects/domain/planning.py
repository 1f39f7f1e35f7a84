"""From projects (faces and packages) to a scheduling problem, and back to dates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from projects.domain.catalog import DEFAULT_LINKS, FaceKind, package_type
from projects.domain.scheduling import Link, Problem, Task

MAX_FACES_PER_PROJECT = 60
MAX_PACKAGES_PER_PROJECT = 400


@dataclass(frozen=True)
class FaceSpec:
    code: str
    name: str
    kind: FaceKind
    size: int = 1


@dataclass(frozen=True)
class PackageSpec:
    face_code: str
    type_code: str
    duration_days: int


@dataclass(frozen=True)
class Layout:
    faces: tuple[FaceSpec, ...]
    packages: tuple[PackageSpec, ...]
    links: tuple[tuple[int, int, int], ...]  # (pred index, succ index, lag) into ``packages``


def default_faces(buildings: int = 2) -> tuple[FaceSpec, ...]:
    faces = [FaceSpec("L1", "主巷道", FaceKind.LANE, 2), FaceSpec("C1", "中心院落", FaceKind.COURTYARD, 2)]
    faces.extend(FaceSpec(f"B{i}", f"{i}号楼", FaceKind.BUILDING, 1) for i in range(1, buildings + 1))
    return tuple(faces)


def layout(package_codes: Sequence[str], faces: Sequence[FaceSpec] | None = None, *, buildings: int = 2) -> Layout:
    """Place each package on the faces of its preferred kind (building packages go on every building)."""
    faces = tuple(faces) if faces else default_faces(buildings)
    if not faces or len(faces) > MAX_FACES_PER_PROJECT:
        raise ValueError(f"a project has 1..{MAX_FACES_PER_PROJECT} work faces")
    if len({f.code for f in faces}) != len(faces):
        raise ValueError("work face codes must be unique")
    by_kind: dict[FaceKind, list[FaceSpec]] = {}
    for f in faces:
        by_kind.setdefault(f.kind, []).append(f)
    packages: list[PackageSpec] = []
    for code in dict.fromkeys(package_codes):
        pt = package_type(code)
        kind = next((k for k in pt.face_kinds if k in by_kind), None)
        targets = by_kind[kind] if kind is not None else [faces[0]]
        if kind is not FaceKind.BUILDING:
            targets = targets[:1]
        packages.extend(PackageSpec(f.code, code, pt.duration_days(f.size)) for f in targets)
    if len(packages) > MAX_PACKAGES_PER_PROJECT:
        raise ValueError(f"a project has at most {MAX_PACKAGES_PER_PROJECT} packages")
    return Layout(faces, tuple(packages), default_links(packages))


def default_links(packages: Sequence[PackageSpec]) -> tuple[tuple[int, int, int], ...]:
    index = {(p.face_code, p.type_code): i for i, p in enumerate(packages)}
    out = []
    for pred, succ, lag in DEFAULT_LINKS:
        for (face, code), i in index.items():
            if code == pred and (face, succ) in index:
                out.append((i, index[(face, succ)], lag))
    return tuple(sorted(out))


@dataclass(frozen=True)
class PlanPackage:
    """A package as the planner sees it (ids are strings; ``community`` groups faces and weights)."""

    package_id: str
    face_id: str
    community: str
    type_code: str
    duration: int
    fixed_start: int | None = None
    earliest_start: int = 0


@dataclass(frozen=True)
class PlanLink:
    pred: str
    succ: str
    lag: int


def weights_from_ranks(ranks: Mapping[str, int | None]) -> dict[str, int]:
    """Rank 1 weighs most; unranked communities weigh 1; weights stay within 1..1000."""
    ranked = sorted(r for r in ranks.values() if r is not None)
    top = len(ranked)
    out: dict[str, int] = {}
    for community, rank in ranks.items():
        if rank is None or top == 0:
            out[community] = 1
        else:
            position = sum(1 for r in ranked if r < rank)  # 0 for the best
            out[community] = 1 + (999 * (top - position)) // top if top > 1 else 1000
    return out


def build_problem(
    packages: Sequence[PlanPackage],
    links: Sequence[PlanLink],
    *,
    crews: Mapping[str, int],
    default_crews: int,
    weights: Mapping[str, int],
    max_faces_per_community: int | None,
) -> Problem:
    tasks = []
    trades: set[str] = set()
    for p in packages:
        pt = package_type(p.type_code)
        trades.add(pt.trade)
        tasks.append(
            Task(
                id=p.package_id,
                duration=p.duration,
                demands={pt.trade: 1},
                face=p.face_id,
                group=p.community,
                layer=pt.layer,
                kind=pt.kind,
                excavates=pt.excavates,
                earliest_start=p.earliest_start,
                fixed_start=p.fixed_start,
            )
        )
    capacities = {t: int(crews.get(t, default_crews)) for t in sorted(trades)}
    return Problem(
        tasks=tasks,
        links=[Link(link.pred, link.succ, link.lag) for link in links],
        capacities=capacities,
        group_weights=dict(weights),
        max_faces_per_group=max_faces_per_community,
    )
