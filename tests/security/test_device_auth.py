"""Every device authenticates to the broker as itself (issue 12, point 2).

Real parts only: the session's broker is configured from deploy/nats/auth.conf (the file compose and Kubernetes
ship), MQTT over TLS verified against the stack's CA, real MQTT clients (aiomqtt), the smart-community app
answering the broker's auth callout from its real Postgres registry. Nothing here reloads or restarts the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import ssl
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import httpx
import nats
import pytest
import sqlalchemy as sa

from renovation_common import nkeys
from renovation_common.devstack import AUTH_TEMPLATE, ROOT
from renovation_common.testing.plugin import bearer, eventually, running_app
from smart_community.entrypoints.app import create_app

pytestmark = pytest.mark.integration

DISTRICT, STREET = "510105", "51010501"


# ------------------------------------------------------------------------------------------ helpers


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ["MQTT_CA_FILE"])


def mqtt(username: str | None, password: str | None, *, client_id: str | None = None, **kw: Any) -> aiomqtt.Client:
    url = urlsplit(os.environ["MQTT_URL"])
    return aiomqtt.Client(
        url.hostname or "127.0.0.1",
        url.port or 8883,
        username=username,
        password=password,
        identifier=client_id if client_id is not None else username,
        tls_context=tls_context(),
        timeout=15,
        **kw,
    )


async def login_refused(username: str | None, password: str | None, **kw: Any) -> bool:
    try:
        async with mqtt(username, password, **kw):
            return False
    except aiomqtt.MqttCodeError as exc:
        return exc.rc in (4, 5, 134, 135)


def payload(kind: str = "reading", **readings: Any) -> bytes:
    return json.dumps({"type": kind, "time": datetime.now(UTC).isoformat(), "readings": readings}).encode()


async def varz() -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        return dict((await client.get(os.environ["NATS_MONITOR_URL"] + "/varz")).json())


async def stream_subjects(js: Any, subject: str) -> list[bytes]:
    """Messages the DEVICES stream holds on ``subject`` (an ordered, ephemeral read; nothing acknowledged)."""
    sub = await js.subscribe(subject, stream="DEVICES", ordered_consumer=True, deliver_policy="all")
    found: list[bytes] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except TimeoutError:
                return found
            found.append(msg.data)
    finally:
        await sub.unsubscribe()


async def device_connections(device_id: str) -> list[dict[str, Any]]:
    """The broker's own view (system account): open connections of this MQTT client id in account DEVICES."""
    nc = await nats.connect(os.environ["NATS_SYSTEM_URL"])
    try:
        msg = await nc.request(
            "$SYS.REQ.SERVER.PING.CONNZ",
            json.dumps({"acc": "DEVICES", "mqtt_client": device_id, "auth": True}).encode(),
            timeout=5,
        )
        return list(json.loads(msg.data)["data"].get("connections") or [])
    finally:
        await nc.close()


async def auth_callout_answering(app: Any, timeout_s: float = 30) -> None:
    """Wait until the app's auth callout responder (started in the background) answers the broker."""
    from smart_community.entrypoints.broker_workers import RESPONDER_READY

    async def ready() -> bool:
        return bool(app.state.runtime.extras.get(RESPONDER_READY))

    await eventually(ready, timeout_s=timeout_s)


