"""Issue 14: webhook deliveries keep their per-endpoint limit across replicas. Two replicas of the service on one
database and one broker: each dispatcher may have several requests in flight, together they never exceed the
endpoint's ``max_concurrency``, and every event reaches the receiver exactly once."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

from renovation_common.testing.plugin import eventually, running_app
from webhooks.entrypoints.app import create_app

from .conftest import dispatcher_of, subscribe


async def test_two_replicas_together_keep_an_endpoints_concurrency_limit(
    database_factory, stack, receiver, gov, publish
):
    url = await database_factory("webhooks")
    settings: dict[str, Any] = {
        "nats_url": stack.nats_url,
        "log_json": False,
        "allowed_target_networks": ["127.0.0.0/8"],
        "dispatcher_poll_interval_s": 0.1,
    }
    receiver.routes["/limited"] = (200, {}, 0.25)
    district = f"d-{uuid.uuid4().hex[:8]}"
    sent_by: dict[str, int] = {"a": 0, "b": 0}
    b_running = asyncio.Event()
    async with AsyncExitStack() as es:
        # replica a may hold 2 requests, replica b 8: alone, b would send up to 8 at once to the endpoint. Replica a
        # starts first and its requests wait until b runs, so both replicas hold leases at once: a holds at most 2 of
        # the endpoint's 3, and the third can only go to b (a dispatcher that finishes a request leases the next in
        # the same transaction, so without this a replica can keep every slot to itself)
        apps = [create_app(database_url=url, dispatcher_max_in_flight=n, **settings) for n in (2, 8)]
        clients = [await es.enter_async_context(running_app(apps[0]))]

        def count(app: Any, name: str) -> None:
            sender = dispatcher_of(app).sender
            original = sender.send

            async def counting(url: str, body: bytes, headers: dict[str, str]) -> Any:
                sent_by[name] += 1
                await b_running.wait()
                return await original(url, body, headers)

            sender.send = counting

        count(apps[0], "a")
        await subscribe(clients[0], gov(district_id=district), receiver, district, path="/limited", max_concurrency=3)
        events = [await publish(district) for _ in range(18)]

        async def a_sending() -> bool:
            return sent_by["a"] >= 1

        await eventually(a_sending, timeout_s=60)
        clients.append(await es.enter_async_context(running_app(apps[1])))
        count(apps[1], "b")  # the dispatcher exists once the app has started
        b_running.set()

        async def all_delivered() -> bool:
            return sorted(set(receiver.ids("/limited"))) == sorted(events)

        await eventually(all_delivered, timeout_s=60)
    assert receiver.max_in_flight["/limited"] <= 3
    assert sorted(receiver.ids("/limited")) == sorted(events)  # each once
    assert sent_by["a"] >= 1 and sent_by["b"] >= 1, sent_by  # both replicas sent
