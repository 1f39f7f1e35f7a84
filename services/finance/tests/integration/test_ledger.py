"""Ledger: idempotent transfers, linked groups, two-phase, the database's no-overdraft guarantee, concurrency."""

import asyncio
import random
import time
import uuid

import sqlalchemy as sa

from finance.adapters.orm import accounts, entries, transfers
from finance.domain.errors import RuleViolation
from finance.domain.ledger import TransferKind, TransferSpec
from finance.entrypoints.app import create_app
from finance.service_layer import ledger
from finance.service_layer.context import Context

from .conftest import auth, new_id


async def _account(client, headers, kind, code=None, **extra):
    body = {"kind": kind, "name": kind, "district_id": "D1", "code": code, **extra}
    r = await client.post("/v1/accounts", headers=headers, json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_transfers_idempotent_linked_and_two_phase(finance, make_token):
    _app, client = finance
    admin = auth(make_token, "district_admin", district_id="D1")
    treasury = await _account(client, admin, "government")
    fund = await _account(client, admin, "fund_source")
    project = await _account(client, admin, "project")

    tid = new_id()
    body = {"transfers": [{"id": tid, "debit_account_id": treasury, "credit_account_id": fund, "amount_fen": 1000}]}
    first = await client.post("/v1/transfers", headers=admin, json=body)
    assert first.status_code == 201, first.text
    retry = await client.post("/v1/transfers", headers=admin, json=body)
    assert retry.status_code == 200 and retry.json()["replayed"] is True
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["transfers"] == first.json()["transfers"]
    body["transfers"][0]["amount_fen"] = 999
    conflict = await client.post("/v1/transfers", headers=admin, json=body)
    assert conflict.status_code == 409 and conflict.json()["code"] == "transfer_id_reused"

    # overdraft refused by the database's check constraint
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={
            "transfers": [{"id": new_id(), "debit_account_id": fund, "credit_account_id": project, "amount_fen": 1001}]
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "insufficient_funds" and r.json()["accounts"] == [fund]

    # a linked group is all or nothing: the second leg overdraws the project
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={
            "transfers": [
                {"id": new_id(), "debit_account_id": fund, "credit_account_id": project, "amount_fen": 500},
                {"id": new_id(), "debit_account_id": project, "credit_account_id": treasury, "amount_fen": 600},
            ]
        },
    )
    assert r.status_code == 422
    assert (await client.get(f"/v1/accounts/{fund}", headers=admin)).json()["balance_fen"] == 1000

    # two-phase: reserve, then post part of it; a second resolution is refused
    pending_id = new_id()
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={
            "transfers": [
                {
                    "id": pending_id,
                    "kind": "pending",
                    "debit_account_id": fund,
                    "credit_account_id": project,
                    "amount_fen": 800,
                }
            ]
        },
    )
    assert r.status_code == 201
    acct = (await client.get(f"/v1/accounts/{fund}", headers=admin)).json()
    assert (acct["balance_fen"], acct["available_fen"]) == (1000, 200)
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={
            "transfers": [{"id": new_id(), "debit_account_id": fund, "credit_account_id": project, "amount_fen": 201}]
        },
    )
    assert r.json()["code"] == "insufficient_funds"  # the reservation counts
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={"transfers": [{"id": new_id(), "kind": "post_pending", "pending_id": pending_id, "amount_fen": 700}]},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/transfers",
        headers=admin,
        json={"transfers": [{"id": new_id(), "kind": "void_pending", "pending_id": pending_id}]},
    )
    assert r.status_code == 409 and r.json()["code"] == "pending_already_resolved"
    acct = (await client.get(f"/v1/accounts/{fund}", headers=admin)).json()
    assert (acct["balance_fen"], acct["available_fen"], acct["debits_pending_fen"]) == (300, 300, 0)

    # statement with cursor pagination
    page1 = (await client.get(f"/v1/accounts/{fund}/statement", headers=admin, params={"limit": 2})).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = (
        await client.get(
            f"/v1/accounts/{fund}/statement", headers=admin, params={"limit": 2, "cursor": page1["next_cursor"]}
        )
    ).json()
    assert [e["balance_after_fen"] for e in page1["items"] + page2["items"]] == [1000, 1000, 300]
    csv_text = (await client.get(f"/v1/accounts/{fund}/statement/export", headers=admin)).text
    assert csv_text.count("\n") == 4

    # scope: another district's admin and a resident may not read or move this money
    other = auth(make_token, "district_admin", district_id="D2")
    assert (await client.get(f"/v1/accounts/{fund}", headers=other)).status_code == 403
    r = await client.post(
        "/v1/transfers",
        headers=other,
        json={
            "transfers": [{"id": new_id(), "debit_account_id": treasury, "credit_account_id": fund, "amount_fen": 1}]
        },
    )
    assert r.status_code == 403
    resident = auth(make_token, "resident", district_id="D1", household_id="h1")
    assert (await client.get(f"/v1/accounts/{fund}", headers=resident)).status_code == 403