class Held:
    """An MQTT connection kept open in the background; ``closed`` is set when the broker drops it."""

    def __init__(self, username: str, password: str) -> None:
        self.client = mqtt(username, password)
        self.closed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.opened = asyncio.Event()

    async def _run(self) -> None:
        try:
            async with self.client:
                self.opened.set()
                async for _ in self.client.messages:  # returns / raises when the connection is lost
                    pass
        except aiomqtt.MqttError:
            pass
        finally:
            self.closed.set()

    async def __aenter__(self) -> Held:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.opened.wait(), timeout=20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class Community:
    """A community known to the app (read model written by its consumer use case) and devices in it via the API."""

    def __init__(self, app: Any, client: httpx.AsyncClient, make_token: Any) -> None:
        self.app, self.client = app, client
        self.id = f"c-{uuid.uuid4().hex[:10]}"
        self.headers = bearer(make_token("community_worker", district_id=DISTRICT, community_id=self.id))

    async def register(self) -> Community:
        from smart_community.service_layer import read_model

        if self.app.state.settings.broker_auth_enabled:
            await auth_callout_answering(self.app)
        await read_model.apply_community(self.app.state.runtime.uow(), self.id, DISTRICT, STREET)
        return self

    async def device(self, kind: str = "door_sensor") -> str:
        r = await self.client.post(
            "/v1/devices", json={"community_id": self.id, "kind": kind, "placement": "community"}, headers=self.headers
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def issue(self, device_id: str) -> dict[str, Any]:
        r = await self.client.post(f"/v1/devices/{device_id}/credentials", headers=self.headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def revoke(self, device_id: str) -> None:
        r = await self.client.delete(f"/v1/devices/{device_id}/credentials", headers=self.headers)
        assert r.status_code == 204, r.text

    async def stored_credential(self, device_id: str) -> tuple[str | None, datetime | None]:
        async with self.app.state.sessionmaker() as session:
            row = (
                await session.execute(
                    sa.text("select credential_hash, credential_issued_at from devices where id = :i"), {"i": device_id}
                )
            ).one()
        return row.credential_hash, row.credential_issued_at


@pytest.fixture
async def community(service_client: Any, make_token: Any) -> Community:
    app, client = await service_client(create_app, "smart_community", broker_reconcile_interval_s=60)
    return await Community(app, client, make_token).register()


# ------------------------------------------------------------------------------------------ publish / subscribe


async def test_a_device_publishes_only_to_its_own_topic(community: Community, jetstream: Any) -> None:
    mine, neighbour = await community.device(), await community.device()
    creds = await community.issue(mine)
    assert creds["mqtt_client_id"] == creds["username"] == mine
    assert creds["publish_subjects"] == [f"devices.{community.id}.{mine}.>"]
    other_community = f"c-{uuid.uuid4().hex[:10]}"
    async with mqtt(creds["username"], creds["password"]) as client:
        await client.publish(f"devices/{community.id}/{neighbour}/door_sensor", payload("door_open"), qos=1)
        await client.publish(f"devices/{other_community}/{mine}/door_sensor", payload("door_open"), qos=1)
        await client.publish("renovation/smart_community/alarm/raised/v1", b"{}", qos=1)
        await client.publish(creds["mqtt_topic"], payload("door_open"), qos=1)

    async def own_message_stored() -> bool:
        return len(await stream_subjects(jetstream, f"devices.{community.id}.{mine}.>")) == 1

    await eventually(own_message_stored, timeout_s=20)
    # the refused ones were published before the accepted one on the same connection: none of them is anywhere
    assert await stream_subjects(jetstream, f"devices.{community.id}.{neighbour}.>") == []
    assert await stream_subjects(jetstream, f"devices.{other_community}.>") == []


async def test_a_device_cannot_subscribe_to_any_device_topic(community: Community) -> None:
    mine, neighbour = await community.device(), await community.device()
    creds, theirs = await community.issue(mine), await community.issue(neighbour)
    async with mqtt(creds["username"], creds["password"]) as spy:
        for topic in ("devices/#", f"devices/{community.id}/{neighbour}/#", f"devices/{community.id}/+/+", "#"):
            granted = await spy.subscribe(topic, qos=1)
            assert [int(c.value) if hasattr(c, "value") else int(c) for c in granted] == [0x80], (topic, granted)
        async with mqtt(theirs["username"], theirs["password"]) as other:
            await other.publish(theirs["mqtt_topic"], payload("door_open"), qos=1)
        with pytest.raises(TimeoutError):  # nothing reaches the spy (its subscriptions were refused)
            async with asyncio.timeout(3):
                async for message in spy.messages:
                    raise AssertionError(f"received {message.topic}")


# ------------------------------------------------------------------------------------------ logins


async def test_wrong_missing_unknown_and_impersonating_logins_are_refused(community: Community) -> None:
    door, other = await community.device(), await community.device()
    creds = await community.issue(door)
    assert await login_refused(door, "not-the-password")
    assert await login_refused(door, None)
    assert await login_refused(None, None, client_id=f"anon-{uuid.uuid4().hex[:6]}")
    assert await login_refused(f"unknown-{uuid.uuid4().hex[:8]}", creds["password"])
    # a registered device without a credential
    assert await login_refused(other, creds["password"])
    # the right password, but another device's MQTT client id (a session takeover) is refused
    assert await login_refused(door, creds["password"], client_id=other)
    # the device credential over plain NATS instead of MQTT: refused too
    url = urlsplit(os.environ["NATS_URL"])
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(
            f"nats://{door}:{creds['password']}@{url.hostname}:{url.port}", allow_reconnect=False, connect_timeout=10
        )
    # the services' own login is not usable over MQTT (configured users are standard NATS only)
    assert url.password and await login_refused("services", url.password, client_id="services")
    # and the right one works
    async with mqtt(door, creds["password"]):
        pass


async def test_plain_mqtt_and_untrusted_certificates_are_not_accepted(community: Community) -> None:
    door = await community.device()
    creds = await community.issue(door)
    url = urlsplit(os.environ["MQTT_URL"])
    with pytest.raises(aiomqtt.MqttError):  # no TLS: the listener speaks TLS only
        async with aiomqtt.Client(url.hostname or "", url.port or 8883, username=door, password=creds["password"],
                                  identifier=door, timeout=5):  # fmt: skip
            pass
    with pytest.raises(aiomqtt.MqttError):  # TLS without trusting the stack's CA: the certificate is not trusted
        async with aiomqtt.Client(url.hostname or "", url.port or 8883, username=door, password=creds["password"],
                                  identifier=door, tls_context=ssl.create_default_context(), timeout=5):  # fmt: skip
            pass


async def test_revoked_and_reissued_credentials_stop_working_without_a_broker_reload(community: Community) -> None:
    door = await community.device()
    before = await varz()
    first = await community.issue(door)
    async with mqtt(door, first["password"]):
        pass
    second = await community.issue(door)
    assert await login_refused(door, first["password"]), "the old password still works after re-issue"
    async with mqtt(door, second["password"]):
        pass
    await community.revoke(door)
    assert await login_refused(door, second["password"]), "a revoked password still works"
    assert await community.stored_credential(door) == (None, None)
    after = await varz()
    assert (after["start"], after["config_load_time"]) == (before["start"], before["config_load_time"]), (
        "the broker was restarted or reloaded"
    )


# ------------------------------------------------------------------------------------------ open connections


async def test_an_open_connection_of_a_revoked_device_is_closed_without_a_reload(community: Community) -> None:
    door = await community.device()
    creds = await community.issue(door)
    before = await varz()
    async with Held(door, creds["password"]) as held:
        assert len(await device_connections(door)) == 1
        revoked_at = time.monotonic()
        await community.revoke(door)
        await asyncio.wait_for(held.closed.wait(), timeout=60)
        closed_after_s = time.monotonic() - revoked_at
    assert await device_connections(door) == []
    after = await varz()
    assert (after["start"], after["config_load_time"]) == (before["start"], before["config_load_time"])
    # the reconciliation period is 60 s here: a close this early came from the revocation itself
    assert closed_after_s < 45, closed_after_s


async def test_reissue_closes_the_connection_made_with_the_old_password(community: Community) -> None:
    door = await community.device()
    first = await community.issue(door)
    async with Held(door, first["password"]) as held:
        second = await community.issue(door)
        await asyncio.wait_for(held.closed.wait(), timeout=60)
    async with Held(door, second["password"]) as current:
        await asyncio.sleep(0)  # connected with the new password: it stays
        conns = await device_connections(door)
        assert len(conns) == 1 and not current.closed.is_set()


async def test_the_periodic_reconciliation_closes_connections_whose_credential_went_stale(
    service_client: Any, make_token: Any
) -> None:
    """A credential revoked behind the API's back (no immediate close): the reconciliation closes it."""
    app, client = await service_client(create_app, "smart_community", broker_reconcile_interval_s=2)
    place = await Community(app, client, make_token).register()
    door = await place.device()
    creds = await place.issue(door)
    async with Held(door, creds["password"]) as held:
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(sa.text("update devices set credential_hash = null where id = :i"), {"i": door})
        await asyncio.wait_for(held.closed.wait(), timeout=60)
    metrics = (await client.get("/metrics")).text
    assert re.search(r"^smart_community_device_connections_closed_total [1-9]", metrics, re.M), metrics[-2000:]


# ------------------------------------------------------------------------------------------ never a false success


async def test_issuing_answers_503_and_changes_nothing_when_no_responder_enforces(
    database_factory: Any, stack: Any, make_token: Any
) -> None:
    url = await database_factory("smart_community")
    settings = {"database_url": url, "nats_url": stack.nats_url, "log_json": False, "credential_probe_timeout_s": 15}
    app = create_app(**settings)
    async with running_app(app) as client:
        place = await Community(app, client, make_token).register()
        door = await place.device()
        first = await place.issue(door)
        issued = await place.stored_credential(door)
    # the same registry, but this replica does not answer the broker's callout and no other replica runs
    app = create_app(**settings, broker_auth_enabled=False)
    async with running_app(app) as client:
        place.app, place.client = app, client
        r = await client.post(f"/v1/devices/{door}/credentials", headers=place.headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "broker_not_enforcing"
        assert "password" not in r.json()
        assert await place.stored_credential(door) == issued, "a half-issued credential was left"
    # back with a responder (it starts in the background): the first password still logs in (nothing was changed)
    app = create_app(**settings)
    async with running_app(app):

        async def first_password_logs_in() -> bool:
            return not await login_refused(door, first["password"])

        await eventually(first_password_logs_in, timeout_s=30, interval_s=0.5)


async def test_issuing_answers_503_when_the_broker_lets_a_wrong_password_in(
    database_factory: Any, stack: Any, make_token: Any
) -> None:
    """A misconfigured authorizer that admits anyone: the probe's wrong-password login must fail, else 503."""
    url = await database_factory("smart_community")
    app = create_app(database_url=url, nats_url=stack.nats_url, log_json=False, broker_auth_enabled=False)
    signer = nkeys.KeyPair.from_seed(os.environ["NATS_DEVICE_ACCOUNT_SEED"])
    rogue = await nats.connect(os.environ["NATS_AUTH_URL"])

    async def admit_anyone(msg: Any) -> None:
        claims = nkeys.decode_jwt(msg.data, nkeys.PREFIX_SERVER)["nats"]
        now = int(time.time())
        user = {"sub": claims["user_nkey"], "aud": "DEVICES", "iat": now, "exp": now + 60,
                "nats": {"pub": {"deny": [">"]}, "sub": {"deny": [">"]}, "type": "user", "version": 2}}  # fmt: skip
        response = {"jwt": nkeys.encode_jwt(user, signer), "type": "authorization_response", "version": 2}
        answer = {"sub": claims["user_nkey"], "aud": claims["server_id"]["id"], "iat": now, "exp": now + 60,
                  "nats": response}  # fmt: skip
        await msg.respond(nkeys.encode_jwt(answer, signer).encode())

    await rogue.subscribe("$SYS.REQ.USER.AUTH", queue="smart_community_auth_callout", cb=admit_anyone)
    try:
        async with running_app(app) as client:
            place = await Community(app, client, make_token).register()
            door = await place.device()
            r = await client.post(f"/v1/devices/{door}/credentials", headers=place.headers)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "broker_not_enforcing"
            assert "wrong password was accepted" in r.json()["detail"]
            assert await place.stored_credential(door) == (None, None)
    finally:
        await rogue.close()


# ------------------------------------------------------------------------------------------ configuration


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_no_shared_device_login_anywhere_in_the_repository() -> None:
    patterns = [
        re.compile(p)
        for p in (
            r"NATS_DEVICES_PASSWORD",
            r"\buser:\s*\"?devices\"?\s*[,}\n]",  # a NATS user named "devices"
            r"device_users\.conf",
            r"write_device_users|reload_nats|sync_broker_users",
        )
    ]
    this = Path(__file__).resolve()
    hits = []
    for path in tracked_files():
        if path.resolve() == this or not path.is_file() or path.suffix in (".png", ".xlsx", ".pdf"):
            continue
        text = path.read_text(errors="ignore")
        hits += [f"{path.relative_to(ROOT)}: {p.pattern}" for p in patterns if p.search(text)]
    assert hits == []


def test_every_broker_uses_the_one_authorization_template(stack: Any) -> None:
    template = AUTH_TEMPLATE.read_bytes()
    assert (ROOT / "deploy/kubernetes/base/nats/auth.conf").read_bytes() == template, "copy deploy/nats/auth.conf"
    for conf in ("deploy/nats/nats.conf", "deploy/kubernetes/base/nats/nats.conf"):
        assert 'include "auth.conf"' in (ROOT / conf).read_text(), conf
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/nats/auth.conf:/etc/nats/auth.conf:ro" in compose
    kustomization = (ROOT / "deploy/kubernetes/base/kustomization.yaml").read_text()
    assert "nats/auth.conf" in kustomization
    if stack.nats is not None:  # the embedded broker of this session includes the template itself
        conf = (stack.nats.data_dir / "nats.conf").read_text()
        included = re.search(r'^include "([^"]+)"', conf, re.M)
        assert included is not None
        assert (stack.nats.data_dir / included.group(1)).resolve() == AUTH_TEMPLATE.resolve()


# ------------------------------------------------------------------------------------------ at rest


async def test_a_device_password_issued_with_an_idempotency_key_is_nowhere_in_clear(
    community: Community, make_token: Any, capfd: Any
) -> None:
    """Issue 12, point 4 (smart-community): the once-shown MQTT password is issued with an ``Idempotency-Key`` (whose
    stored response is where a copy would land), replayed, and used to log in; then every row of every table of the
    service's database is searched for it, as text and as the hex of its bytes. Only its bcrypt hash is stored."""
    device = await community.device("gas_detector")
    key = {**community.headers, "Idempotency-Key": f"issue-{uuid.uuid4()}"}
    issued = await community.client.post(f"/v1/devices/{device}/credentials", headers=key)
    assert issued.status_code == 201, issued.text
    password = issued.json()["password"]
    again = await community.client.post(f"/v1/devices/{device}/credentials", headers=key)
    assert again.headers.get("idempotent-replayed") == "true" and again.json()["password"] == password
    async with mqtt(issued.json()["username"], password):
        pass  # the replayed credential is the one the broker enforces (not a second issue)
    async with community.app.state.sessionmaker() as session:
        names = (
            await session.execute(
                sa.text("select tablename from pg_tables where schemaname = current_schema() order by tablename")
            )
        ).scalars()
        tables = {
            n: list((await session.execute(sa.text(f'select t::text from "{n}" t'))).scalars()) for n in list(names)
        }
        stored = (
            await session.execute(
                sa.text("select response_body from idempotency_keys where key = :k"), {"k": key["Idempotency-Key"]}
            )
        ).scalar_one()
    assert stored  # the response is kept for replays ...
    assert {"devices", "idempotency_keys", "outbox"} <= tables.keys() and tables["idempotency_keys"]
    forms = [password, password.encode().hex()]
    leaks = [(t, f[:6]) for t, rows in tables.items() for row in rows for f in forms if f in row]
    assert leaks == [], f"a device password in clear: {leaks}"  # ... but never in clear
    hashed, _ = await community.stored_credential(device)
    assert hashed and hashed.startswith("$2")  # a bcrypt hash is what the registry keeps
    assert password not in "".join(capfd.readouterr())
