"""Schemathesis against every service's OpenAPI document, in-process, on a real database and real NATS.

For each service: the app runs (lifespan included) on a fresh migrated database, a small world is seeded in the
home scope (``tests/authz/world.py``), and every operation of the app's own OpenAPI document is fuzzed:

* **positive** cases (valid by the schema), with the path parameters fixed to seeded resources, so handlers run
  on real rows instead of answering 404;
* **negative** cases (schema-violating bodies, queries and path parameters) with generated path parameters.

Each request carries a token of a role the operation admits (from the authorisation matrix; district admin
where allowed), scoped to the seeded home. Every response must pass: no 5xx (``not_a_server_error``), a status
code the operation documents, a documented content type, a body valid against the documented schema, and
documented response headers. Negative cases must get the same (so: a 4xx, never a 5xx). Schemathesis'
``negative_data_rejection`` is deliberately not run: pydantic's lax mode accepts a few inputs the schema does
not name (``from=0.0`` as a Unix timestamp for a date-time query, ``"1"`` for an integer) — tolerance, not a
defect, and never a 5xx.

Examples per operation and mode: ``FUZZ_EXAMPLES`` (default 20; ``FUZZ_EXAMPLES=200`` for a long run, see
docs/benchmarks.md). Generation is derandomised (same cases every run) unless ``FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
from collections import Counter
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from renovation_common.auth import Role
from renovation_common.devstack import SERVICES

from ..authz.test_matrix import TABLE
from ..authz.world import APP_SETTINGS, COMMON_SETTINGS, SEEDERS, headers_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("FUZZ_RANDOM", "") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Preferred role per operation: the widest-reaching one the matrix admits.
PREFERENCE = [
    Role.DISTRICT_ADMIN,
    Role.GOV_SYSTEM,
    Role.STREET_OFFICER,
    Role.COMMUNITY_WORKER,
    Role.CONTRACTOR,
    Role.QUALITY_SUPERVISOR,
    Role.OPERATOR,
    Role.FINANCE_OFFICER,
    Role.DEVICE_GATEWAY,
    Role.RESIDENT,
]
# Operations that would spoil the seeded world for the rest of the run if fuzzed first.
LAST = {"deleteSubscription"}


def _role_for(service: str, op_id: str) -> Role:
    allowed = TABLE[(service, op_id)]
    # an operation no role is admitted to (signed provider callbacks) gets a token it ignores
    return next((r for r in PREFERENCE if r in allowed), Role.DISTRICT_ADMIN)


def _seeded_path(seeds: Any, op_id: str, path: str) -> dict[str, str] | None:
    names = re.findall(r"\{([^}]+)\}", path)
    values = {n: seeds.per_op.get(op_id, {}).get(n) or seeds.params.get(n) for n in names}
    return values if all(values.values()) else None


class Runner:
    """Runs hypothesis in a worker thread; each request goes to the app on the test's event loop."""

    def __init__(self, service: str, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, seeds: Any, tok):
        self.service, self.client, self.loop, self.seeds, self.tok = service, client, loop, seeds, tok
        self.failures: list[str] = []
        self.calls = 0
        self.statuses: Counter[int] = Counter()

    def send(self, case: Any, headers: dict[str, str]) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        prepared = requests.Request(**{k: v for k, v in kwargs.items() if k != "cookies"}).prepare()
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        coro = self.client.request(prepared.method, prepared.url, headers=dict(prepared.headers), content=body)
        self.calls += 1
        response = asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)
        self.statuses[response.status_code] += 1
        return response

    def fuzz(self, operation: Any, mode: GenerationMode) -> None:
        op_id = operation.definition.raw.get("operationId")
        headers = self.tok(_role_for(self.service, op_id))
        fixed = _seeded_path(self.seeds, op_id, operation.path) if mode is GenerationMode.POSITIVE else None
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time, the failing case is reported
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = self.send(case, headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                self.failures.append(f"--- {self.service} {op_id}: no valid request can be generated")
            # negative: nothing in the request can be made invalid (no parameters, no body)
        except (Exception, BaseExceptionGroup) as exc:  # collect, keep fuzzing the other operations
            self.failures.append(
                f"--- {self.service} {operation.method.upper()} {operation.path} "
                f"({op_id}, {mode.value}):\n{str(exc)[:3000]}"
            )

    def fuzz_all(self, schema: Any) -> None:
        operations = [result.ok() for result in schema.get_all_operations()]
        operations.sort(key=lambda o: o.definition.raw.get("operationId") in LAST)
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                self.fuzz(operation, mode)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_fuzz_openapi(service, service_client, make_token):
    info = next(s for s in SERVICES if s.name == service)
    module = importlib.import_module(f"{info.package}.entrypoints.app")
    app, client = await service_client(module.create_app, service, **COMMON_SETTINGS, **APP_SETTINGS[service])
    seeds = await SEEDERS[service](app, client, make_token)
    schema = schemathesis.openapi.from_dict(app.openapi())
    runner = Runner(
        service, client, asyncio.get_running_loop(), seeds, lambda role: headers_for(make_token, role, seeds.home)
    )
    await asyncio.to_thread(runner.fuzz_all, schema)
    print(f"{service}: {runner.calls} requests, statuses {dict(sorted(runner.statuses.items()))}")
    assert runner.calls > 0
    assert not runner.failures, f"{len(runner.failures)} operation(s) failed:\n" + "\n".join(runner.failures)


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_documented_media_types_are_the_ones_sent(service):
    """Error bodies are documented under application/problem+json (with the Problem schema), /metrics as text."""
    info = next(s for s in SERVICES if s.name == service)
    module = importlib.import_module(f"{info.package}.entrypoints.app")
    spec = module.create_app(database_url="postgresql://u@127.0.0.1:1/u", nats_url="nats://127.0.0.1:1").openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                content = response.get("content", {})
                if status in {"400", "401", "403", "404", "409", "422"}:
                    assert "application/json" not in content, f"{method} {path} {status}"
                    assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert list(spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
