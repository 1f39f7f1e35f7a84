"""The app factory: one FastAPI skeleton for every service.

Nothing is created at import time. :func:`create_app` returns an app whose lifespan builds the engine, starts the
service's periodic jobs and workers, and connects to NATS **in the background**: the service serves HTTP (and
accepts writes into its outbox) while the broker is away; the relay and the consumers start once the connection is
up. ``/readyz`` depends on the database only; the broker's state is in ``/readyz``'s details and in the
``nats_connected`` metric. Routes get a :class:`Runtime` (``Depends(get_runtime)``) and open a unit of work
(``runtime.uow()``) or a read-only one (``runtime.read()``) from it.

Middleware, outermost first: request context (ids, trace, metrics, the language of problems) → CORS (when
``CORS_ALLOW_ORIGINS`` names origins) → body size limit (413 before anything is
buffered beyond the limit; a route may raise its own limit with ``openapi_extra={"x-max-body-bytes": N}``) →
``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renovation_common import metrics
from renovation_common.auth import TokenVerifier
from renovation_common.clock import Clock, system_clock
from renovation_common.crypto import KeyRing
from renovation_common.db import InfrastructureTables, ReadOnlyUnitOfWork, UnitOfWork, create_engine
from renovation_common.errors import (
    PROBLEM_RESPONSES,
    install_problem_handlers,
    preferred_language,
    problem_response,
    reset_language,
    set_language,
)
from renovation_common.idempotency import IdempotencyMiddleware
from renovation_common.links import LinkSigner, links_router
from renovation_common.logs import configure_logging
from renovation_common.messaging import (
    ConsumerRunner,
    ConsumerSpec,
    OutboxRelay,
    connect_nats,
    ensure_event_stream,
)
from renovation_common.openapi import API_CONVENTIONS, install_docs, install_openapi, servers_for
from renovation_common.settings import ServiceSettings, load_settings
from renovation_common.tracing import child_traceparent, set_trace
from renovation_common.workers import PeriodicJob

log = structlog.get_logger("renovation.app")

# CORS (browser apps, e.g. a resident's H5 page, on the origins of CORS_ALLOW_ORIGINS): what a page may send and read
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Accept-Language",
    "X-Request-Id",
    "traceparent",
)
CORS_EXPOSED_HEADERS = (
    "X-Request-Id",
    "traceparent",
    "Idempotent-Replayed",
    "Location",
    "Content-Disposition",
    "Content-Language",
    "Retry-After",
)


@dataclass
class Runtime:
    """What a running service holds: built in the lifespan, reachable from routes and workers."""

    settings: ServiceSettings
    infra: InfrastructureTables
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    uow_class: type[UnitOfWork] = UnitOfWork
    nats: NatsClient | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    consumers: list[ConsumerRunner] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    clock: Clock = system_clock
    """The service's clock: the wall clock, or the one a test injected through ``ServiceDefinition.clock``."""
    messaging_ready: asyncio.Event = field(default_factory=asyncio.Event)

    def uow(self) -> UnitOfWork:
        return self.uow_class(self.sessionmaker, self.infra, on_commit_events=self.wake_relay)

    def read(self) -> ReadOnlyUnitOfWork:
        return ReadOnlyUnitOfWork(self.sessionmaker)

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()


Worker = Callable[[Runtime], Coroutine[Any, Any, None]]


@dataclass
class ServiceDefinition:
    settings: ServiceSettings
    infra: InfrastructureTables
    title: str
    description: str
    version: str = "0.1.0"
    routers: Sequence[APIRouter] = ()
    openapi_tags: list[dict[str, Any]] | None = None
    uow_class: type[UnitOfWork] = UnitOfWork
    consumers: Callable[[Runtime], list[ConsumerSpec]] | None = None
    workers: Callable[[Runtime], list[Worker]] | None = None
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None  # after the database, before NATS
    on_messaging_ready: Callable[[Runtime], Awaitable[None]] | None = None  # once NATS is connected
    produces_events: bool = True
    clock: Clock | None = None  # tests inject a controllable clock; None = the wall clock


