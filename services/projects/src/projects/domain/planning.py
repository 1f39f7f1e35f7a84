"""From projects (faces and packages) to a scheduling problem, and back to dates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from projects.domain.catalog import DEFAULT_LINKS, FaceKind, package_type
from projects.domain.model import Community, FaceSource, SiteFace
from projects.domain.scheduling import Link, Problem, Task

MAX_FACES_PER_PROJECT = 60
MAX_PACKAGES_PER_PROJECT = 400
MAX_FACE_SIZE = 20
HOMES_PER_SIZE_UNIT = 20  # a building grows by one size unit per 20 homes (about one stairwell unit, 单元)
LANE_METRES_PER_SIZE_UNIT = 100
COURTYARD_M2_PER_SIZE_UNIT = 1000
GROUNDS_HOMES_PER_SIZE_UNIT = 200


class LayoutError(ValueError):
    code = "invalid_layout"


class NoFaceForPackage(LayoutError):
    code = "no_face_for_package"


class UnknownFace(LayoutError):
    code = "unknown_work_face"


class FaceKindMismatch(LayoutError):
    code = "package_face_kind_mismatch"


@dataclass(frozen=True)
class FaceSpec:
    code: str
    name: str
    kind: FaceKind
    size: int = 1
    source: FaceSource = FaceSource.REQUEST
    source_id: str | None = None
    catch_all: bool = False  # takes the packages whose face kinds the layout lacks (the community's open ground)


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


def _size(amount: float, per_unit: float) -> int:
    return max(1, min(MAX_FACE_SIZE, math.ceil(amount / per_unit))) if amount > 0 else 1


def building_size(households: int) -> int:
    return _size(households, HOMES_PER_SIZE_UNIT)


def site_size(kind: FaceKind, length_m: int | None, area_m2: Decimal | None) -> int:
    if kind is FaceKind.LANE and length_m:
        return _size(length_m, LANE_METRES_PER_SIZE_UNIT)
    if kind is FaceKind.COURTYARD and area_m2:
        return _size(float(area_m2), COURTYARD_M2_PER_SIZE_UNIT)
    return 1


def survey_faces(community: Community, known: Sequence[SiteFace]) -> tuple[FaceSpec, ...]:
    """The work faces of a community as the survey records it: its buildings and its lanes and courtyards.

    When the survey lists no lane or courtyard of the community, its open ground is one face (kind courtyard,
    sized by the number of homes) that also takes any package whose face kinds the community lacks.
    """
    faces: list[FaceSpec] = []
    taken: set[str] = set()
    for f in known:
        code, n = f.code, 1
        while code in taken:  # a site code equal to a building's face code: keep both, distinctly
            n += 1
            code = f"{f.code}-{n}"
        taken.add(code)
        faces.append(FaceSpec(code, f.name, f.kind, f.size, f.source, f.source_id))
    if not any(f.kind in (FaceKind.LANE, FaceKind.COURTYARD) for f in faces):
        faces.append(
            FaceSpec(
                "G" if "G" not in taken else "G-grounds",
                f"{community.name or community.community_id} 公共区域",
                FaceKind.COURTYARD,
                _size(community.household_count, GROUNDS_HOMES_PER_SIZE_UNIT),
                FaceSource.COMMUNITY_GROUNDS,
                community.community_id,
                catch_all=True,
            )
        )
    return tuple(faces)


def layout(
    package_codes: Sequence[str],
    faces: Sequence[FaceSpec],
    assignments: Mapping[str, Sequence[str]] | None = None,
) -> Layout:
    """Place each package on work faces.

    ``assignments`` (package code → face codes) is the project's own say: a package listed there goes exactly on
    those faces, each of a kind the package can go on. Any other package goes on every face of its preferred kind
    the layout has (a lane package on every lane, a building package on every building), or on the catch-all face
    when the layout has no face of its kinds.
    """
    faces = tuple(faces)
    if not faces or len(faces) > MAX_FACES_PER_PROJECT:
        raise LayoutError(f"a project has 1..{MAX_FACES_PER_PROJECT} work faces")
    if len({f.code for f in faces}) != len(faces):
        raise LayoutError("work face codes must be unique")
    by_code = {f.code: f for f in faces}
    by_kind: dict[FaceKind, list[FaceSpec]] = {}
    for f in faces:
        by_kind.setdefault(f.kind, []).append(f)
    catch_all = next((f for f in faces if f.catch_all), None)
    codes = list(dict.fromkeys(package_codes))
    assignments = dict(assignments or {})
    for code in assignments:
        if code not in codes:
            raise LayoutError(f"{code}: assigned to faces but not one of the project's packages")
    packages: list[PackageSpec] = []
    for code in codes:
        pt = package_type(code)
        if code in assignments:
            targets = []
            for face_code in dict.fromkeys(assignments[code]):
                face = by_code.get(face_code)
                if face is None:
                    raise UnknownFace(f"{code}: no work face {face_code!r} in this layout")
                if face.kind not in pt.face_kinds:
                    kinds = ", ".join(k.value for k in pt.face_kinds)
                    raise FaceKindMismatch(f"{code} goes on a {kinds} face, not on {face.kind.value} {face_code!r}")
                targets.append(face)
            if not targets:
                raise LayoutError(f"{code}: assigned to no face")
        else:
            kind = next((k for k in pt.face_kinds if k in by_kind), None)
            if kind is not None:
                targets = by_kind[kind]
            elif catch_all is not None:
                targets = [catch_all]
            else:
                kinds = ", ".join(k.value for k in pt.face_kinds)
                raise NoFaceForPackage(f"{code} goes on a {kinds} face and the layout has none")
        packages.extend(PackageSpec(f.code, code, pt.duration_days(f.size)) for f in targets)
    if len(packages) > MAX_PACKAGES_PER_PROJECT:
        raise LayoutError(f"a project has at most {MAX_PACKAGES_PER_PROJECT} packages")
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
