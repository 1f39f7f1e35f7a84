"""Ranking of passed communities by approval ratio (Jiaxing: communities at or above the threshold are ranked,
and the ranking sets their renovation order).

Order: approval ratio (approving households over *all* households) descending; ties broken by the approving
share of the total exclusive area (descending), then by the earlier close time (the community that finished its
consultation first), then by community id (ascending) so the order is total and reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction


@dataclass(frozen=True)
class Candidate:
    community_id: str
    consultation_id: str
    approval: Fraction
    approval_area: Fraction
    closed_at: datetime


@dataclass(frozen=True)
class Ranked:
    rank: int
    candidate: Candidate


def rank(candidates: list[Candidate]) -> list[Ranked]:
    """One entry per community (its latest passed consultation), ranked 1..n."""
    latest: dict[str, Candidate] = {}
    for c in candidates:
        seen = latest.get(c.community_id)
        if seen is None or (c.closed_at, c.consultation_id) > (seen.closed_at, seen.consultation_id):
            latest[c.community_id] = c
    ordered = sorted(latest.values(), key=lambda c: (-c.approval, -c.approval_area, c.closed_at, c.community_id))
    return [Ranked(i + 1, c) for i, c in enumerate(ordered)]
