"""The published AsyncAPI document is exactly what the event contracts generate."""

from __future__ import annotations

import json
from pathlib import Path

from renovation_common.asyncapi import build_document, render
from renovation_common.events import load_all_contracts

DOC = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"


def test_committed_document_matches_the_contracts():
    assert DOC.read_text() == render(), "regenerate: python -m renovation_common.asyncapi > docs/asyncapi.json"


def test_every_contract_has_a_channel_message_and_payload_schema():
    doc = build_document()
    assert doc["asyncapi"] == "3.1.0"
    contracts = load_all_contracts()
    bus = {k: c for k, c in doc["channels"].items() if c["servers"] == [{"$ref": "#/servers/jetstream"}]}
    assert {c["address"] for c in bus.values()} == {f"renovation.{t}" for t in contracts}
    for event_type, contract in contracts.items():
        key = event_type.replace(".", "_")
        schema = doc["components"]["schemas"][key]
        assert set(schema["properties"]) == set(contract.model.model_fields)
        assert doc["components"]["messages"][key]["name"] == event_type
        assert doc["components"]["messages"][f"webhook_{key}"]["name"] == event_type
    # the HTTP side: every event type and the ping are delivered to the receiver with the Standard Webhooks headers
    delivery = doc["channels"]["webhook_delivery"]
    assert delivery["servers"] == [{"$ref": "#/servers/receiver"}] and doc["servers"]["receiver"]["protocol"] == "https"
    delivered = {doc["components"]["messages"][k]["name"] for k in delivery["messages"]}
    assert delivered == {*contracts, "webhooks.endpoint.ping.v1"}
    headers = doc["components"]["schemas"]["WebhookHeaders"]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers["required"])
    assert doc["operations"]["deliver_webhook"]["bindings"]["http"]["method"] == "POST"
    # every $ref resolves inside the document
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node = doc
        for step in ref.split("/"):
            node = node[step]
