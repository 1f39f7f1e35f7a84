"""Every service's app starts on a migrated database and answers health, readiness, metrics, OpenAPI and docs."""

from __future__ import annotations

import importlib

import pytest

from renovation_common.devstack import SERVICES
from renovation_common.testing.plugin import eventually

TITLES = {
    "survey": "Survey service",
    "projects": "Projects service",
    "finance": "Finance service",
    "smart_community": "Smart-community service",
    "webhooks": "Webhooks service",
}


@pytest.mark.integration
@pytest.mark.parametrize("service", [s.package for s in SERVICES])
async def test_health_readiness_metrics_openapi_docs(service, service_client):
    module = importlib.import_module(f"{service}.entrypoints.app")
    _, client = await service_client(module.create_app, service)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text  # ready as soon as the database answers
    assert ready.json()["checks"]["database"] == "ok"

    async def broker_connected() -> bool:  # the broker connection is made beside the start, not before it
        return (await client.get("/readyz")).json()["checks"] == {"database": "ok", "nats": "ok"}

    await eventually(broker_connected, timeout_s=60)
    assert "http_requests_total" in (await client.get("/metrics")).text
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == TITLES[service]
    assert (await client.get("/docs")).status_code == 200
