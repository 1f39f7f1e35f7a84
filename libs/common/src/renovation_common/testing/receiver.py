"""A government system's webhook endpoint for tests and benchmarks: one receiver, used everywhere.

A real HTTP/1.1 server on 127.0.0.1 (threads, keep-alive), so it answers whatever event loop the caller runs and a
slow route never blocks the code under test. Each request is recorded as received (path, lower-case headers, raw
body, arrival time on ``time.perf_counter()``) and, when the receiver holds signing secrets, verified with
``standardwebhooks`` against each of them (a key rotation keeps two): an unverifiable request is answered 401.
Routes script the answer per path: ``receiver.routes["/slow"] = (200, {}, 0.6)`` is status, extra headers, delay.

    with WebhookReceiver() as receiver:           # or: async with, or start()/stop()
        receiver.secret = subscription["secret"]
        ...
        assert receiver.of_type("survey.community.registered.v1", community_id=cid)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[int, dict[str, str], float]  # status, extra headers, delay in seconds


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes  # exactly as received
    verified: bool  # False: no secret matched (or the receiver holds none and verification was asked)
    error: str | None
    at: float  # time.perf_counter() on arrival

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def event(self) -> dict[str, Any]:
        """The delivered event (the body as JSON); empty for a body that is not a JSON object."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class WebhookReceiver:
    """``verify=False`` keeps every request as it came and answers the route's status (a raw capture)."""

    status: int = 204  # the answer of a path without a route
    verify: bool = True
    port: int = 0
    secrets: list[str] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def secret(self) -> str:
        return self.secrets[-1] if self.secrets else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secrets = [value]

    def url(self, path: str = "/hooks/renovation") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, body: bytes, headers: dict[str, str]) -> str | None:
        """None when one of the secrets verifies the request, else why not."""
        from standardwebhooks import Webhook

        if not self.secrets:
            return "no secret configured"
        error = "no secret"
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return None
            except Exception as exc:  # any failure to verify is a refusal, whatever the library raised
                error = f"{type(exc).__name__}: {exc}"
        return error

    # ------------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path = self.path
                with receiver.lock:
                    receiver.in_flight[path] = receiver.in_flight.get(path, 0) + 1
                    receiver.max_in_flight[path] = max(receiver.max_in_flight.get(path, 0), receiver.in_flight[path])
                try:
                    body = self.rfile.read(int(self.headers.get("content-length", "0")))
                    arrived = time.perf_counter()
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    error = receiver.check(body, headers) if receiver.verify else None
                    status, extra, delay = receiver.routes.get(path, (receiver.status, {}, 0.0))
                    if delay:
                        time.sleep(delay)
                    with receiver.lock:
                        receiver.received.append(Received(path, headers, body, error is None, error, arrived))
                    if error is not None:
                        status = 401
                    # a long refusal: the sender keeps a bounded excerpt of it; a 204 has no body at all (bytes
                    # after it would be read as the start of the next response on the kept-alive connection)
                    payload = b"" if status in (204, 304) else b"ok" if status < 300 else b"nope " * 1000
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    with receiver.lock:
                        receiver.in_flight[path] -= 1

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True  # a restarted receiver takes its old port back
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> WebhookReceiver:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------------------------- reads

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def of_type(self, type_: str, **data: Any) -> list[Received]:
        """Verified deliveries of one event type whose ``data`` has these values."""
        return [
            r
            for r in self.snapshot()
            if r.verified
            and r.event.get("type") == type_
            and all(r.event.get("data", {}).get(k) == v for k, v in data.items())
        ]

    def events(self) -> list[dict[str, Any]]:
        """The verified events, in arrival order."""
        return [r.event for r in self.snapshot() if r.verified]

    def ids(self, path: str | None = None, *, verified: bool = True) -> list[str]:
        return [r.webhook_id for r in self.snapshot() if (path is None or r.path == path) and r.verified == verified]

    def counts(self) -> Counter[str]:
        """Requests per webhook-id (a redelivery of the same event carries the same id)."""
        return Counter(r.webhook_id for r in self.snapshot())
