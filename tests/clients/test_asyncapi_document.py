"""docs/asyncapi.json: valid for the official AsyncAPI parser (@asyncapi/parser), and true to what the webhooks
service really sends (headers and bodies of real deliveries validate against its schemas)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from renovation_common.devstack.catalog import ROOT

from .conftest import Node, RawDelivery, RealDeliveries

DOCUMENT = ROOT / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def parsed(node: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The parser's verdict on the committed document and on a broken copy of it (one node process for both)."""
    doc = json.loads(DOCUMENT.read_text())
    doc["operations"]["deliver_webhook"]["messages"].append({"$ref": "#/channels/webhook_delivery/messages/nope"})
    doc["channels"]["webhook_delivery"]["address"] = 5
    folder = tmp_path_factory.mktemp("asyncapi")
    broken = folder / "broken.json"
    broken.write_text(json.dumps(doc))
    work = node.workdir(folder / "work")
    done = subprocess.run(
        [str(node.node), "validate-asyncapi.mjs", str(DOCUMENT), str(broken)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 2, done.stdout + done.stderr
    assert done.returncode == 1  # the broken copy fails the run
    return {"committed": results[0], "broken": results[1]}


def test_official_parser_reports_no_error_or_warning(parsed):
    committed = parsed["committed"]
    assert committed["parsed"] is True
    # severity 0 = error, 1 = warning (2 info, 3 hint)
    assert [d for d in committed["diagnostics"] if d["severity"] <= 1] == [], committed["diagnostics"]


def test_parser_rejects_a_broken_document(parsed):
    """The check can fail: a dangling message reference and a wrong address type are errors."""
    errors = [d for d in parsed["broken"]["diagnostics"] if d["severity"] == 0]
    assert {d["code"] for d in errors} >= {"invalid-ref"}
    assert any(d["path"] == "channels/webhook_delivery/address" for d in errors), errors


def validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:asyncapi#{pointer}"}, registry=registry, format_checker=FormatChecker())


def check(doc: dict[str, Any], delivery: RawDelivery, message_key: str) -> None:
    message = doc["components"]["messages"][message_key]
    assert message["traits"] == [{"$ref": "#/components/messageTraits/webhookDelivery"}]
    headers = {k: v for k, v in delivery.headers.items() if k.startswith("webhook-") or k in ("content-type",)}
    errors = [e.message for e in validator(doc, "/components/schemas/WebhookHeaders").iter_errors(headers)]
    assert errors == [], (headers, errors)
    body = json.loads(delivery.body)
    errors = [e.message for e in validator(doc, f"/components/messages/{message_key}/payload").iter_errors(body)]
    assert errors == [], (body, errors)
    assert delivery.headers["webhook-id"] == body["id"]


@pytest.mark.integration
async def test_real_deliveries_match_the_http_side_of_the_document(real_deliveries: RealDeliveries):
    doc = json.loads(DOCUMENT.read_text())
    check(doc, real_deliveries.ping, "webhook_webhooks_endpoint_ping_v1")
    check(doc, real_deliveries.event, "webhook_survey_community_registered_v1")
    # and the schema is not vacuous: a ping without its data, or an unsigned request, does not validate
    ping = json.loads(real_deliveries.ping.body)
    assert list(
        validator(doc, "/components/messages/webhook_webhooks_endpoint_ping_v1/payload").iter_errors(
            {**ping, "data": {}}
        )
    )
    unsigned = {"webhook-id": ping["id"], "webhook-timestamp": "1", "content-type": "application/json"}
    assert list(validator(doc, "/components/schemas/WebhookHeaders").iter_errors(unsigned))
