"""Deciding an emergency repair: approve with the 80/20 split, reserving the fund's and the public income's shares
(pending transfers) and turning the households' shares into dues; pay (the reservations are posted, the rest as one
linked group); cancel or reject (the reservations are voided, the dues cancelled)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    DueRepository,
    EmergencyRepairRepository,
    HouseholdRepository,
    LedgerRepository,
    SchemeRepository,
)
from finance.domain.contributions import SchemeKind
from finance.domain.emergency import (
    check_fund_covers,
    split_repair_cost,
)
from finance.domain.errors import RuleViolation
from finance.domain.ledger import TransferKind, TransferSpec
from finance.service_layer import well_known_accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.emergency.repairs import RepairView, locked_in_scope, refusal, view_of
from renovation_common.auth import Principal
from renovation_common.contracts.finance import (
    EmergencyRepairApproved,
    EmergencyRepairClosed,
    EmergencyRepairPaid,
)
from renovation_common.errors import Conflict


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
        row = await locked_in_scope(repairs, principal, request_id)
        if row.status == "refused":
            raise refusal(row)
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
            ctx.event(
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
                subject=str(request_id),
                now=now,
            )
        )
        view = await view_of(uow.session, request_id)
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
        row = await locked_in_scope(repairs, principal, request_id)
        if row.status == "paid":
            return RepairPaid(await view_of(uow.session, request_id), replayed=True)
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
            ctx.event(
                EmergencyRepairPaid(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    approved_cost_fen=row.approved_cost_fen,
                    transfer_group_id=str(group_id),
                    paid_at=now,
                ),
                subject=str(request_id),
                now=now,
            )
        )
        view = await view_of(uow.session, request_id)
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
        row = await locked_in_scope(repairs, principal, request_id)
        if row.status in ("rejected", "cancelled"):
            return RepairClosed(await view_of(uow.session, request_id), replayed=True)
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
            ctx.event(
                EmergencyRepairClosed(
                    request_id=str(request_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    status=closed,
                    released_fen=released,
                    closed_at=now,
                ),
                subject=str(request_id),
                now=now,
            )
        )
        view = await view_of(uow.session, request_id)
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
