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
    assert doc["asyncapi"] == "3.0.0"
    contracts = load_all_contracts()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {f"renovation.{t}" for t in contracts}
    for event_type, contract in contracts.items():
        key = event_type.replace(".", "_")
        schema = doc["components"]["schemas"][key]
        assert set(schema["properties"]) == set(contract.model.model_fields)
        assert doc["components"]["messages"][key]["name"] == event_type
    # every $ref resolves inside the document
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node = doc
        for step in ref.split("/"):
            node = node[step]
