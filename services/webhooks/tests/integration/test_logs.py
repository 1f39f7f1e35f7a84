"""What the logs and the attempt log say about a receiver: its scheme, host and port and its subscription id, never
the path or query string of its URL (a government endpoint often carries a token there) and never a secret."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from renovation_common.testing.plugin import eventually
from webhooks.adapters.repositories import SubscriptionRepository
from webhooks.domain.model import Subscription

from .conftest import subscribe


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


async def test_delivery_logs_name_the_receiver_never_its_query_token_or_secret(
    webhooks_on, database_factory, receiver, gov, publish, capfd
):
    live_token, dead_token = f"tok-live-{uuid.uuid4().hex}", f"tok-dead-{uuid.uuid4().hex}"
    live_path = f"/gov/hook?token={live_token}&v=1"
    receiver.routes[live_path] = (503, {}, 0.0)  # refused first: the failure is logged with its error
    # DEBUG: successful attempts are logged at debug level; every line the process writes is searched
    async with webhooks_on(await database_factory("webhooks"), "k" * 40, log_level="DEBUG") as (app, client):
        await _deliver_and_check(app, client, receiver, gov, publish, capfd, live_token, dead_token, live_path)


async def _deliver_and_check(app, client, receiver, gov, publish, capfd, live_token, dead_token, live_path) -> None:
    h, d = gov(), f"d-{uuid.uuid4().hex[:8]}"
    live = await subscribe(client, h, receiver, d, path=live_path)
    dead_port = _closed_port()
    r = await client.post(
        "/v1/subscriptions",
        json={"url": f"http://127.0.0.1:{dead_port}/x/{dead_token}?token={dead_token}", "event_types": ["finance.*"],
              "district_id": d},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    dead = r.json()
    secrets = [live["secret"], dead["secret"]]
    event_id = await publish(d)

    async def attempted(sub_id: str, outcome: str) -> bool:
        items = (await client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=h)).json()["items"]
        if not items:
            return False
        attempts = (await client.get(f"/v1/deliveries/{items[0]['id']}/attempts", headers=h)).json()
        return any(a["outcome"] == outcome for a in attempts)

    await eventually(lambda: attempted(live["id"], "retry"))
    await eventually(lambda: attempted(dead["id"], "retry"))
    receiver.routes.pop(live_path)
    [delivery] = (await client.get(f"/v1/deliveries?subscription_id={live['id']}", headers=h)).json()["items"]
    assert (await client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=h)).status_code == 202
    await eventually(lambda: attempted(live["id"], "succeeded"))
    # the token really was in the URL called: the receiver saw it
    assert any(live_token in got.path for got in receiver.received if got.headers.get("webhook-id") == event_id)

    out = capfd.readouterr()
    logged = out.out + out.err
    attempt_lines = [line for line in logged.splitlines() if '"webhook_attempt"' in line]
    # the logs name each receiver by scheme, host and port, with its subscription id ...
    assert any(
        f'"receiver": "http://127.0.0.1:{receiver.port}"' in line and live["id"] in line for line in attempt_lines
    )
    assert any(f'"receiver": "http://127.0.0.1:{dead_port}"' in line and dead["id"] in line for line in attempt_lines)
    assert any('"outcome": "succeeded"' in line for line in attempt_lines)
    assert any('"outcome": "retry"' in line and '"error"' in line for line in attempt_lines)
    # ... and never the path, the query string or a secret
    for leaked in (live_token, dead_token, "/gov/hook", *secrets, *(s.removeprefix("whsec_") for s in secrets)):
        assert leaked not in logged, leaked

    # the attempt log (API and table) keeps the URL called without its query string
    async with app.state.sessionmaker() as s:
        rows = (await s.execute(sa.text("select a::text from delivery_attempts a"))).scalars().all()
        rows += (await s.execute(sa.text("select d::text from deliveries d"))).scalars().all()
    assert rows and not [row for row in rows if live_token in row or f"token={dead_token}" in row]
    attempts = (await client.get(f"/v1/deliveries/{delivery['id']}/attempts", headers=h)).json()
    assert {a["url"] for a in attempts} == {receiver.url("/gov/hook")}


async def test_database_errors_never_quote_a_statements_parameters(start_app):
    """An unexpected database error is logged with its traceback (``unhandled_error``, ``event_retry``,
    ``work_loop_error``): it must not carry the values written, such as a URL with a token."""
    app, _ = await start_app(dispatcher_enabled=False)
    token = f"tok-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    too_long = Subscription(
        id=uuid.uuid4(),
        owner_sub="gov",
        owner_role="gov_system",
        url=f"https://gov.example.cn/hook?token={token}",
        event_types=("*",),
        district_id="d" * 65,  # longer than the column: Postgres refuses the row
        community_id=None,
        description="",
        enabled=True,
        disabled_reason=None,
        disabled_at=None,
        max_concurrency=4,
        failing_since=None,
        previous_secret_expires_at=None,
        created_at=now,
        updated_at=now,
        secret_encrypted="sealed",
        previous_secret_encrypted=None,
    )
    with pytest.raises(DBAPIError) as refused:
        async with app.state.runtime.uow() as uow:
            await SubscriptionRepository(uow.session).add(too_long)
    assert "subscriptions" in str(refused.value)  # the statement is named ...
    assert token not in str(refused.value) and "gov.example.cn" not in str(refused.value)  # ... its values are not
