"""The dispatcher: claims due deliveries, POSTs them signed, records every attempt and schedules retries.

* A :class:`~renovation_common.workers.WorkLoop` (``webhook-dispatcher``) runs :meth:`Dispatcher.step`: claim as
  many due deliveries as there are free slots and start sending them; woken by new deliveries (consumer, API) and
  by each finished send, otherwise polling every ``poll_interval_s``. Errors are logged, counted and retried.
* Claims lease rows (``lease_expires_at``) in a short transaction; the HTTP call runs outside any transaction and
  its result is recorded in a second one. Successes are recorded together (group commit): while one recording
  transaction runs, the successes that finish meanwhile wait for the next, which writes all of them in three
  statements (the endpoints' failure streaks cleared, the deliveries marked delivered, their attempts logged). A
  failure is recorded on its own, with the endpoint's row locked (retry schedule, 410, the 5-day rule). A process
  that dies mid-flight leaves a lease that simply expires: the delivery is sent again with the same ``webhook-id``
  (at-least-once; receivers de-duplicate on it).
* At most ``max_concurrency`` deliveries per endpoint are in flight (enforced in the claim, across replicas), and
  at most ``max_in_flight`` per process, so one slow receiver cannot hold up the others.
* The schedule (``next_attempt_at``) uses the service's clock (``ctx.clock``); the ``webhook-timestamp`` header is
  the ``signing_clock`` (the wall clock), since receivers check it against their own.
* Logs name a receiver by scheme, host and port and its subscription id, never by its full URL (the path or
  query string may carry a token) and never with a secret.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from prometheus_client import Counter, Histogram

from renovation_common.clock import Clock, system_clock
from renovation_common.db import UnitOfWork
from renovation_common.workers import WorkLoop
from webhooks.adapters.http import SendResult
from webhooks.adapters.repositories import DeliveryRepository, SubscriptionRepository
from webhooks.adapters.repositories.deliveries import Success
from webhooks.domain.model import Attempt, ClaimedDelivery
from webhooks.domain.retry import Outcome, classify, decide_after_failure, parse_retry_after
from webhooks.domain.signing import webhook_headers
from webhooks.domain.subscriptions import signing_secrets, truncate_body
from webhooks.domain.targets import scrub_url, without_query
from webhooks.service_layer.context import Context
from webhooks.service_layer.subscriptions import disabled_event

log = structlog.get_logger("webhooks.dispatcher")

SUCCESS_BATCH = 200  # successes recorded in one transaction at most

ATTEMPTS = Counter("webhook_deliveries_total", "Delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("webhooks_delivery_latency_seconds", "Latency of delivery attempts")


class Sender(Protocol):
    body_limit: int

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult: ...


def render_body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Dispatcher:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        ctx: Context,
        sender: Sender,
        *,
        lease_s: float = 60.0,
        max_in_flight: int = 32,
        poll_interval_s: float = 1.0,
        signing_clock: Clock = system_clock,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._uow = uow
        self.ctx = ctx
        self.sender = sender
        self.lease = timedelta(seconds=lease_s)
        self.max_in_flight = max_in_flight
        self.signing_clock = signing_clock
        self.jitter = jitter
        self._tasks: set[asyncio.Task[bool]] = set()
        self._successes: list[tuple[ClaimedDelivery, SendResult, datetime, asyncio.Future[str]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self.loop = WorkLoop("webhook-dispatcher", self.step, service="webhooks", poll_interval_s=poll_interval_s)

    def wake(self) -> None:
        self.loop.wake()

    def stop(self) -> None:
        self.loop.stop()

    async def claim(self, limit: int) -> list[ClaimedDelivery]:
        now = self.ctx.clock()
        async with self._uow() as uow:
            claimed = await DeliveryRepository(uow.session).claim_due(
                now=now, lease_until=now + self.lease, limit=limit
            )
            await uow.commit()
        return claimed

    async def step(self) -> bool:
        """Fill the free slots with due deliveries; True when every slot was filled (more may be due)."""
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return False  # a finished send wakes the loop
        claimed = await self.claim(free)
        self._start(claimed)
        return len(claimed) == free

    def _start(self, claimed: list[ClaimedDelivery]) -> None:
        for one in claimed:
            task = asyncio.create_task(self.deliver(one))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    async def run(self) -> None:
        try:
            await self.loop.run()
        finally:
            pending = [*self._tasks, *([self._recorder] if self._recorder is not None else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _done(self, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        refilled = not task.cancelled() and task.exception() is None and task.result()
        if not refilled:
            self.loop.wake()  # a free slot: claim (a recorded success has had its slot refilled, or woke the loop)

    async def deliver(self, claimed: ClaimedDelivery) -> bool:
        """Send one delivery and record the attempt; True when its slot was refilled by the success recorder."""
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
            return await self.record(claimed, result) in (Outcome.SUCCEEDED.value, "gone")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the lease expires and the delivery is tried again
            log.warning(
                "delivery_not_recorded",
                delivery_id=str(claimed.delivery_id),
                subscription_id=str(claimed.subscription_id),
                receiver=claimed.receiver,
                error=scrub_url(f"{type(exc).__name__}: {exc}", claimed.url)[:300],
            )
            return False

    async def record(self, claimed: ClaimedDelivery, result: SendResult) -> str:
        LATENCY.observe(result.latency_ms / 1000)
        if classify(result.status_code) is Outcome.SUCCEEDED and result.error is None:
            outcome = await self._record_success(claimed, result)
            ATTEMPTS.labels(outcome).inc()
            log.debug(  # every attempt is in the attempt log; failures are warnings
                "webhook_attempt",
                subscription_id=str(claimed.subscription_id),
                delivery_id=str(claimed.delivery_id),
                receiver=claimed.receiver,
                attempt_no=claimed.attempt_no,
                status_code=result.status_code,
                outcome=outcome,
                latency_ms=result.latency_ms,
            )
            return outcome
        return await self._record_failure(claimed, result)

    async def _record_success(self, claimed: ClaimedDelivery, result: SendResult) -> str:
        """Queue a success for the next recording transaction and wait until it committed."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._successes.append((claimed, result, self.ctx.clock(), future))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_successes(), name="webhook-success-recorder")
        return await future

    async def _record_successes(self) -> None:
        """Record the queued successes, a batch per transaction, and start sending what that transaction leased
        into the freed slots (the claim's work for those endpoints, done in the same commit)."""
        while self._successes:
            batch, self._successes = self._successes[:SUCCESS_BATCH], self._successes[SUCCESS_BATCH:]
            now = self.ctx.clock()
            # The batch's own tasks still count in self._tasks: their slots are the ones being refilled, with the
            # next due deliveries of the same endpoints. Not when the process is at its limit: then other endpoints
            # may be waiting for a slot, and the claim (oldest due first, every endpoint) decides.
            saturated = len(self._tasks) >= self.max_in_flight
            free = 0 if saturated or self.loop.stopping else self.max_in_flight - len(self._tasks) + len(batch)
            try:
                async with self._uow() as uow:
                    recorded, leased = await DeliveryRepository(uow.session).record_successes(
                        [self._success(claimed, result, at) for claimed, result, at, _ in batch],
                        now=now,
                        lease_until=now + self.lease,
                        lease_limit=free,
                    )
                    await uow.commit()
            except asyncio.CancelledError:
                for *_, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # each waiting delivery logs it; its lease expires and it is sent again
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._start(leased)
            if len(leased) < len(batch):
                self.loop.wake()  # slots left free: the claim looks for other endpoints' deliveries
            for claimed, *_, future in batch:
                if not future.done():
                    future.set_result(Outcome.SUCCEEDED.value if claimed.delivery_id in recorded else "gone")

    def _success(self, claimed: ClaimedDelivery, result: SendResult, at: datetime) -> Success:
        return Success(
            claimed.delivery_id,
            claimed.subscription_id,
            Attempt(
                attempt_no=claimed.attempt_no,
                attempted_at=at,
                url=without_query(claimed.url),
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                outcome=Outcome.SUCCEEDED.value,
                response_body=truncate_body(result.body, self.sender.body_limit) if result.body else None,
                error=None,
            ),
        )

    async def _record_failure(self, claimed: ClaimedDelivery, result: SendResult) -> str:
        now = self.ctx.clock()
        error = scrub_url(result.error, claimed.url)[:500] if result.error else None
        async with self._uow() as uow:
            subscriptions = SubscriptionRepository(uow.session)
            deliveries = DeliveryRepository(uow.session)
            sub = await subscriptions.get(claimed.subscription_id, for_update=True)  # the subscription row first
            delivery = await deliveries.get(claimed.delivery_id, for_update=True)
            if sub is None or delivery is None:
                return "gone"
            attempt = Attempt(
                attempt_no=claimed.attempt_no,
                attempted_at=now,
                url=without_query(claimed.url),
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                outcome="",
                response_body=truncate_body(result.body, self.sender.body_limit) if result.body else None,
                error=error,
            )
            disabled_reason: str | None = None
            decision = decide_after_failure(
                status_code=result.status_code,
                failures=delivery.round_failures + 1,
                now=now,
                jitter_unit=self.jitter(),
                retry_after=parse_retry_after(result.retry_after, now),
                failing_since=sub.failing_since,
            )
            outcome = decision.outcome.value
            await deliveries.add_attempt(claimed.delivery_id, _with_outcome(attempt, outcome))
            await deliveries.update(
                claimed.delivery_id,
                status="pending" if decision.outcome is Outcome.RETRY else "failed",
                next_attempt_at=decision.next_attempt_at or delivery.next_attempt_at,
                round_failures=delivery.round_failures + 1,
                lease_expires_at=None,
                last_status_code=result.status_code,
                last_error=(error or f"HTTP {result.status_code}")[:500],
                updated_at=now,
            )
            if sub.failing_since is None:
                await subscriptions.update(sub.id, failing_since=now)
            if decision.disable_endpoint is not None:
                disabled = await subscriptions.disable_if_enabled(sub.id, reason=decision.disable_endpoint, now=now)
                if disabled is not None:
                    uow.publish(disabled_event(disabled, decision.disable_endpoint, now))
                    disabled_reason = decision.disable_endpoint
            await uow.commit()
        ATTEMPTS.labels(outcome).inc()
        fields = {
            "subscription_id": str(claimed.subscription_id),
            "delivery_id": str(claimed.delivery_id),
            "receiver": claimed.receiver,
            "attempt_no": claimed.attempt_no,
            "status_code": result.status_code,
            "outcome": outcome,
            "latency_ms": result.latency_ms,
        }
        log.warning("webhook_attempt", **fields, error=error)
        if disabled_reason is not None:
            log.warning(
                "endpoint_disabled",
                subscription_id=str(claimed.subscription_id),
                receiver=claimed.receiver,
                reason=disabled_reason,
            )
        return outcome


def _with_outcome(attempt: Attempt, outcome: str) -> Attempt:
    return replace(attempt, outcome=outcome)
