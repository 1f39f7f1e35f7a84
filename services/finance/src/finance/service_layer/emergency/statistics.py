"""The emergency repair fund's statistics in the Jiaxing form by period, and the report of paid repairs."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from finance.adapters.repositories import (
    EmergencyRepairRepository,
)
from finance.domain.emergency import (
    Period,
    period_label,
)
from finance.domain.money import fen_to_wan_yuan, fen_to_yuan
from finance.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.errors import Forbidden

MAX_REPORT_ROWS = 10_000
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DistrictStats:
    district_id: str
    uses: int
    total_fen: int
    government_fen: int
    owners_fen: int

    @property
    def total_wan_yuan(self) -> Decimal:
        return fen_to_wan_yuan(self.total_fen)

    @property
    def summary_zh(self) -> str:
        """The Jiaxing format: 共计4202笔、1073.54万元."""
        return f"共计{self.uses}笔、{self.total_wan_yuan}万元"


@dataclass(frozen=True)
class Amounts:
    """Uses and money of a set of paid repairs (one period, one kind, or all)."""

    uses: int = 0
    total_fen: int = 0
    government_fen: int = 0
    owners_fen: int = 0
    public_income_fen: int = 0
    households_fen: int = 0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def yuan(self, name: str) -> str:
        return str(fen_to_yuan(getattr(self, name)))

    @property
    def summary_zh(self) -> str:
        return DistrictStats("", self.uses, self.total_fen, self.government_fen, self.owners_fen).summary_zh


@dataclass(frozen=True)
class PeriodStats:
    label: str  # 2026-03 | 2026-Q1 | 2026
    start: datetime  # the period's first moment in China's time
    amounts: Amounts
    by_kind: dict[str, Amounts]


@dataclass(frozen=True)
class FundStats:
    district_id: str
    street_id: str | None  # a street officer's (or street finance office's) statistics cover their street
    period: Period
    period_from: datetime | None
    period_to: datetime | None
    periods: list[PeriodStats]
    by_kind: dict[str, Amounts]
    total: Amounts

    @property
    def districts(self) -> list[DistrictStats]:
        if not self.total.uses:
            return []
        t = self.total
        return [DistrictStats(self.district_id, t.uses, t.total_fen, t.government_fen, t.owners_fen)]


def _stats_scope(principal: Principal, district_id: str | None) -> tuple[str, str | None]:
    """Statistics cover the caller's own district (a query naming another is refused), narrowed to the caller's
    street when the token carries one (a street officer, a street finance office). The rows' district and street
    are the server's records (copied from the community's read model when the request was recorded)."""
    if principal.district_id is None or district_id not in (None, principal.district_id):
        raise Forbidden("statistics cover your own district", code="out_of_scope")
    return principal.district_id, principal.street_id


def _amounts(row: Any) -> Amounts:
    return Amounts(
        row.uses,
        int(row.total_fen),
        int(row.government_fen),
        int(row.owners_fen),
        int(row.public_income_fen),
        int(row.households_fen),
    )


async def stats(
    ctx: Context,
    principal: Principal,
    *,
    district_id: str | None,
    period: Period,
    start: datetime | None,
    end: datetime | None,
) -> FundStats:
    """Paid uses in ``[start, end)`` per period (China's calendar) and kind of work: count (笔), amount, the
    government's and the owners' shares (with public income and households apart), in the Jiaxing form."""
    district, street = _stats_scope(principal, district_id)
    async with ctx.read() as reader:
        rows = await EmergencyRepairRepository(reader.session).stats_by_period(
            district_id=district, street_id=street, period=period.value, start=start, end=end
        )
    buckets: dict[datetime, dict[str, Amounts]] = {}
    for row in rows:
        buckets.setdefault(row.period_start, {})[row.kind] = _amounts(row)
    periods = [
        PeriodStats(
            period_label(local.year, local.month, period),
            local.replace(tzinfo=CHINA),
            sum(kinds.values(), Amounts()),
            kinds,
        )
        for local, kinds in buckets.items()
    ]
    by_kind: dict[str, Amounts] = {}
    for p in periods:
        for kind, amounts in p.by_kind.items():
            by_kind[kind] = by_kind.get(kind, Amounts()) + amounts
    total = sum((p.amounts for p in periods), Amounts())
    return FundStats(district, street, period, start, end, periods, by_kind, total)


async def _district_stats(
    session: Any, district_id: str, street_id: str | None, start: datetime | None, end: datetime | None
) -> list[DistrictStats]:
    rows = await EmergencyRepairRepository(session).stats(
        district_id=district_id, street_id=street_id, start=start, end=end
    )
    return [
        DistrictStats(r.district_id, r.uses, int(r.total_fen), int(r.government_fen), int(r.owners_fen)) for r in rows
    ]


@dataclass(frozen=True)
class FundReport:
    district_id: str
    uses: list[Any]
    summary: list[DistrictStats]


async def report(
    ctx: Context, principal: Principal, *, district_id: str | None, start: datetime | None, end: datetime | None
) -> FundReport:
    """One line per paid use in ``[start, end)``, and the Jiaxing summary of the district (or the caller's street)."""
    district, street = _stats_scope(principal, district_id)
    async with ctx.read() as reader:
        rows = await EmergencyRepairRepository(reader.session).paid(
            district_id=district, street_id=street, start=start, end=end, limit=MAX_REPORT_ROWS
        )
        summary = await _district_stats(reader.session, district, street, start, end)
    return FundReport(district, rows, summary)
