"""Emergency repair fund use cases (危急维修资金): request (staff, residents, alarms), approve with the 80/20 split,
pay as one linked group of transfers, statistics in the Jiaxing format; the fund's deposits and public income."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
    EmergencyRepairRepository,
    HouseholdRepository,
    LedgerRepository,
)
from finance.domain.emergency import REFUSAL_TEXT, Origin, RefusalReason, check_eligibility, split_repair_cost
from finance.domain.errors import RuleViolation
from finance.domain.ledger import TransferKind, TransferSpec
from finance.domain.money import fen_to_wan_yuan
from finance.service_layer import ledger, well_known_accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.scope import community_scope, of_row
from renovation_common.auth import Principal, Role
from renovation_common.contracts.finance import (
    EmergencyRepairApproved,
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
        if not recorded.created and (row.community_id != req.community_id or row.origin != req.origin.value):
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
    filters = {
        k: v
        for k, v in (
            ("district_id", principal.district_id),
            ("street_id", principal.street_id),
            ("community_id", principal.community_id),
            ("status", status),
        )
        if v
    }
    if not {"district_id", "street_id", "community_id"} & filters.keys():
        raise Forbidden("your token carries no scope", code="out_of_scope")
    async with ctx.read() as reader:
        return await EmergencyRepairRepository(reader.session).find(filters=filters, after=after, limit=limit)


async def _locked_in_scope(repairs: EmergencyRepairRepository, principal: Principal, request_id: uuid.UUID) -> Any:
    row = await repairs.get(request_id, for_update=True)
    if row is None:
        raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
    principal.ensure_covers(of_row(row), "emergency repair")
    return row


async def approve(
    ctx: Context, principal: Principal, request_id: uuid.UUID, *, approved_cost_fen: int, use_public_income: bool
) -> RepairView:
    now = ctx.clock()
    async with ctx.uow() as uow:
        repairs = EmergencyRepairRepository(uow.session)
        row = await _locked_in_scope(repairs, principal, request_id)
        if row.status == "refused":
            raise _refusal(row)
        if row.status != "requested":
            raise Conflict(f"the request is already {row.status}", code="emergency_repair_already_approved")
        homes = await HouseholdRepository(uow.session).of_community(row.community_id, row.building_ids or [])
        areas = {h.household_id: Decimal(h.floor_area_m2) for h in homes}
        account = await AccountRepository(uow.session).get_by_code(
            well_known_accounts.public_income_code(row.community_id)
        )
        available = 0 if account is None else account.credits_posted - account.debits_posted - account.debits_pending
        split = split_repair_cost(
            approved_cost_fen,
            public_income_balance_fen=max(0, available),
            household_areas=areas,
            use_public_income=use_public_income,
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
                "use_public_income": use_public_income,
                "approved_by": principal.sub,
                "approved_at": now,
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


@dataclass(frozen=True)
class RepairPaid:
    repair: RepairView
    replayed: bool  # paid before: nothing was posted now


async def pay(ctx: Context, principal: Principal, request_id: uuid.UUID) -> RepairPaid:
    """Post the split as one linked group: government fund, public income and households into the repair's
    clearing account, and the full cost out to the contractor (the outside world)."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        repairs = EmergencyRepairRepository(uow.session)
        row = await _locked_in_scope(repairs, principal, request_id)
        if row.status == "paid":
            return RepairPaid(await _view(uow.session, request_id), replayed=True)
        if row.status != "approved":
            raise RuleViolation("emergency_repair_not_approved", "only an approved request is paid", status=409)
        shares = await repairs.shares(request_id)
        accounts = AccountRepository(uow.session)
        district, street, community = row.district_id, row.street_id, row.community_id
        clearing = await well_known_accounts.repair_clearing(accounts, district, street, community, request_id, now)

        def spec(line: str, debit: uuid.UUID, credit: uuid.UUID, amount: int, code: str) -> TransferSpec:
            return TransferSpec(
                id=str(derived_id("repair", request_id, line)),
                kind=TransferKind.POSTED,
                debit_account_id=str(debit),
                credit_account_id=str(credit),
                amount_fen=amount,
                code=code,
                reference=f"emergency_repair:{request_id}",
            )

        fund = await well_known_accounts.emergency_fund(accounts, district, now)
        group = [spec("government", fund, clearing, row.government_fen, "repair_government_share")]
        if row.public_income_fen > 0:
            pi = await well_known_accounts.public_income(accounts, district, street, community, now)
            group.append(spec("public_income", pi, clearing, row.public_income_fen, "repair_public_income_share"))
        for share in shares:
            if share.amount_fen > 0:
                home = await well_known_accounts.household(
                    accounts, district, street, community, share.household_id, now
                )
                group.append(
                    spec(f"household:{share.household_id}", home, clearing, share.amount_fen, "repair_household_share")
                )
        outside = await well_known_accounts.external(accounts, district, now)
        group.append(spec("payout", clearing, outside, row.approved_cost_fen, "repair_payout"))
        group_id = derived_id("repair-group", request_id)
        await LedgerRepository(uow.session).post(group, group_id=group_id, now=now)
        await repairs.update(request_id, {"status": "paid", "paid_at": now, "transfer_group_id": group_id})
        uow.publish(
            new_event(
                EmergencyRepairPaid(
                    request_id=str(request_id),
                    community_id=community,
                    district_id=district,
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


# ------------------------------------------------------------------------------------------------ statistics
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
class FundStats:
    period_from: datetime | None
    period_to: datetime | None
    districts: list[DistrictStats]
    total: DistrictStats


def _stats_district(principal: Principal, district_id: str | None) -> str:
    """Statistics cover the caller's own district (a body or query naming another is refused)."""
    if principal.district_id is None or district_id not in (None, principal.district_id):
        raise Forbidden("statistics cover your own district", code="out_of_scope")
    return principal.district_id


async def _district_stats(
    session: Any, district_id: str, start: datetime | None, end: datetime | None
) -> list[DistrictStats]:
    rows = await EmergencyRepairRepository(session).stats(district_id=district_id, start=start, end=end)
    return [
        DistrictStats(r.district_id, r.uses, int(r.total_fen), int(r.government_fen), int(r.owners_fen)) for r in rows
    ]


async def stats(
    ctx: Context, principal: Principal, *, district_id: str | None, start: datetime | None, end: datetime | None
) -> FundStats:
    """Paid uses and amounts of the caller's district in ``[start, end)``, in the Jiaxing format."""
    district = _stats_district(principal, district_id)
    async with ctx.read() as reader:
        rows = await _district_stats(reader.session, district, start, end)
    total = DistrictStats(
        "*",
        sum(r.uses for r in rows),
        sum(r.total_fen for r in rows),
        sum(r.government_fen for r in rows),
        sum(r.owners_fen for r in rows),
    )
    return FundStats(start, end, rows, total)


@dataclass(frozen=True)
class FundReport:
    district_id: str
    uses: list[Any]
    summary: list[DistrictStats]


async def report(
    ctx: Context, principal: Principal, *, district_id: str | None, start: datetime | None, end: datetime | None
) -> FundReport:
    """One line per paid use in ``[start, end)``, and the Jiaxing summary of the district."""
    district = _stats_district(principal, district_id)
    async with ctx.read() as reader:
        rows = await EmergencyRepairRepository(reader.session).paid(
            district_id=district, start=start, end=end, limit=MAX_REPORT_ROWS
        )
        summary = await _district_stats(reader.session, district, start, end)
    return FundReport(district, rows, summary)


# ------------------------------------------------------------------------------------------------ the fund's money
@dataclass(frozen=True)
class Posted:
    transfer_id: uuid.UUID
    account_id: uuid.UUID
    amount_fen: int
    replayed: bool


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
    spec = TransferSpec(
        id=str(deposit_id),
        kind=TransferKind.POSTED,
        debit_account_id=str(treasury),
        credit_account_id=str(fund),
        amount_fen=amount_fen,
        code="emergency_fund_deposit",
        memo=memo,
    )
    result = await ledger.post(ctx, [spec])
    return Posted(deposit_id, fund, amount_fen, result.replayed)


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
        account = await well_known_accounts.public_income(
            accounts, community.district_id, community.street_id, community_id, now
        )
        await uow.commit()
    spec = TransferSpec(
        id=str(receipt_id),
        kind=TransferKind.POSTED,
        debit_account_id=str(outside),
        credit_account_id=str(account),
        amount_fen=amount_fen,
        code="public_income",
        memo=memo,
        reference=f"community:{community_id}",
    )
    result = await ledger.post(ctx, [spec])
    return Posted(receipt_id, account, amount_fen, result.replayed)
