"""The TypeScript client an app developer generates: openapi-typescript types of every service's OpenAPI document,
openapi-fetch calls, compiled with ``tsc --strict`` and run against the running services (``story.ts``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from renovation_common.settings import DEV_JWT_SECRET

from .conftest import HERE, Node, write_documents

pytestmark = pytest.mark.integration

DISTRICT, STREET = "510106", "51010601"  # a district of its own: the other suites' lists stay as they expect


async def test_typescript_client_generated_compiled_strict_and_driving_the_story(
    node: Node, openapi_documents, tmp_path: Path, system, make_receiver
):
    work = node.workdir(tmp_path / "ts")
    specs = write_documents(openapi_documents, tmp_path / "openapi")
    generated = work / "generated"
    generated.mkdir()
    args: list[str | Path] = []
    for name, spec in specs.items():
        args += [spec, generated / f"{name}.ts"]
    # any warning of the generator (or of its Redocly validation of the document) fails generate-ts.mjs
    node.run("generate-ts.mjs", *args, cwd=work)
    for name in specs:
        assert "export interface paths" in (generated / f"{name}.ts").read_text(), name

    shutil.copy(HERE / "story.ts", work / "story.ts")
    tsc = node.tool("typescript", "bin", "tsc")
    node.run(tsc, "-p", "tsconfig.json", "--strict", cwd=work)  # a type error fails the test (noEmitOnError)

    receiver = make_receiver()
    config = {
        "urls": {s: system.url(s) for s in specs},
        "jwt_secret": os.environ.get("JWT_SECRET") or DEV_JWT_SECRET,
        "district_id": DISTRICT,
        "street_id": STREET,
        "receiver_url": receiver.url(),
        "label": "TS客户端",
    }

    def on_line(line: str) -> None:
        message = json.loads(line)
        if "subscription_secret" in message:  # the endpoint's secret, shown to the client once
            receiver.secret = message["subscription_secret"]

    lines = await node.stream(
        work / "dist" / "story.js", cwd=work, env={"STORY_CONFIG": json.dumps(config)}, on_line=on_line, timeout=240
    )
    seen = json.loads(lines[-1])
    print("waited (ms):", seen["waited_ms"])

    assert seen["ping_delivery"]["status"] == "succeeded"
    assert seen["households"] == 3 and seen["synced"] == {"accepted": 3, "rejected": 0}
    assert seen["selected"] == ["greening", "rain_sewage_separation"]
    assert seen["project"]["community_id"] == seen["community_id"] and seen["project"]["packages"] >= 2
    assert seen["funding_plan"]["status"] == "approved" and seen["funding_plan"]["total_planned_fen"] == 1_050_000
    assert seen["alarms_raised"] == 1
    assert seen["alarms"] == [
        {"severity": "critical", "alarm_type": "gas", "household_id": seen["alarms"][0]["household_id"]}
    ]
    assert seen["approval_delivery"]["status"] == "succeeded"
    # the receiver verified (standardwebhooks) the ping and the approval the client saw as delivered
    verified = {d.webhook_id for d in receiver.snapshot() if d.verified}
    assert {seen["ping_delivery"]["event_id"], seen["approval_delivery"]["event_id"]} <= verified
    assert all(d.verified for d in receiver.snapshot())
