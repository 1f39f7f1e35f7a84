"""The smart-community app starts on a migrated database and answers health, readiness, metrics and OpenAPI."""

from smart_community.entrypoints.app import create_app


async def test_health_readiness_openapi(service_client):
    _, client = await service_client(create_app, "smart_community")
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}
    assert "http_requests_total" in (await client.get("/metrics")).text
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Smart-community service"
    assert (await client.get("/docs")).status_code == 200
