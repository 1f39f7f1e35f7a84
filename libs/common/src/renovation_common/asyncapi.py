"""AsyncAPI 3.0 document generated from the event contracts.

``python -m renovation_common.asyncapi > docs/asyncapi.json`` writes it; a test checks that the committed document
equals the generated one, so it never drifts from the contracts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from renovation_common.events import Contract, load_all_contracts

SERVICE_TITLES = {
    "survey": "Survey service",
    "projects": "Projects service",
    "finance": "Finance service",
    "smart_community": "Smart-community service",
    "webhooks": "Webhooks service",
}


def _key(contract: Contract) -> str:
    return contract.event_type.replace(".", "_")


def _hoist_defs(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic ``$defs`` into ``components/schemas`` and rewrite their references."""
    defs = schema.pop("$defs", {})
    for name, sub in defs.items():
        components.setdefault(name, sub)
    text = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
    hoisted: dict[str, Any] = json.loads(text)
    for name in list(defs):
        components[name] = json.loads(json.dumps(components[name]).replace("#/$defs/", "#/components/schemas/"))
    return hoisted


def build_document() -> dict[str, Any]:
    contracts = sorted(load_all_contracts().values(), key=lambda c: c.event_type)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "CloudEventEnvelope": {
            "type": "object",
            "description": "CloudEvents 1.0 structured JSON envelope; `data` holds the event payload.",
            "required": ["specversion", "id", "source", "type", "time", "data"],
            "properties": {
                "specversion": {"type": "string", "const": "1.0"},
                "id": {"type": "string", "description": "Unique event id; also the Nats-Msg-Id and webhook-id"},
                "source": {"type": "string", "examples": ["/renovation/survey"]},
                "type": {"type": "string", "pattern": r"^[a-z_]+\.[a-z_]+\.[a-z_]+\.v[0-9]+$"},
                "time": {"type": "string", "format": "date-time"},
                "subject": {"type": "string"},
                "datacontenttype": {"type": "string", "const": "application/json"},
                "traceparent": {"type": "string", "description": "W3C trace context"},
                "data": {"type": "object"},
            },
        }
    }
    for contract in contracts:
        key = _key(contract)
        payload = _hoist_defs(contract.model.model_json_schema(), schemas)
        schemas[key] = payload
        messages[key] = {
            "name": contract.event_type,
            "title": contract.model.__name__,
            "summary": contract.description,
            "contentType": "application/cloudevents+json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEventEnvelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": contract.event_type},
                            "data": {"$ref": f"#/components/schemas/{key}"},
                        },
                    },
                ]
            },
        }
        channels[key] = {
            "address": contract.subject,
            "description": f"Stream {contract.producer.upper()} ({SERVICE_TITLES.get(contract.producer, '')})",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{SERVICE_TITLES.get(contract.producer, contract.producer)} publishes {contract.event_type}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Old-community renovation platform — domain events",
            "version": "1.0.0",
            "description": "Events the services exchange over NATS JetStream (subject = `renovation.` + type). "
            "Generated from the pydantic contracts in libs/common/src/renovation_common/contracts.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "jetstream": {"host": "nats:4222", "protocol": "nats", "description": "NATS with JetStream"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
