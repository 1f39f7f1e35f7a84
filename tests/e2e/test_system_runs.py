"""The five services run as real processes on one Postgres and one NATS, and survive a kill -9."""

from __future__ import annotations

import httpx

from renovation_common.devstack import SERVICES


async def test_all_services_ready_with_docs(system):
    async with httpx.AsyncClient(timeout=5) as client:
        for svc in SERVICES:
            base = system.url(svc.name)
            ready = await client.get(base + "/readyz")
            assert ready.json() == {"status": "ok", "checks": {"database": "ok", "nats": "ok"}}
            assert (await client.get(base + "/openapi.json")).json()["openapi"].startswith("3.1")
            assert "outbox_backlog" in (await client.get(base + "/metrics")).text


async def test_a_killed_service_restarts_on_its_data(system):
    system.kill("finance")
    system.start("finance")
    await system.wait_ready("finance")
