"""Emergency repair fund use cases: request (staff, residents, alarms), approve with the 80/20 split, pay as one
linked group of transfers, statistics in the Jiaxing format."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters import ledger as ledger_repo
from finance.adapters import repos
from finance.adapters.ledger import AccountScope
from finance.domain.emergency import REFUSAL_TEXT, Origin, RefusalReason, check_eligibility, split_repair_cost
from finance.domain.errors import RuleViolation
from finance.domain.ledger import AccountKind, TransferKind, TransferSpec
from finance.domain.money import fen_to_wan_yuan
from finance.service_layer import accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.scope import community_scope, ensure_covers
from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.finance import (
    EmergencyRepairApproved,
    EmergencyRepairPaid,
    EmergencyRepairRequested,
)
from renovation_common.errors import Conflict, Forbidden, NotFound
from renovation_common.events import CloudEvent, new_event

Publish = Callable[[CloudEvent], Any]


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


def repair_scope(row: Any) -> Scope:
    return Scope(district_id=row.district_id, street_id=row.street_id, community_id=row.community_id)


async def record_request(
    session: AsyncSession,
    publish: Publish,
    req: RepairRequest,
    *,
    source: str,
    event_id: uuid.UUID,
    now: datetime,
) -> tuple[Any, bool]:
    """Record a request once per ``request_id`` with its eligibility; returns (row, created)."""
    community = await repos.community(session, req.community_id)
    if community is None:
        raise CommunityUnknown(req.community_id)
    eligibility = check_eligibility(community.delivered_year, community.maintenance_fund_established)
    created = await repos.insert_repair(
        session,
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
        },
    )
    row = await repos.repair(session, req.request_id)
    if created:
        publish(
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
                source=source,
                subject=str(req.request_id),
                event_id=event_id,
                time=now,
            )
        )
    return row, created


def refusal(row: Any) -> RuleViolation:
    reason = RefusalReason(row.refusal_reason)
    return RuleViolation(
        "emergency_repair_not_eligible",
        "the emergency repair fund does not apply: " + REFUSAL_TEXT[reason].format(year="2000 or later"),
        reason=reason.value,
        request_id=str(row.id),
    )


async def request_repair(ctx: Context, principal: Principal, req: RepairRequest) -> tuple[Any, bool]:
    """API entry: scope check, record (refused requests are kept for the record), then refuse with the reason."""
    async with ctx.uow() as uow:
        community = await repos.community(uow.session, req.community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        if principal.role is Role.RESIDENT:
            # a resident's community is the one finance's records hold for their household, not a body's word
            home = await repos.household(uow.session, principal.household_id) if principal.household_id else None
            if home is None or home.community_id != req.community_id:
                raise Forbidden("residents request repairs for their own community", code="out_of_scope")
        else:
            ensure_covers(principal, community_scope(community), "community")
        row, created = await record_request(
            uow.session, uow.publish, req, source=ctx.source, event_id=ctx.new_id(), now=ctx.clock()
        )
        if not created and (row.community_id != req.community_id or row.origin != req.origin.value):
            raise RuleViolation("request_id_reused", "this request id was used for another request", status=409)
        await uow.commit()
    if not row.eligible:
        community_year = community.delivered_year
        eligibility = check_eligibility(community_year, community.maintenance_fund_established)
        raise RuleViolation(
            "emergency_repair_not_eligible",
            f"the emergency repair fund does not apply: {eligibility.detail}",
            reason=row.refusal_reason,
            request_id=str(row.id),
            delivered_year=community_year,
            maintenance_fund_established=community.maintenance_fund_established,
        )
    return row, created


@dataclass(frozen=True)
class RepairView:
    repair: Any
    shares: list[Any]


async def get_repair(ctx: Context, request_id: uuid.UUID) -> RepairView:
    async with ctx.uow() as uow:
        row = await repos.repair(uow.session, request_id)
        if row is None:
            raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
        return RepairView(row, await repos.repair_shares(uow.session, request_id))


async def list_repairs(ctx: Context, filters: dict[str, str], after: str | None, limit: int) -> list[Any]:
    async with ctx.uow() as uow:
        return await repos.list_repairs(uow.session, filters=filters, after=after, limit=limit)


async def _public_income_available(session: AsyncSession, community_id: str) -> int:
    account = await ledger_repo.get_account_by_code(session, f"public_income:{community_id}")
    if account is None:
        return 0
    return max(0, account.credits_posted - account.debits_posted - account.debits_pending)


async def approve(
    ctx: Context, principal: Principal, request_id: uuid.UUID, *, approved_cost_fen: int, use_public_income: bool
) -> RepairView:
    async with ctx.uow() as uow:
        row = await repos.repair(uow.session, request_id, for_update=True)
        if row is None:
            raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
        ensure_covers(principal, repair_scope(row), "emergency repair")
        if row.status == "refused":
            raise refusal(row)
        if row.status != "requested":
            raise Conflict(f"the request is already {row.status}", code="emergency_repair_already_approved")
        homes = await repos.community_households(uow.session, row.community_id, row.building_ids or [])
        areas = {h.household_id: Decimal(h.floor_area_m2) for h in homes}
        balance = await _public_income_available(uow.session, row.community_id)
        split = split_repair_cost(
            approved_cost_fen,
            public_income_balance_fen=balance,
            household_areas=areas,
            use_public_income=use_public_income,
        )
        await repos.update_repair(
            uow.session,
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
                "approved_at": ctx.clock(),
            },
        )
        await repos.replace_repair_shares(
            uow.session,
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
                time=ctx.clock(),
            )
        )
        await uow.commit()
    return await get_repair(ctx, request_id)


async def pay(ctx: Context, principal: Principal, request_id: uuid.UUID) -> tuple[RepairView, bool]:
    """Post the split as one linked group: government fund, public income and households into the repair's
    clearing account, and the full cost out to the contractor (the outside world)."""
    async with ctx.uow() as uow:
        row = await repos.repair(uow.session, request_id, for_update=True)
        if row is None:
            raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
        ensure_covers(principal, repair_scope(row), "emergency repair")
        if row.status == "paid":
            return RepairView(row, await repos.repair_shares(uow.session, request_id)), True
        if row.status != "approved":
            raise RuleViolation("emergency_repair_not_approved", "only an approved request is paid", status=409)
        shares = await repos.repair_shares(uow.session, request_id)
        session = uow.session
        clearing = await ledger_repo.ensure_account(
            session,
            code=f"repair:{request_id}",
            kind=AccountKind.REPAIR,
            name="Emergency repair clearing",
            scope=AccountScope(district_id=row.district_id, street_id=row.street_id, community_id=row.community_id),
        )

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

        group = [
            spec(
                "government",
                await accounts.emergency_fund(session, row.district_id),
                clearing,
                row.government_fen,
                "repair_government_share",
            )
        ]
        if row.public_income_fen > 0:
            pi = await accounts.public_income(session, row.district_id, row.street_id, row.community_id)
            group.append(spec("public_income", pi, clearing, row.public_income_fen, "repair_public_income_share"))
        for share in shares:
            if share.amount_fen > 0:
                home = await accounts.household(
                    session, row.district_id, row.street_id, row.community_id, share.household_id
                )
                group.append(
                    spec(f"household:{share.household_id}", home, clearing, share.amount_fen, "repair_household_share")
                )
        group.append(
            spec(
                "payout",
                clearing,
                await accounts.external(session, row.district_id),
                row.approved_cost_fen,
                "repair_payout",
            )
        )
        group_id = derived_id("repair-group", request_id)
        await ledger_repo.post_transfers(session, group, group_id=group_id)
        paid_at = ctx.clock()
        await repos.update_repair(
            session, request_id, {"status": "paid", "paid_at": paid_at, "transfer_group_id": group_id}
        )
        uow.publish(
            new_event(
                EmergencyRepairPaid(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    approved_cost_fen=row.approved_cost_fen,
                    transfer_group_id=str(group_id),
                    paid_at=paid_at,
                ),
                source=ctx.source,
                subject=str(request_id),
                event_id=ctx.new_id(),
                time=paid_at,
            )
        )
        await uow.commit()
    return await get_repair(ctx, request_id), False


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


async def stats(
    ctx: Context, *, district_id: str | None, start: datetime | None, end: datetime | None
) -> list[DistrictStats]:
    async with ctx.uow() as uow:
        rows = await repos.repair_stats(uow.session, district_id=district_id, start=start, end=end)
    return [
        DistrictStats(r.district_id, r.uses, int(r.total_fen), int(r.government_fen), int(r.owners_fen)) for r in rows
    ]


async def report_rows(
    ctx: Context, *, district_id: str | None, start: datetime | None, end: datetime | None, limit: int = 10_000
) -> list[Any]:
    async with ctx.uow() as uow:
        return await repos.paid_repairs(uow.session, district_id=district_id, start=start, end=end, limit=limit)


async def district_fund_accounts(ctx: Context, district_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    async with ctx.uow() as uow:
        treasury = await accounts.treasury(uow.session, district_id)
        fund = await accounts.emergency_fund(uow.session, district_id)
        await uow.commit()
    return treasury, fund


async def public_income_accounts(
    ctx: Context, principal: Principal, community_id: str
) -> tuple[uuid.UUID, uuid.UUID, Any]:
    """The outside and public-income accounts of a community, after the caller's scope is checked against the
    community's record (nothing is created for a caller outside it)."""
    async with ctx.uow() as uow:
        community = await repos.community(uow.session, community_id)
        if community is None:
            raise NotFound("community not found", code="community_not_found")
        ensure_covers(principal, community_scope(community), "community")
        outside = await accounts.external(uow.session, community.district_id)
        account = await accounts.public_income(uow.session, community.district_id, community.street_id, community_id)
        await uow.commit()
    return outside, account, community
