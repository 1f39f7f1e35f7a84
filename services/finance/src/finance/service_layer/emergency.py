"""Emergency repair fund use cases (危急维修资金): request (staff, residents, alarms); approve with the 80/20 split,
reserving the fund's and the public income's shares (pending transfers) and turning the households' shares into
dues; pay (the reservations are posted, the rest as one linked group); cancel or reject (the reservations are
voided, the dues cancelled); statistics in the Jiaxing form by period; the fund's deposits and public income."""

from __future__ import annotations

import uuid
from dataclasses import astuple, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
    DueRepository,
    EmergencyRepairRepository,
    HouseholdRepository,
    LedgerRepository,
    SchemeRepository,
)
from finance.domain.contributions import SchemeKind
from finance.domain.emergency import (
    REFUSAL_TEXT,
    Origin,
    Period,
    RefusalReason,
    RepairKind,
    check_eligibility,
    check_fund_covers,
    period_label,
    split_repair_cost,
)
from finance.domain.errors import RuleViolation
from finance.domain.ledger import TransferKind, TransferSpec
from finance.domain.money import fen_to_wan_yuan, fen_to_yuan
from finance.service_layer import ledger, well_known_accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.scope import community_scope, list_filters, of_row
from renovation_common.auth import Principal, Role
from renovation_common.contracts.finance import (
    EmergencyRepairApproved,
    EmergencyRepairClosed,
    EmergencyRepairPaid,
    EmergencyRepairRequested,
)
from renovation_common.db import UnitOfWork
from renovation_common.errors import Conflict, Forbidden, NotFound
from renovation_common.events import new_event

MAX_REPORT_ROWS = 10_000


class CommunityUnknown(Exception):
    """The community has not reached finance's read model (yet)."""


@dataclass(frozen=True)
class RepairRequest:
    request_id: uuid.UUID
    origin: Origin
    community_id: str
    requested_by: str
    building_ids: tuple[str, ...] = ()
    location: str = ""
    description: str = ""
    alarm_id: str | None = None
    estimated_cost_fen: int | None = None
    kind: RepairKind = RepairKind.REPAIR


@dataclass(frozen=True)
class RepairView:
    repair: Any
    shares: list[Any]


@dataclass(frozen=True)
class RequestRecorded:
    repair: Any
    created: bool  # False: a retry of the same request, the first result


async def record_request(
    uow: UnitOfWork, ctx: Context, req: RepairRequest, *, event_id: uuid.UUID, now: datetime
) -> RequestRecorded:
    """Record a request once per ``request_id`` with its eligibility and announce it (the caller commits).

    Raises :class:`CommunityUnknown` while the community is not in the read model."""
    community = await CommunityRepository(uow.session).get(req.community_id)
    if community is None:
        raise CommunityUnknown(req.community_id)
    eligibility = check_eligibility(community.delivered_year, community.maintenance_fund_established)
    repairs = EmergencyRepairRepository(uow.session)
    created = await repairs.add(
        {
            "id": req.request_id,
            "origin": req.origin.value,
            "kind": req.kind.value,
            "community_id": req.community_id,
            "district_id": community.district_id,
            "street_id": community.street_id,
            "building_ids": list(req.building_ids),
            "location": req.location[:200],
            "description": req.description[:2000],
            "alarm_id": req.alarm_id,
            "estimated_cost_fen": req.estimated_cost_fen,
            "eligible": eligibility.eligible,
            "refusal_reason": eligibility.reason.value if eligibility.reason else None,
            "status": "requested" if eligibility.eligible else "refused",
            "requested_by": req.requested_by,
            "created_at": now,
        }
    )
    row = await repairs.get(req.request_id)
    if created:
        uow.publish(
            new_event(
                EmergencyRepairRequested(
                    request_id=str(req.request_id),
                    community_id=req.community_id,
                    district_id=community.district_id,
                    origin=req.origin.value,
                    alarm_id=req.alarm_id,
                    estimated_cost_fen=req.estimated_cost_fen,
                    eligible=eligibility.eligible,
                    refusal_reason=eligibility.reason.value if eligibility.reason else None,
                ),
                source=ctx.source,
                subject=str(req.request_id),
                event_id=event_id,
                time=now,
            )
        )
    return RequestRecorded(row, created)


