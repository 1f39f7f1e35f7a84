"""The app factory: one FastAPI skeleton for every service.

Nothing is created at import time. :func:`create_app` returns an app whose lifespan builds the engine, the NATS
connection, the outbox relay, the consumers and any background workers of the service, and tears them down in
reverse order. Routes get a :class:`Runtime` (``Depends(get_runtime)``) and open a unit of work from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renovation_common import metrics
from renovation_common.auth import TokenVerifier
from renovation_common.db import InfrastructureTables, UnitOfWork, create_engine
from renovation_common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, install_problem_handlers
from renovation_common.idempotency import IdempotencyMiddleware
from renovation_common.logs import configure_logging
from renovation_common.messaging import (
    ConsumerRunner,
    ConsumerSpec,
    OutboxRelay,
    connect_nats,
    ensure_event_stream,
)
from renovation_common.settings import ServiceSettings
from renovation_common.tracing import child_traceparent, set_trace

log = structlog.get_logger("renovation.app")


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
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The service's clock: the wall clock, or the one a test injected through ``ServiceDefinition.clock``."""

    def uow(self) -> UnitOfWork:
        return self.uow_class(self.sessionmaker, self.infra, on_commit_events=self.wake_relay)

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
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None
    produces_events: bool = True
    clock: Callable[[], datetime] | None = None  # tests inject a controllable clock; None = the wall clock


def get_runtime(request: Request) -> Runtime:
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


async def _build_runtime(defn: ServiceDefinition) -> Runtime:
    settings = defn.settings
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        transaction_pooler=settings.db_transaction_pooler,
    )
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    runtime = Runtime(
        settings=settings, infra=defn.infra, engine=engine, sessionmaker=sessionmaker, uow_class=defn.uow_class
    )
    if defn.clock is not None:
        runtime.clock = defn.clock
    return runtime


async def _start_messaging(defn: ServiceDefinition, runtime: Runtime, tasks: list[asyncio.Task[Any]]) -> None:
    settings = runtime.settings
    runtime.nats = await connect_nats(settings.nats_url, name=settings.service_name)
    runtime.js = runtime.nats.jetstream()
    if defn.produces_events:
        await ensure_event_stream(runtime.js, settings.database_name, replicas=settings.stream_replicas)
        if settings.relay_enabled:
            runtime.relay = OutboxRelay(
                runtime.sessionmaker,
                runtime.infra,
                runtime.js,
                service=settings.service_name,
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
            )
            tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
    if defn.consumers is not None and settings.consumers_enabled:
        for spec in defn.consumers(runtime):
            if spec.after_commit is None:
                spec.after_commit = runtime.wake_relay
            runner = ConsumerRunner(
                spec, runtime.sessionmaker, runtime.infra, runtime.js, service=settings.service_name
            )
            runtime.consumers.append(runner)
            tasks.append(asyncio.create_task(runner.run(), name=f"consumer-{spec.name}"))


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
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            log.error("shutdown_task_did_not_stop", task=task.get_name())
    for runner in runtime.consumers:
        await _bounded(f"unsubscribe {runner.spec.name}", runner.close(), 3)
    if runtime.nats is not None:
        # Every publish was awaited with its JetStream ack: nothing is left to flush, so drain briefly.
        await _bounded("nats drain", runtime.nats.drain(), 5)
        if not runtime.nats.is_closed:
            await _bounded("nats close", runtime.nats.close(), 3)
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
            await _start_messaging(defn, runtime, tasks)
            if defn.on_startup is not None:
                await defn.on_startup(runtime)
            if defn.workers is not None:
                for worker in defn.workers(runtime):
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
        description=defn.description,
        version=defn.version,
        lifespan=lifespan,
        openapi_tags=defn.openapi_tags,
        responses=PROBLEM_RESPONSES,
        root_path=settings.root_path,
    )
    _document_problems_as_problem_json(app)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        secret=settings.jwt_secret,
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    install_problem_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(health_router())
    for router in defn.routers:
        app.include_router(router)
    return app


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """Error bodies are sent as ``application/problem+json``; FastAPI documents a response ``model`` under the
    route's media type (``application/json``). Move the Problem schema to the media type actually sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for item in schema.get("paths", {}).values():
                for op in item.values():
                    for response in (op.get("responses", {}) if isinstance(op, dict) else {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content and not content[PROBLEM_JSON] and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", operation_id="healthz", summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: database and NATS reachable",
        responses={503: {"description": "A dependency is not reachable"}},
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
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @router.get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics (scraped directly; refused through a gateway or ingress)",
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
            return JSONResponse(
                {"type": "about:blank", "title": "Not Found", "status": 404, "code": "not_found"},
                status_code=404,
                media_type="application/problem+json",
            )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve(factory: str, settings: ServiceSettings) -> None:
    """Run a service under uvicorn (``python -m <package>``); ``factory`` is ``module:create_app``."""
    import uvicorn

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
