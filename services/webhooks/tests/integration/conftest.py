"""Fixtures: a real HTTP receiver on 127.0.0.1 verifying with the official ``standardwebhooks`` package, an
injectable clock, helpers to publish CloudEvents straight to JetStream and to start the webhooks app."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from renovation_common.contracts.finance import ContributionPaid
from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, running_app
from webhooks.entrypoints.app import create_app


class Clock:
    """Wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None
    at: float


@dataclass
class Receiver:
    port: int = 0
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    # path -> (status, extra headers, delay_s)
    routes: dict[str, tuple[int, dict[str, str], float]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def verify(self, body: bytes, headers: dict[str, str]) -> str | None:
        if not self.secrets:
            return "no secret configured"
        error = "no secret"
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return None
            except WebhookVerificationError as exc:
                error = str(exc)
        return error

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path = self.path
                with receiver.lock:
                    receiver.in_flight[path] = receiver.in_flight.get(path, 0) + 1
                    receiver.max_in_flight[path] = max(receiver.max_in_flight.get(path, 0), receiver.in_flight[path])
                try:
                    body = self.rfile.read(int(self.headers.get("content-length", "0")))
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    error = receiver.verify(body, headers)
                    status, extra, delay = receiver.routes.get(path, (200, {}, 0.0))
                    if delay:
                        time.sleep(delay)
                    with receiver.lock:
                        receiver.received.append(Received(path, headers, body, error is None, error, time.monotonic()))
                    if error is not None:
                        status = 401
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    payload = b"ok" if status < 300 else b"nope " * 1000
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    with receiver.lock:
                        receiver.in_flight[path] -= 1

        if self.port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ids(self, path: str | None = None, *, verified: bool = True) -> list[str]:
        return [
            r.headers["webhook-id"]
            for r in list(self.received)
            if (path is None or r.path == path) and r.verified == verified
        ]


@pytest.fixture
def receiver():
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start_app(service_client):
    async def start(**overrides: Any):
        overrides.setdefault("allowed_target_networks", ["127.0.0.0/8"])
        overrides.setdefault("dispatcher_poll_interval_s", 0.2)
        return await service_client(create_app, "webhooks", **overrides)

    return start


@pytest.fixture
def webhooks_on(stack):
    """``async with webhooks_on(url, keys, **settings) as (app, client)``: the app on a given database (restart it
    with other settings), JSON logs unless ``log_json=False``."""

    @asynccontextmanager
    async def start(url: str, keys: str, **overrides):
        settings = {
            "log_json": True,
            "allowed_target_networks": ["127.0.0.0/8"],
            "dispatcher_poll_interval_s": 0.2,
            "secret_reseal_interval_s": 0.3,  # the re-seal job polls often
            **overrides,
        }
        app = create_app(database_url=url, nats_url=stack.nats_url, secret_encryption_key=keys, **settings)
        async with running_app(app) as client:
            yield app, client

    return start


@pytest.fixture
def gov(make_token):
    def make(sub: str | None = None, **claims: str) -> dict[str, str]:
        return bearer(make_token("gov_system", sub=sub or f"gov-{uuid.uuid4().hex[:6]}", **claims))

    return make


@pytest.fixture
def publish(jetstream):
    async def pub(district_id: str, *, community_id: str = "c-1", amount_fen: int = 100) -> str:
        await ensure_event_stream(jetstream, "finance")
        event = new_event(
            ContributionPaid(
                due_id=str(uuid.uuid4()),
                scheme_id="s-1",
                community_id=community_id,
                district_id=district_id,
                household_id="h-1",
                amount_fen=amount_fen,
            ),
            source="/renovation/finance",
        )
        await jetstream.publish(
            event.nats_subject, event.model_dump_json(exclude_none=True).encode(), headers={"Nats-Msg-Id": event.id}
        )
        return event.id

    return pub


@pytest.fixture
def register_community(jetstream):
    """Publish ``survey.community.registered.v1`` as the survey service would (the webhooks consumer keeps where
    each community lies)."""

    async def register(community_id: str, district_id: str, *, time: datetime | None = None, version: int = 0) -> str:
        await ensure_event_stream(jetstream, "survey")
        event = new_event(
            CommunityRegistered(
                community_id=community_id,
                district_id=district_id,
                street_id=f"{district_id}-01",
                name="劲松北社区",
                maintenance_fund_established=False,
                version=version,
            ),
            source="/renovation/survey",
            subject=community_id,
            time=time,
        )
        await jetstream.publish(
            event.nats_subject, event.model_dump_json(exclude_none=True).encode(), headers={"Nats-Msg-Id": event.id}
        )
        return event.id

    return register


async def subscribe(client, headers, receiver: Receiver, district: str, path: str = "/hook", **extra: Any) -> dict:
    body = {"url": receiver.url(path), "event_types": ["finance.*"], "district_id": district, **extra}
    resp = await client.post("/v1/subscriptions", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    receiver.secrets = [created["secret"]]
    return created


def dispatcher_of(app: Any) -> Any:
    return app.state.runtime.extras["dispatcher"]