def _refusal(row: Any) -> RuleViolation:
    reason = RefusalReason(row.refusal_reason)
    return RuleViolation(
        "emergency_repair_not_eligible",
        "the emergency repair fund does not apply: " + REFUSAL_TEXT[reason].format(year="2000 or later"),
        reason=reason.value,
        request_id=str(row.id),
    )


def origin_of(principal: Principal) -> Origin:
    if principal.role is Role.RESIDENT:
        return Origin.RESIDENT
    if principal.role is Role.STREET_OFFICER:
        return Origin.STREET_OFFICER
    return Origin.COMMUNITY_WORKER


@dataclass(frozen=True)
class RequestRepair:
    """What a caller asks for; the origin follows from the caller's role, the scope from the community's record."""

    request_id: uuid.UUID
    community_id: str
    description: str
    building_ids: tuple[str, ...] = ()
    location: str = ""
    estimated_cost_fen: int | None = None
    kind: RepairKind = RepairKind.REPAIR


async def request_repair(ctx: Context, principal: Principal, cmd: RequestRepair) -> RequestRecorded:
    """Scope check, record (refused requests are kept for the record and announced), then refuse with the reason."""
    req = RepairRequest(
        request_id=cmd.request_id,
        origin=origin_of(principal),
        community_id=cmd.community_id,
        requested_by=principal.sub,
        building_ids=cmd.building_ids,
        location=cmd.location,
        description=cmd.description,
        estimated_cost_fen=cmd.estimated_cost_fen,
        kind=cmd.kind,
    )
    now = ctx.clock()
    async with ctx.uow() as uow:
        community = await CommunityRepository(uow.session).get(req.community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        if principal.role is Role.RESIDENT:
            # a resident's community is the one finance's records hold for their household, not a body's word
            homes = HouseholdRepository(uow.session)
            home = await homes.get(principal.household_id) if principal.household_id else None
            if home is None or home.community_id != req.community_id:
                raise Forbidden("residents request repairs for their own community", code="out_of_scope")
        else:
            principal.ensure_covers(community_scope(community), "community")
        recorded = await record_request(uow, ctx, req, event_id=ctx.new_id(), now=now)
        row = recorded.repair
        if not recorded.created and (
            row.community_id != req.community_id or row.origin != req.origin.value or row.kind != req.kind.value
        ):
            raise RuleViolation("request_id_reused", "this request id was used for another request", status=409)
        await uow.commit()
    if not row.eligible:
        eligibility = check_eligibility(community.delivered_year, community.maintenance_fund_established)
        raise RuleViolation(
            "emergency_repair_not_eligible",
            f"the emergency repair fund does not apply: {eligibility.detail}",
            reason=row.refusal_reason,
            request_id=str(row.id),
            delivered_year=community.delivered_year,
            maintenance_fund_established=community.maintenance_fund_established,
        )
    return recorded


async def _view(session: Any, request_id: uuid.UUID) -> RepairView:
    repairs = EmergencyRepairRepository(session)
    row = await repairs.get(request_id)
    if row is None:
        raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
    return RepairView(row, await repairs.shares(request_id))


async def _read_view(ctx: Context, request_id: uuid.UUID) -> RepairView:
    async with ctx.read() as reader:
        return await _view(reader.session, request_id)


async def get_repair(ctx: Context, principal: Principal, request_id: uuid.UUID) -> RepairView:
    """Staff in scope see every household's share; a resident of the community sees only their own."""
    view = await _read_view(ctx, request_id)
    if principal.role is Role.RESIDENT:
        if principal.community_id != view.repair.community_id:
            raise Forbidden("this request is outside your scope", code="out_of_scope")
        return RepairView(view.repair, [s for s in view.shares if s.household_id == principal.household_id])
    principal.ensure_covers(of_row(view.repair), "emergency repair")
    return view


async def list_repairs(
    ctx: Context, principal: Principal, *, status: str | None, after: uuid.UUID | None, limit: int
) -> list[Any]:
    """Requests in the caller's scope (district, street, community), by id after the cursor."""
    scope = {k: v for k, v in list_filters(principal, households=False).items() if k != "household_id"}
    filters = {**scope, **({"status": status} if status else {})}
    async with ctx.read() as reader:
        return await EmergencyRepairRepository(reader.session).find(filters=filters, after=after, limit=limit)


async def _locked_in_scope(repairs: EmergencyRepairRepository, principal: Principal, request_id: uuid.UUID) -> Any:
    row = await repairs.get(request_id, for_update=True)
    if row is None:
        raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
    principal.ensure_covers(of_row(row), "emergency repair")
    return row


@dataclass(frozen=True)
class Approve:
    approved_cost_fen: int
    use_public_income: bool = True
    public_income_fen: int | None = None  # exactly what public income pays; None: up to what it has available


def _available(account: Any) -> int:
    return int(account.credits_posted - account.debits_posted - account.debits_pending)


def _reservation_id(request_id: uuid.UUID, line: str) -> uuid.UUID:
    return derived_id("repair-reserve", request_id, line)


def _reserved(government_fen: int, public_income_fen: int) -> list[tuple[str, str, int]]:
    """The shares an approval reserves (pending transfers into the repair's clearing account): (line, transfer code,
    amount) of each share above zero."""
    lines = (
        ("government", "repair_government_share", government_fen),
        ("public_income", "repair_public_income_share", public_income_fen),
    )
    return [line for line in lines if line[2] > 0]


def _closed(row: Any) -> Conflict:
    return Conflict(f"the request was {row.status}; nothing more happens to it", code="emergency_repair_closed")


async def approve(ctx: Context, principal: Principal, request_id: uuid.UUID, cmd: Approve) -> RepairView:
    """One transaction: lock the request, then the fund, public-income and clearing accounts (in id order), split
    on what they have available net of earlier reservations, reserve the fund's and the public income's shares as
    pending transfers (the database's no-overdraft check is the guarantee), turn the households' shares into dues,
    announce. A refusal (``insufficient_funds``) writes nothing."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        repairs = EmergencyRepairRepository(uow.session)
        row = await _locked_in_scope(repairs, principal, request_id)
        if row.status == "refused":
            raise _refusal(row)
        if row.status in ("rejected", "cancelled"):
            raise _closed(row)
        if row.status != "requested":
            raise Conflict(f"the request is already {row.status}", code="emergency_repair_already_approved")
        affected = await HouseholdRepository(uow.session).of_community(row.community_id, row.building_ids or [])
        homes = {h.household_id: h for h in affected}
        areas = {hid: Decimal(h.floor_area_m2) for hid, h in homes.items()}
        accounts = AccountRepository(uow.session)
        fund = await well_known_accounts.emergency_fund(accounts, row.district_id, now)
        public_income = await well_known_accounts.public_income(accounts, row, now)
        clearing = await well_known_accounts.repair_clearing(accounts, row, now)
        locked = await accounts.lock([fund, public_income, clearing])
        split = split_repair_cost(
            cmd.approved_cost_fen,
            public_income_balance_fen=max(0, _available(locked[public_income])),
            household_areas=areas,
            use_public_income=cmd.use_public_income,
            public_income_fen=cmd.public_income_fen,
        )
        check_fund_covers(split.government_fen, _available(locked[fund]))
        debits = {"government": fund, "public_income": public_income}
        specs = [
            _pay_spec(request_id, line, debits[line], clearing, amount, code, kind=TransferKind.PENDING)
            for line, code, amount in _reserved(split.government_fen, split.public_income_fen)
        ]
        await LedgerRepository(uow.session).post(
            specs, group_id=derived_id("repair-reserve-group", request_id), now=now
        )
        scheme_id = await _household_dues(
            uow.session, principal, row, homes, split.household_shares, clearing, now, ctx
        )
        await repairs.update(
            request_id,
            {
                "status": "approved",
                "approved_cost_fen": split.approved_cost_fen,
                "government_fen": split.government_fen,
                "owners_fen": split.owners_fen,
                "public_income_fen": split.public_income_fen,
                "households_fen": split.households_fen,
                "use_public_income": cmd.use_public_income,
                "approved_by": principal.sub,
                "approved_at": now,
                "reserved": True,
                "dues_scheme_id": scheme_id,
            },
        )
        await repairs.replace_shares(
            request_id,
            [
                {"request_id": request_id, "household_id": hid, "floor_area_m2": areas[hid], "amount_fen": amount}
                for hid, amount in sorted(split.household_shares.items())
            ],
        )
        uow.publish(
            new_event(
                EmergencyRepairApproved(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    approved_cost_fen=split.approved_cost_fen,
                    government_share_fen=split.government_fen,
                    owners_share_fen=split.owners_fen,
                    public_income_fen=split.public_income_fen,
                    households_fen=split.households_fen,
                    households_count=sum(1 for v in split.household_shares.values() if v > 0),
                ),
                source=ctx.source,
                subject=str(request_id),
                event_id=ctx.new_id(),
                time=now,
            )
        )
        view = await _view(uow.session, request_id)
        await uow.commit()
    return view


async def _household_dues(
    session: Any,
    principal: Principal,
    row: Any,
    homes: dict[str, Any],
    shares: dict[str, int],
    clearing: uuid.UUID,
    now: datetime,
    ctx: Context,
) -> uuid.UUID | None:
    """The households' shares as dues of a scheme of kind ``emergency_repair`` (one per household that owes
    something), paid through the payment rules like every due (intent + provider callback, or a staff receipt)."""
    owing = {hid: amount for hid, amount in shares.items() if amount > 0}
    if not owing:
        return None
    scheme_id = derived_id("repair-dues", row.id)
    title = f"危急维修 {row.location or row.description}"[:200]
    await SchemeRepository(session).add(
        {
            "id": scheme_id,
            "community_id": row.community_id,
            "district_id": row.district_id,
            "street_id": row.street_id,
            "kind": SchemeKind.EMERGENCY_REPAIR.value,
            "title": title,
            "pool_account_id": clearing,
            "created_by": principal.sub,
            "created_at": now,
        },
        [
            {
                "id": ctx.new_id(),
                "scheme_id": scheme_id,
                "household_id": hid,
                "community_id": row.community_id,
                "district_id": row.district_id,
                "street_id": row.street_id,
                "building_id": homes[hid].building_id,
                "floor_area_m2": homes[hid].floor_area_m2,
                "amount_fen": amount,
                "created_at": now,
            }
            for hid, amount in sorted(owing.items())
        ],
    )
    return scheme_id


@dataclass(frozen=True)
class RepairPaid:
    repair: RepairView
    replayed: bool  # paid before: nothing was posted now


def _pay_spec(
    request_id: uuid.UUID,
    line: str,
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount: int,
    code: str,
    *,
    kind: TransferKind = TransferKind.POSTED,
) -> TransferSpec:
    """A transfer of a repair: ``posted`` at payment, or ``pending`` (a reservation) at approval; its id derives
    from the request and the line, so a retry maps to the same transfer."""
    pending = kind is TransferKind.PENDING
    transfer_id = _reservation_id(request_id, line) if pending else derived_id("repair", request_id, line)
    return TransferSpec(
        id=str(transfer_id),
        kind=kind,
        debit_account_id=str(debit),
        credit_account_id=str(credit),
        amount_fen=amount,
        code=code,
        reference=f"emergency_repair:{request_id}",
    )


def _resolve(request_id: uuid.UUID, line: str, kind: TransferKind, code: str) -> TransferSpec:
    """Resolve a reservation made at approval, whole (the accounts and the amount are the pending transfer's):
    ``post_pending`` when the repair is paid, ``void_pending`` when it is cancelled."""
    prefix = "repair" if kind is TransferKind.POST_PENDING else "repair-release"
    return TransferSpec(
        id=str(derived_id(prefix, request_id, line)),
        kind=kind,
        debit_account_id=None,
        credit_account_id=None,
        amount_fen=None,
        pending_id=str(_reservation_id(request_id, line)),
        code=code,
        reference=f"emergency_repair:{request_id}",
    )


async def pay(ctx: Context, principal: Principal, request_id: uuid.UUID) -> RepairPaid:
    """Post the split as one linked group: the reservations of the fund and the public income posted into the
    repair's clearing account, each household's share charged to its account (negative: what it owes until its due
    is paid), and the full cost out to the contractor (the outside world)."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        repairs = EmergencyRepairRepository(uow.session)
        row = await _locked_in_scope(repairs, principal, request_id)
        if row.status == "paid":
            return RepairPaid(await _view(uow.session, request_id), replayed=True)
        if row.status in ("rejected", "cancelled"):
            raise _closed(row)
        if row.status != "approved":
            raise RuleViolation("emergency_repair_not_approved", "only an approved request is paid", status=409)
        shares = await repairs.shares(request_id)
        accounts = AccountRepository(uow.session)
        clearing = await well_known_accounts.repair_clearing(accounts, row, now)
        group: list[TransferSpec] = []
        if row.reserved:
            group += [
                _resolve(request_id, line, TransferKind.POST_PENDING, code)
                for line, code, _amount in _reserved(row.government_fen, row.public_income_fen)
            ]
        else:  # approved before reservations existed (migration 0006): posted from what the accounts hold now
            fund = await well_known_accounts.emergency_fund(accounts, row.district_id, now)
            group.append(
                _pay_spec(request_id, "government", fund, clearing, row.government_fen, "repair_government_share")
            )
            if row.public_income_fen > 0:
                pi = await well_known_accounts.public_income(accounts, row, now)
                group.append(
                    _pay_spec(
                        request_id, "public_income", pi, clearing, row.public_income_fen, "repair_public_income_share"
                    )
                )
        for share in shares:
            if share.amount_fen > 0:
                home = await well_known_accounts.household(accounts, row, share.household_id, now)
                group.append(
                    _pay_spec(request_id, f"household:{share.household_id}", home, clearing, share.amount_fen,
                              "repair_household_share")
                )  # fmt: skip
        outside = await well_known_accounts.external(accounts, row.district_id, now)
        group.append(_pay_spec(request_id, "payout", clearing, outside, row.approved_cost_fen, "repair_payout"))
        group_id = derived_id("repair-group", request_id)
        await LedgerRepository(uow.session).post(group, group_id=group_id, now=now)
        await repairs.update(request_id, {"status": "paid", "paid_at": now, "transfer_group_id": group_id})
        uow.publish(
            new_event(
                EmergencyRepairPaid(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    approved_cost_fen=row.approved_cost_fen,
                    transfer_group_id=str(group_id),
                    paid_at=now,
                ),
                source=ctx.source,
                subject=str(request_id),
                event_id=ctx.new_id(),
                time=now,
            )
        )
        view = await _view(uow.session, request_id)
        await uow.commit()
    return RepairPaid(view, replayed=False)


@dataclass(frozen=True)
class RepairClosed:
    repair: RepairView
    replayed: bool  # closed before: nothing changed now


async def cancel(ctx: Context, principal: Principal, request_id: uuid.UUID, *, reason: str) -> RepairClosed:
    """A requested repair is rejected; an approved one is cancelled: its reservations are voided (the fund and the
    public income have them available again) and its dues cancelled — refused (409 ``emergency_repair_dues_paid``)
    once a household paid towards its share. A paid repair is not cancelled. One transaction."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        repairs = EmergencyRepairRepository(uow.session)
        row = await _locked_in_scope(repairs, principal, request_id)
        if row.status in ("rejected", "cancelled"):
            return RepairClosed(await _view(uow.session, request_id), replayed=True)
        if row.status == "paid":
            raise Conflict("a paid repair is not cancelled", code="emergency_repair_already_paid")
        if row.status == "refused":
            raise _closed(row)
        if row.status == "approved":
            await _release(uow.session, row, now)
        closed = "cancelled" if row.status == "approved" else "rejected"
        await repairs.update(
            request_id, {"status": closed, "closed_by": principal.sub, "closed_at": now, "close_reason": reason}
        )
        released = 0
        if row.status == "approved" and row.reserved:
            released = sum(amount for *_, amount in _reserved(row.government_fen, row.public_income_fen))
        uow.publish(
            new_event(
                EmergencyRepairClosed(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    status=closed,
                    released_fen=released,
                    closed_at=now,
                ),
                source=ctx.source,
                subject=str(request_id),
                event_id=ctx.new_id(),
                time=now,
            )
        )
        view = await _view(uow.session, request_id)
        await uow.commit()
    return RepairClosed(view, replayed=False)


async def _release(session: Any, row: Any, now: datetime) -> None:
    if row.dues_scheme_id is not None:
        dues = DueRepository(session)
        paid = [d for d in await dues.of_scheme(row.dues_scheme_id, for_update=True) if d.paid_fen > 0]
        if paid:
            raise Conflict(
                f"{len(paid)} household(s) already paid towards their share; refund them before cancelling",
                code="emergency_repair_dues_paid",
            )
        await dues.cancel_scheme(row.dues_scheme_id, now)
    if row.reserved:
        lines = _reserved(row.government_fen, row.public_income_fen)
        if lines:
            specs = [
                _resolve(row.id, line, TransferKind.VOID_PENDING, "repair_reservation_released") for line, *_ in lines
            ]
            await LedgerRepository(session).post(specs, group_id=derived_id("repair-release-group", row.id), now=now)


# ------------------------------------------------------------------------------------------------ statistics
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


# ------------------------------------------------------------------------------------------------ the fund's money
@dataclass(frozen=True)
class Posted:
    transfer_id: uuid.UUID
    account_id: uuid.UUID
    amount_fen: int
    replayed: bool


async def _post_income(
    ctx: Context, transfer_id: uuid.UUID, debit: uuid.UUID, credit: uuid.UUID, amount_fen: int, **labels: Any
) -> Posted:
    spec = TransferSpec(
        id=str(transfer_id),
        kind=TransferKind.POSTED,
        debit_account_id=str(debit),
        credit_account_id=str(credit),
        amount_fen=amount_fen,
        **labels,
    )
    result = await ledger.post(ctx, [spec])
    return Posted(transfer_id, credit, amount_fen, result.replayed)


async def deposit(
    ctx: Context, principal: Principal, *, deposit_id: uuid.UUID, amount_fen: int, memo: str | None
) -> Posted:
    """Government finance tops up the caller's district's emergency repair fund (treasury → fund)."""
    if principal.district_id is None:
        raise Forbidden("your token carries no district", code="out_of_scope")
    now = ctx.clock()
    async with ctx.uow() as uow:
        accounts = AccountRepository(uow.session)
        treasury = await well_known_accounts.treasury(accounts, principal.district_id, now)
        fund = await well_known_accounts.emergency_fund(accounts, principal.district_id, now)
        await uow.commit()
    return await _post_income(ctx, deposit_id, treasury, fund, amount_fen, code="emergency_fund_deposit", memo=memo)


async def receive_public_income(
    ctx: Context, principal: Principal, community_id: str, *, receipt_id: uuid.UUID, amount_fen: int, memo: str | None
) -> Posted:
    """Public income (parking, advertising, rents of common parts) into the community's account; the caller's scope
    is checked against the community's record (nothing is created for a caller outside it)."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        community = await CommunityRepository(uow.session).get(community_id)
        if community is None:
            raise NotFound("community not found", code="community_not_found")
        principal.ensure_covers(community_scope(community), "community")
        accounts = AccountRepository(uow.session)
        outside = await well_known_accounts.external(accounts, community.district_id, now)
        account = await well_known_accounts.public_income(accounts, community, now)
        await uow.commit()
    return await _post_income(
        ctx, receipt_id, outside, account, amount_fen, code="public_income", memo=memo,
        reference=f"community:{community_id}",
    )  # fmt: skip
