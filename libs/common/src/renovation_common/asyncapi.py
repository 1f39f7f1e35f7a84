"""AsyncAPI 3.1 document generated from the event contracts: the bus and the HTTP delivery of webhooks.

``python -m renovation_common.asyncapi > docs/asyncapi.json`` writes it; a test checks that the committed document
equals the generated one, so it never drifts from the contracts, and ``tests/clients`` validates it with the official
AsyncAPI parser (``@asyncapi/parser``) and checks real deliveries of the webhooks service against it.

Two servers: ``jetstream`` (NATS, subject ``renovation.<type>``, one channel per event type) and ``receiver`` (an
integrator's HTTPS endpoint, one channel ``webhook_delivery`` whose address is the subscription's URL): the
webhooks service POSTs each event there as the same CloudEvent JSON, with the Standard Webhooks headers
(``WebhookHeaders``), and a ``webhooks.endpoint.ping.v1`` test event that never travels on the bus.
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


PING_TYPE = "webhooks.endpoint.ping.v1"  # sent by POST /v1/subscriptions/{id}/test only (webhooks service)
WEBHOOK_TRAIT = "webhookDelivery"

WEBHOOK_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Standard Webhooks headers of every delivery (https://www.standardwebhooks.com). The signed string "
    "is `{webhook-id}.{webhook-timestamp}.{body}` (the raw request body, byte for byte); each signature is "
    "`v1,` + base64(HMAC-SHA256(key, signed string)) where key = base64-decode(secret without `whsec_`). See "
    "docs/integration.md.",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "format": "uuid",
            "description": "The event's id (CloudEvent `id`): the same on every retry and replay; de-duplicate on it",
        },
        "webhook-timestamp": {
            "type": "string",
            "pattern": "^[0-9]{1,12}$",
            "description": "Unix seconds when this attempt was signed; refuse it outside ±5 minutes of your clock",
        },
        "webhook-signature": {
            "type": "string",
            "pattern": "^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$",
            "description": "Space-separated `v1,<base64>` signatures, one per active secret (two during a secret "
            "rotation's grace period); accept the request when any one matches",
        },
        "content-type": {"type": "string", "const": "application/json"},
        "user-agent": {"type": "string", "examples": ["renovation-webhooks/1.0"]},
    },
}

PING_DATA: dict[str, Any] = {
    "type": "object",
    "title": "WebhookPing",
    "description": "A test event queued by `POST /v1/subscriptions/{id}/test`: signed and retried like any delivery, "
    "never published on the bus, never replayed.",
    "required": ["subscription_id", "message"],
    "properties": {
        "subscription_id": {"type": "string", "format": "uuid", "description": "The subscription pinged"},
        "message": {"type": "string", "const": "ping"},
    },
}


def _message(key: str, event_type: str, title: str, summary: str, *, traits: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": event_type,
        "title": title,
        "summary": summary,
        "contentType": "application/json" if traits else "application/cloudevents+json",
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventEnvelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "data": {"$ref": f"#/components/schemas/{key}"},
                    },
                },
            ]
        },
    }
    if traits:
        message["traits"] = [{"$ref": f"#/components/messageTraits/{WEBHOOK_TRAIT}"}]
    return message


def event_catalog() -> list[tuple[str, str, str, str]]:
    """(event type, producer, description, payload schema name) of every event a subscriber can receive."""
    rows = [(c.event_type, c.producer, c.description, _key(c)) for c in load_all_contracts().values()]
    rows.append((PING_TYPE, "webhooks", PING_DATA["description"], PING_TYPE.replace(".", "_")))
    return sorted(rows)


def render_event_table(link_base: str = "asyncapi.json") -> str:
    """The Markdown table of every event type with a link to its payload schema (docs/integration.md)."""
    lines = ["| event type | producer | what happened | payload schema |", "|---|---|---|---|"]
    for event_type, producer, description, key in event_catalog():
        text = " ".join(description.split()).replace("|", "\\|")
        lines.append(f"| `{event_type}` | {producer} | {text} | [{key}]({link_base}#/components/schemas/{key}) |")
    return "\n".join(lines) + "\n"


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
        messages[key] = _message(key, contract.event_type, contract.model.__name__, contract.description)
        messages[f"webhook_{key}"] = _message(
            key, contract.event_type, contract.model.__name__, contract.description, traits=True
        )
        channels[key] = {
            "address": contract.subject,
            "description": f"Stream {contract.producer.upper()} ({SERVICE_TITLES.get(contract.producer, '')})",
            "servers": [{"$ref": "#/servers/jetstream"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{SERVICE_TITLES.get(contract.producer, contract.producer)} publishes {contract.event_type}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    ping_key = PING_TYPE.replace(".", "_")
    schemas[ping_key] = PING_DATA
    schemas["WebhookHeaders"] = WEBHOOK_HEADERS
    messages[f"webhook_{ping_key}"] = _message(
        ping_key, PING_TYPE, "WebhookPing", "A signed test event to check an endpoint's verification", traits=True
    )
    delivered = sorted(k for k in messages if k.startswith("webhook_"))
    channels["webhook_delivery"] = {
        "address": None,
        "title": "Webhook delivery",
        "description": "The subscription's URL (`POST /v1/subscriptions`; the address is chosen by each subscriber). "
        "The webhooks service POSTs every event matching the subscription's event types and filters, as the "
        "CloudEvent JSON the bus carries, with the Standard Webhooks headers. Any 2xx answer within 15 s "
        "acknowledges it; anything else (3xx included: redirects are not followed) is retried after 5 s, 5 min, "
        "30 min, 2 h, 5 h, 10 h and 10 h (±10 %, 8 attempts, a longer `Retry-After` honoured up to 24 h); 410 "
        "disables the subscription at once, and so do 5 days of failures without a success "
        "(`webhooks.endpoint.disabled.v1`).",
        "servers": [{"$ref": "#/servers/receiver"}],
        "messages": {k: {"$ref": f"#/components/messages/{k}"} for k in delivered},
    }
    operations["deliver_webhook"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/webhook_delivery"},
        "title": "Deliver an event to a subscriber",
        "summary": "Webhooks service POSTs a signed event to a subscriber's endpoint",
        "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
        "messages": [{"$ref": f"#/channels/webhook_delivery/messages/{k}"} for k in delivered],
    }
    return {
        "asyncapi": "3.1.0",
        "info": {
            "title": "Old-community renovation platform — domain events",
            "version": "1.0.0",
            "description": "Events the services exchange over NATS JetStream (subject = `renovation.` + type), and "
            "their delivery to subscribers' HTTPS endpoints by the webhooks service (channel `webhook_delivery`: "
            "Standard Webhooks headers, retries, the ping). Generated from the pydantic contracts in "
            "libs/common/src/renovation_common/contracts; the integrator's guide is docs/integration.md.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "jetstream": {"host": "nats:4222", "protocol": "nats", "description": "NATS with JetStream"},
            "receiver": {
                "host": "{receiver}",
                "protocol": "https",
                "description": "A subscriber's endpoint (http is accepted only for allowed private networks)",
                "variables": {"receiver": {"description": "Host (and port) of the subscription's URL"}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": dict(sorted(messages.items())),
            "messageTraits": {
                WEBHOOK_TRAIT: {
                    "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
                    "contentType": "application/json",
                    "bindings": {"http": {"bindingVersion": "0.3.0"}},
                }
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    # --events-table: the event table of docs/integration.md (between its events markers)
    sys.stdout.write(render_event_table() if sys.argv[1:] == ["--events-table"] else render())