async def get_runtime(request: Request) -> Runtime:  # async: no hop to a worker thread
    runtime: Runtime = request.app.state.runtime
    return runtime


class RequestContextMiddleware:
    """Request id and trace context for logs and events; Prometheus request metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        if len(request_id) > 128:
            request_id = uuid.uuid4().hex
        traceparent = child_traceparent(headers.get("traceparent"))
        set_trace(traceparent, request_id)
        language = set_language(preferred_language(headers.get("accept-language")))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                    (b"traceparent", traceparent.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], route_path, str(status)).inc()
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], route_path).observe(elapsed)
            if route_path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http_request",
                    method=scope["method"],
                    route=route_path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            reset_language(language)


# ``\u0000`` in a JSON string (an even number of backslashes before it would make it literal text)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class BodyLimitMiddleware:
    """Refuse request bodies above the route's limit with 413 problem+json, before buffering more than the limit,
    and JSON bodies with a NUL character in a string (422 ``invalid_text``: Postgres text cannot hold one).

    The limit is ``default_limit`` unless the matched route declares ``openapi_extra={"x-max-body-bytes": N}``
    (file imports). A declared ``Content-Length`` above the limit is refused without reading the body; a streamed
    body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, *, service: str, default_limit: int) -> None:
        self.app = app
        self.service = service
        self.default_limit = default_limit
        self._limits: dict[tuple[str, str], int] = {}

    def _limit_for(self, scope: Scope) -> int:
        from starlette.routing import Match

        key = (scope["method"], scope["path"])
        cached = self._limits.get(key)
        if cached is not None:
            return cached
        limit = self.default_limit
        for route in scope["app"].router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                extra = getattr(route, "openapi_extra", None) or {}
                limit = int(extra.get("x-max-body-bytes", self.default_limit))
                break
        if len(self._limits) < 10_000:
            self._limits[key] = limit
        return limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            more = message.get("more_body", False)
        if _JSON_NUL.search(body) and b"json" in dict(scope["headers"]).get(b"content-type", b""):
            # a NUL character cannot be stored in a Postgres text column: refused here, for every operation
            response = problem_response(
                422, "invalid_text", "Text contains a NUL character", "no string may contain U+0000"
            )
            await response(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        metrics.REQUESTS_TOO_LARGE.labels(self.service).inc()
        response = problem_response(
            413,
            "payload_too_large",
            "The request body is too large",
            f"this operation accepts at most {limit} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


async def _build_runtime(defn: ServiceDefinition) -> Runtime:
    settings = defn.settings
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        transaction_pooler=settings.db_transaction_pooler,
        pre_ping=settings.db_pre_ping,
    )
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    runtime = Runtime(
        settings=settings, infra=defn.infra, engine=engine, sessionmaker=sessionmaker, uow_class=defn.uow_class
    )
    if defn.clock is not None:
        runtime.clock = defn.clock
    return runtime


async def _connect_messaging(defn: ServiceDefinition, runtime: Runtime, tasks: list[asyncio.Task[Any]]) -> None:
    """Connect to NATS (retrying while it is away), then start what needs it: streams, relay, consumers."""
    settings = runtime.settings
    service = settings.service_name
    metrics.NATS_CONNECTED.labels(service).set(0)
    delay = 0.5
    while runtime.nats is None:
        try:
            runtime.nats = await connect_nats(settings.nats_url, name=service)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("nats_connect_failed", error=type(exc).__name__, retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    metrics.NATS_CONNECTED.labels(service).set(1)
    runtime.js = runtime.nats.jetstream()
    while True:
        try:
            if defn.produces_events:
                await ensure_event_stream(
                    runtime.js,
                    settings.database_name,
                    replicas=settings.stream_replicas,
                    max_age_s=settings.stream_max_age_days * 86400,
                    max_bytes=settings.stream_max_bytes,
                )
            if defn.on_messaging_ready is not None:
                await defn.on_messaging_ready(runtime)
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # JetStream not ready yet (a cluster electing its leader, a restart)
            log.warning("streams_not_ready", error=str(exc)[:200], retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    if defn.produces_events and settings.relay_enabled:
        runtime.relay = OutboxRelay(
            runtime.sessionmaker,
            runtime.infra,
            runtime.js,
            service=service,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
    if defn.consumers is not None and settings.consumers_enabled:
        for spec in defn.consumers(runtime):
            if spec.after_commit is None:
                spec.after_commit = runtime.wake_relay
            runner = ConsumerRunner(spec, runtime.sessionmaker, runtime.infra, runtime.js, service=service)
            runtime.consumers.append(runner)
            tasks.append(asyncio.create_task(runner.run(), name=f"consumer-{spec.name}"))
    runtime.messaging_ready.set()
    log.info("messaging_ready")


def infrastructure_retention(runtime: Runtime) -> PeriodicJob:
    """Purge sent outbox rows, inbox rows, idempotency records and dead letters older than ``RETENTION_DAYS``."""
    from renovation_common.db import purge_infrastructure

    settings = runtime.settings

    async def purge(rt: Runtime) -> None:
        await purge_infrastructure(rt.sessionmaker, rt.infra, older_than_days=settings.retention_days)

    return PeriodicJob("infrastructure-retention", settings.retention_interval_s, purge)


async def _bounded(step: str, awaitable: Awaitable[Any], timeout_s: float) -> None:
    """One shutdown step with a time budget: a stuck step is logged and skipped, never a hung process."""
    try:
        await asyncio.wait_for(awaitable, timeout=timeout_s)
    except TimeoutError:
        log.error("shutdown_step_timed_out", step=step, timeout_s=timeout_s)
    except Exception as exc:
        log.warning("shutdown_step_failed", step=step, error=type(exc).__name__)


async def _shutdown(runtime: Runtime, tasks: list[asyncio.Task[Any]]) -> None:
    """Stop background work, then NATS, then the database, each within its own budget."""
    for task in tasks:
        task.cancel()
    if tasks:
        # a task still running after a while is cancelled again: on Python < 3.12 an ``asyncio.wait_for`` inside
        # it (asyncpg's connect and commands use them) can swallow a cancellation that lands as its inner call
        # completes, and a periodic job would then go back to sleeping for its interval
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        pending: set[asyncio.Task[Any]] = set(tasks)
        while pending and loop.time() < deadline:
            _, pending = await asyncio.wait(pending, timeout=min(2.5, max(0.0, deadline - loop.time())))
            for task in pending:
                task.cancel()
        for task in pending:
            log.error("shutdown_task_did_not_stop", task=task.get_name())
    for runner in runtime.consumers:
        await _bounded(f"unsubscribe {runner.spec.name}", runner.close(), 3)
    if runtime.nats is not None:
        # Every publish was awaited with its JetStream ack: nothing is left to flush, so drain briefly.
        await _bounded("nats drain", runtime.nats.drain(), 5)
        if not runtime.nats.is_closed:
            await _bounded("nats close", runtime.nats.close(), 3)
        metrics.NATS_CONNECTED.labels(runtime.settings.service_name).set(0)
    await _bounded("database pool", runtime.engine.dispose(), 10)


def create_app(defn: ServiceDefinition) -> FastAPI:
    settings = defn.settings
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await _build_runtime(defn)
        app.state.runtime = runtime
        app.state.sessionmaker = runtime.sessionmaker
        app.state.infra = runtime.infra
        tasks: list[asyncio.Task[Any]] = []
        try:
            if defn.on_startup is not None:
                await defn.on_startup(runtime)
            tasks.append(asyncio.create_task(_connect_messaging(defn, runtime, tasks), name="messaging"))
            if settings.workers_enabled:
                workers: list[Worker] = [infrastructure_retention(runtime)]
                if defn.workers is not None:
                    workers += defn.workers(runtime)
                for worker in workers:
                    tasks.append(asyncio.create_task(worker(runtime), name=getattr(worker, "__name__", "worker")))
            log.info("service_started", port=settings.port)
            yield
        finally:
            if runtime.relay is not None:
                runtime.relay.stop()
            for runner in runtime.consumers:
                runner.stop()
            await _shutdown(runtime, tasks)
            log.info("service_stopped")

    app = FastAPI(
        title=defn.title,
        description=defn.description + API_CONVENTIONS,
        version=defn.version,
        lifespan=lifespan,
        openapi_tags=defn.openapi_tags,
        responses=PROBLEM_RESPONSES,
        root_path=settings.root_path,
        servers=servers_for(settings.root_path, settings.public_base_url),
        docs_url=None,
        redoc_url=None,
        # the platform's request metrics and trace context are RequestContextMiddleware's (Prometheus,
        # traceparent); FastAPI's native OpenTelemetry, never configured here, looked up three global providers
        # (os.environ) on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_openapi(app)
    install_docs(app)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        secret=settings.jwt_secret,
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.state.idempotency_keys = KeyRing(settings.data_encryption_keys, purpose="idempotency")
    app.state.link_signer = LinkSigner(
        settings.data_encryption_keys, service=settings.service_name, ttl_s=settings.link_ttl_s
    )
    install_problem_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, service=settings.service_name, default_limit=settings.max_body_bytes)
    if settings.cors_allow_origins:  # outside the body limit and Idempotency-Key: their refusals carry CORS too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=settings.cors_max_age_s,
        )
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health_router())
    app.include_router(links_router())
    for router in defn.routers:
        app.include_router(router)
    return app


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        operation_id="healthz",
        summary="Liveness: the process is up",
        description='200 `{"status": "ok"}` while the process serves HTTP; it checks nothing else (an orchestrator '
        "restarts a process that stops answering). Needs no token.",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: the database is reachable (what accepting writes needs)",
        description="200 while the database answers, 503 otherwise. The broker is reported in `checks.nats` but "
        "does not decide readiness: while NATS is away the service keeps accepting writes into its outbox and the "
        "relay publishes them once the broker is back.",
        responses={503: {"description": "The database is not reachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks: dict[str, str] = {"database": "down", "nats": "down"}
        if runtime is not None:
            try:
                async with runtime.engine.connect() as conn:
                    await asyncio.wait_for(conn.execute(sa.text("select 1")), timeout=2)
                checks["database"] = "ok"
            except Exception as exc:
                log.warning("readiness_database_down", error=type(exc).__name__)
            if runtime.nats is not None and runtime.nats.is_connected:
                checks["nats"] = "ok"
        ok = checks["database"] == "ok"
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @router.get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics (scraped directly; refused through a gateway or ingress)",
        description="The Prometheus text exposition format (request counts and latencies, outbox, consumers, work "
        "loops, NATS connection). Needs no token, so a request that came through a proxy (`X-Forwarded-For` or "
        "`Forwarded`) is answered 404 unless `METRICS_THROUGH_PROXY=true`.",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            404: {**PROBLEM_RESPONSES[404], "description": "Requested through a proxy"},
        },
    )
    async def prometheus_metrics(request: Request) -> Response:
        forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
        if forwarded and not request.app.state.settings.metrics_through_proxy:
            return problem_response(404, "not_found", "Not Found")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve(factory: str, settings_class: type[ServiceSettings]) -> None:
    """Run a service under uvicorn (``python -m <package>``); ``factory`` is ``module:create_app``.

    The settings are validated first: a bad or unsafe configuration exits at once with one clear message, before
    any connection is attempted."""
    import uvicorn

    settings = load_settings(settings_class)

    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
