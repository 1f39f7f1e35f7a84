"""The dispatcher: claims due deliveries, POSTs them signed, records every attempt and schedules retries.

* Claims lease rows (``lease_expires_at``) in a short transaction; the HTTP call runs outside any transaction and
  its result is recorded in a second one. A process that dies mid-flight leaves a lease that simply expires: the
  delivery is sent again with the same ``webhook-id`` (at-least-once; receivers de-duplicate on it).
* At most ``max_concurrency`` deliveries per endpoint are in flight (enforced in the claim, across replicas), and
  at most ``max_in_flight`` per process, so one slow receiver cannot hold up the others.
* The schedule (``next_attempt_at``) uses the injected clock; the ``webhook-timestamp`` header is the wall-clock
  second of the request, since receivers check it against their own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common.db import UnitOfWork
from webhooks.adapters import repository as repo
from webhooks.adapters.http import SendResult, WebhookSender
from webhooks.domain.retry import Outcome, classify, decide_after_failure, parse_retry_after
from webhooks.domain.signing import webhook_headers
from webhooks.domain.subscriptions import signing_secrets, truncate_body
from webhooks.service_layer.context import Clock, Context, system_clock
from webhooks.service_layer.subscriptions import disabled_event

log = structlog.get_logger("webhooks.dispatcher")

ATTEMPTS = Counter("webhook_deliveries_total", "Delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("webhooks_delivery_latency_seconds", "Latency of delivery attempts")


def render_body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        uow_factory: Callable[[], UnitOfWork],
        ctx: Context,
        sender: WebhookSender,
        *,
        lease_s: float = 60.0,
        max_in_flight: int = 32,
        poll_interval_s: float = 1.0,
        signing_clock: Clock = system_clock,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._uow = uow_factory
        self.ctx = ctx
        self.sender = sender
        self.lease = timedelta(seconds=lease_s)
        self.max_in_flight = max_in_flight
        self.poll_interval_s = poll_interval_s
        self.signing_clock = signing_clock
        self.jitter = jitter
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def claim(self, limit: int) -> list[repo.Claimed]:
        now = self.ctx.clock()
        async with self._sessionmaker() as session, session.begin():
            return await repo.claim_due(session, now=now, lease_until=now + self.lease, limit=limit)

    async def run_once(self) -> int:
        """Claim what is due now and deliver it; returns the number of attempts made (tests, benchmarks)."""
        claimed = await self.claim(self.max_in_flight)
        await asyncio.gather(*(self.deliver(c) for c in claimed))
        return len(claimed)

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    free = self.max_in_flight - len(self._tasks)
                    if free > 0:
                        for claimed in await self.claim(free):
                            task = asyncio.create_task(self.deliver(claimed))
                            self._tasks.add(task)
                            task.add_done_callback(self._done)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database down: keep trying
                    log.warning("dispatcher_error", error=str(exc)[:300])
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def deliver(self, claimed: repo.Claimed) -> None:
        try:
            now = self.ctx.clock()
            secrets = signing_secrets(
                self.ctx.box.open(claimed.secret_encrypted),
                self.ctx.box.open(claimed.previous_secret_encrypted) if claimed.previous_secret_encrypted else None,
                claimed.previous_secret_expires_at,
                now,
            )
            body = render_body(claimed.payload)
            headers = webhook_headers(secrets, str(claimed.event_id), self.signing_clock(), body)
            result = await self.sender.send(claimed.url, body.encode(), headers)
            await self.record(claimed, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the lease expires and the delivery is tried again
            log.warning("delivery_record_failed", delivery_id=str(claimed.delivery_id), error=str(exc)[:300])

    async def record(self, claimed: repo.Claimed, result: SendResult) -> str:
        now = self.ctx.clock()
        LATENCY.observe(result.latency_ms / 1000)
        uow = self._uow()
        async with uow:
            session = uow.session
            sub = await repo.get_subscription(session, claimed.subscription_id, for_update=True)  # sub first
            delivery = await repo.get_delivery(session, claimed.delivery_id, for_update=True)
            if sub is None or delivery is None:
                return "gone"
            attempt = {
                "delivery_id": claimed.delivery_id,
                "attempt_no": claimed.attempt_no,
                "attempted_at": now,
                "url": claimed.url,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "response_body": truncate_body(result.body, self.sender.body_limit) if result.body else None,
                "error": result.error[:500] if result.error else None,
            }
            if classify(result.status_code) is Outcome.SUCCEEDED and result.error is None:
                outcome = Outcome.SUCCEEDED.value
                await repo.insert_attempt(session, {**attempt, "outcome": outcome})
                await repo.update_delivery(
                    session,
                    claimed.delivery_id,
                    {
                        "status": "succeeded",
                        "delivered_at": now,
                        "lease_expires_at": None,
                        "last_status_code": result.status_code,
                        "last_error": None,
                        "updated_at": now,
                    },
                )
                if sub.failing_since is not None:
                    await repo.update_subscription(session, sub.id, {"failing_since": None})
            else:
                decision = decide_after_failure(
                    status_code=result.status_code,
                    failures=delivery.round_failures + 1,
                    now=now,
                    jitter_unit=self.jitter(),
                    retry_after=parse_retry_after(result.retry_after, now),
                    failing_since=sub.failing_since,
                )
                outcome = decision.outcome.value
                await repo.insert_attempt(session, {**attempt, "outcome": outcome})
                await repo.update_delivery(
                    session,
                    claimed.delivery_id,
                    {
                        "status": "pending" if decision.outcome is Outcome.RETRY else "failed",
                        "next_attempt_at": decision.next_attempt_at or delivery.next_attempt_at,
                        "round_failures": delivery.round_failures + 1,
                        "lease_expires_at": None,
                        "last_status_code": result.status_code,
                        "last_error": (result.error or f"HTTP {result.status_code}")[:500],
                        "updated_at": now,
                    },
                )
                if sub.failing_since is None:
                    await repo.update_subscription(session, sub.id, {"failing_since": now})
                if decision.disable_endpoint is not None:
                    disabled = await repo.disable_if_enabled(session, sub.id, reason=decision.disable_endpoint, now=now)
                    if disabled is not None:
                        uow.publish(disabled_event(disabled, decision.disable_endpoint, now))
                        log.warning("endpoint_disabled", subscription_id=str(sub.id), reason=decision.disable_endpoint)
            await uow.commit()
        ATTEMPTS.labels(outcome).inc()
        return outcome
