"""Issue 12, point 8: readiness does not depend on the broker.

A service starts and serves while NATS is unreachable, accepts writes into its outbox, reports the broker in
/readyz details and /metrics, and publishes what it holds once the broker comes up; SIGTERM stops it promptly even
while it is still trying to connect.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nats
import pytest
import sqlalchemy as sa

from renovation_common.devstack import pick_port, wait_for_port
from renovation_common.testing import bearer, eventually, running_app
from survey.entrypoints.app import create_app

pytestmark = pytest.mark.integration


def nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    return str(candidate) if candidate.exists() else "nats-server"


def start_nats(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    conf = tmp_path / "nats.conf"
    conf.write_text(f'listen: 127.0.0.1:{port}\njetstream {{ store_dir: "{tmp_path / "js"}" }}\n')
    proc = subprocess.Popen([nats_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 30, proc)
    return proc


async def test_a_service_serves_and_accepts_writes_while_the_broker_is_away(database_factory, make_token, tmp_path):
    port = pick_port()  # nothing listens here yet
    url = await database_factory("survey")
    app = create_app(database_url=url, nats_url=f"nats://127.0.0.1:{port}", log_json=False)
    admin = bearer(make_token("district_admin", district_id="510105"))
    broker: subprocess.Popen[bytes] | None = None
    try:
        async with running_app(app) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "nats": "down"}
            assert 'nats_connected{service="survey"} 0.0' in (await client.get("/metrics")).text
            created = await client.post(
                "/v1/communities",
                json={"name": "劲松北社区", "district_id": "510105", "street_id": "51010501"},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            outbox = app.state.runtime.infra.outbox

            async def pending() -> int:
                async with app.state.sessionmaker() as s:
                    return int(await s.scalar(sa.select(sa.func.count()).where(outbox.c.published_at.is_(None))))

            assert await pending() >= 1  # held in the outbox while the broker is away

            broker = start_nats(tmp_path, port)

            async def published() -> bool:
                return await pending() == 0

            await eventually(published, timeout_s=60)
            nc = await nats.connect(f"nats://127.0.0.1:{port}")
            try:
                info = await nc.jetstream().stream_info("SURVEY")
                assert info.state.messages >= 1
            finally:
                await nc.close()
            ready = await client.get("/readyz")
            assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(15)


async def test_sigterm_stops_a_service_still_waiting_for_the_broker(database_factory):
    port = pick_port()
    url = await database_factory("survey")
    http_port = pick_port()
    env = {
        **os.environ,
        "SURVEY_DATABASE_URL": url,
        "NATS_URL": f"nats://127.0.0.1:{port}",
        "SURVEY_PORT": str(http_port),
        "ENVIRONMENT": "test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "survey"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:

            async def serving() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return proc.poll() is not None

            await eventually(serving, timeout_s=120, interval_s=0.3)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 60:
            await asyncio.sleep(0.2)
        assert proc.returncode is not None, "SIGTERM did not stop the service"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
