"""docs/asyncapi.json: valid for the official AsyncAPI parser (@asyncapi/parser), and true to what the webhooks
service really sends (headers and bodies of real deliveries validate against its schemas)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from renovation_common.devstack.catalog import ROOT

from .conftest import Node, RawDelivery, RealDeliveries

DOCUMENT = ROOT / "docs" / "asyncapi.json"


def test_official_parser_reports_no_error_or_warning(node: Node, tmp_path: Path):
    work = node.workdir(tmp_path / "asyncapi")
    out = json.loads(node.run("validate-asyncapi.mjs", DOCUMENT, cwd=work).strip().splitlines()[-1])
    assert out["parsed"] is True
    # severity 0 = error, 1 = warning (2 info, 3 hint)
    assert [d for d in out["diagnostics"] if d["severity"] <= 1] == [], out["diagnostics"]


def test_parser_rejects_a_broken_document(node: Node, tmp_path: Path):
    """The check can fail: a dangling message reference and a wrong address type are errors."""
    doc = json.loads(DOCUMENT.read_text())
    doc["operations"]["deliver_webhook"]["messages"].append({"$ref": "#/channels/webhook_delivery/messages/nope"})
    doc["channels"]["webhook_delivery"]["address"] = 5
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    work = node.workdir(tmp_path / "asyncapi")
    with pytest.raises(pytest.fail.Exception) as failed:
        node.run("validate-asyncapi.mjs", broken, cwd=work)
    assert "invalid-ref" in str(failed.value) and "address" in str(failed.value)


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