async def test_database_refuses_overdraft_even_without_the_application(finance):
    app, _ = finance
    async with app.state.sessionmaker() as session, session.begin():
        account_id = uuid.uuid4()
        await session.execute(
            sa.insert(accounts).values(id=account_id, kind="fund_source", name="x", allow_negative=False)
        )
    async with app.state.sessionmaker() as session:
        try:
            async with session.begin():
                await session.execute(sa.update(accounts).where(accounts.c.id == account_id).values(debits_posted=1))
            raise AssertionError("the check constraint did not fire")
        except sa.exc.IntegrityError as exc:
            assert "no_overdraft" in str(exc)


async def test_1000_concurrent_transfers_half_retried(service_client):
    """1,000 transfers among shared accounts, 500 of them sent twice at the same time."""
    # No consumers: this test needs none, and an in-flight pull fetch makes the NATS drain at shutdown wait 30 s.
    app, _ = await service_client(create_app, "finance", consumers_enabled=False, db_pool_size=16)
    runtime = app.state.runtime
    ctx = Context(uow=runtime.uow, read=runtime.read)
    async with app.state.sessionmaker() as session, session.begin():
        treasury = uuid.uuid4()
        funds = [uuid.uuid4() for _ in range(6)]
        await session.execute(
            sa.insert(accounts),
            [
                {"id": treasury, "kind": "government", "name": "t", "allow_negative": True},
                *({"id": f, "kind": "fund_source", "name": "f", "allow_negative": False} for f in funds),
            ],
        )
    rnd = random.Random(7)
    specs = []
    for i in range(1000):
        if i % 4 == 0:
            debit, credit = treasury, rnd.choice(funds)
        else:
            debit, credit = rnd.sample(funds, 2)
        specs.append(
            TransferSpec(
                id=str(uuid.uuid4()),
                kind=TransferKind.POSTED,
                debit_account_id=str(debit),
                credit_account_id=str(credit),
                amount_fen=rnd.randint(1, 5_000),
            )
        )
    jobs = specs + specs[::2]  # every other transfer is retried with the same id and body
    rnd.shuffle(jobs)
    gate = asyncio.Semaphore(16)
    outcomes = {"posted": 0, "replayed": 0, "refused": 0}

    async def send(spec):
        async with gate:
            try:
                result = await ledger.post(ctx, [spec])
                outcomes["replayed" if result.replayed else "posted"] += 1
            except RuleViolation as exc:
                assert exc.code == "insufficient_funds", exc.code
                outcomes["refused"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(send(s) for s in jobs))
    elapsed = time.perf_counter() - started
    print(f"1,500 requests in {elapsed:.1f}s: {outcomes}")

    async with app.state.sessionmaker() as session:
        stored = (await session.execute(sa.select(sa.func.count()).select_from(transfers))).scalar_one()
        distinct = (await session.execute(sa.select(sa.func.count(sa.distinct(transfers.c.id))))).scalar_one()
        rows = (await session.execute(sa.select(accounts))).all()
        entry_sums = dict(
            (
                await session.execute(
                    sa.select(entries.c.account_id, sa.func.sum(entries.c.posted_delta_fen)).group_by(
                        entries.c.account_id
                    )
                )
            ).all()
        )
        posted_sum = (
            await session.execute(sa.select(sa.func.coalesce(sa.func.sum(transfers.c.amount_fen), 0)))
        ).scalar_one()
    assert stored == distinct <= 1000
    assert outcomes["posted"] == stored
    assert outcomes["posted"] + outcomes["refused"] + outcomes["replayed"] == 1500
    assert outcomes["posted"] > 500  # the workload is mostly fundable
    assert sum(r.debits_posted for r in rows) == sum(r.credits_posted for r in rows) == posted_sum
    for r in rows:
        assert entry_sums.get(r.id, 0) == r.credits_posted - r.debits_posted  # no transfer applied twice
        if not r.allow_negative:
            assert r.credits_posted - r.debits_posted >= 0
    # no assertion on the elapsed time: the machine is shared (house rule); the printed figure is the measurement
