"""Account routes: create an account, read it, its statement and the statement's export."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from finance.domain.ledger import AccountKind
from finance.domain.money import fen_to_yuan
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.exports import EXPORT_MEDIA, export_response
from finance.entrypoints.api.schemas.ledger import AccountCreate, AccountRead, EntryRead
from finance.service_layer import accounts as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["ledger"])

READERS = (
    Role.RESIDENT,
    Role.COMMUNITY_WORKER,
    Role.STREET_OFFICER,
    Role.DISTRICT_ADMIN,
    Role.OPERATOR,
    Role.GOV_SYSTEM,
    Role.FINANCE_OFFICER,
)


@router.post(
    "/v1/accounts",
    operation_id="createAccount",
    response_model=AccountRead,
    status_code=201,
    summary="Open a ledger account in the scope of the record it names",
)
async def create_account(
    body: AccountCreate, principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)], ctx: ContextDep
) -> AccountRead:
    """District, street and community come from the record of the household, project or community the body
    names (refused when unknown: ``household_unknown`` …); a body naming another scope than the record is 403.
    Without a target the account is district-level, in the caller's district."""
    cmd = uc.CreateAccount(
        kind=body.kind,
        name=body.name,
        code=body.code,
        allow_negative=body.allow_negative,
        district_id=body.district_id,
        street_id=body.street_id,
        community_id=body.community_id,
        household_id=body.household_id,
        project_id=body.project_id,
    )
    return AccountRead.of(await uc.create_account(ctx, principal, cmd))


@router.get(
    "/v1/accounts",
    operation_id="listAccounts",
    response_model=Page[AccountRead],
    summary="The accounts of your scope (cursor pagination)",
)
async def list_accounts(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*READERS)],
    ctx: ContextDep,
    kind: Annotated[AccountKind | None, Query(description="Only accounts of this kind")] = None,
    community_id: Annotated[str | None, Query(max_length=64, description="Only this community's accounts")] = None,
) -> Page[AccountRead]:
    """Residents list their own household's account; staff and the finance office the accounts inside their
    scope as their token carries it; operators and government systems their district's. An account above the
    caller's level (a district's treasury for a street officer) is not listed, as it cannot be read."""
    rows = await uc.list_accounts(
        ctx, principal, kind=kind, community_id=community_id, after=page.after_uuid(), limit=page.limit + 1
    )
    return make_page([AccountRead.of(r) for r in rows], page.limit, lambda a: str(a.id))


@router.get(
    "/v1/accounts/{account_id}",
    operation_id="getAccount",
    response_model=AccountRead,
    summary="An account with its counters, balance and available amount",
)
async def get_account(
    account_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], ctx: ContextDep
) -> AccountRead:
    """Residents read their own household's account; staff, the finance office, operators and government systems
    read accounts inside their scope (an account above the caller's level, such as a district's treasury for a
    street officer, is out of scope)."""
    return AccountRead.of(await uc.get_account(ctx, principal, account_id))


@router.get(
    "/v1/accounts/{account_id}/statement",
    operation_id="getAccountStatement",
    response_model=Page[EntryRead],
    summary="An account's entries, oldest first, with the balance after each (cursor pagination)",
)
async def get_statement(
    account_id: uuid.UUID,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*READERS)],
    ctx: ContextDep,
) -> Page[EntryRead]:
    """One entry per transfer touching the account: posted and pending deltas, the balance and the available
    amount after it, and the counterparty account."""
    rows = await uc.statement(ctx, principal, account_id, after=page.after_int(), limit=page.limit + 1)
    return make_page([EntryRead.of(r) for r in rows], page.limit, lambda e: e.entry_id)


@router.get(
    "/v1/accounts/{account_id}/statement/export",
    operation_id="exportAccountStatement",
    responses=EXPORT_MEDIA,
    response_class=Response,
    summary="The account's statement as CSV or XLSX",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
)
async def export_statement(
    account_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*READERS)],
    ctx: ContextDep,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The whole statement (up to 50,000 entries), one row per entry, amounts in fen and the balance in yuan."""
    export = await uc.statement_export(ctx, principal, account_id)
    header = [
        "entry_id",
        "created_at",
        "transfer_id",
        "kind",
        "code",
        "side",
        "amount_fen",
        "posted_delta_fen",
        "balance_after_fen",
        "balance_after_yuan",
        "reference",
        "memo",
    ]
    data = [
        [
            r.entry_id,
            r.created_at,
            str(r.transfer_id),
            r.kind,
            r.code,
            r.side,
            r.amount_fen,
            r.posted_delta_fen,
            r.balance_after_fen,
            str(fen_to_yuan(r.balance_after_fen)),
            r.reference,
            r.memo,
        ]
        for r in export.entries
    ]
    return export_response(format, f"statement-{export.account.id}", "statement", header, data)
