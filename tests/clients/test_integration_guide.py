"""docs/integration.md cannot rot: its walkthrough's HTTP blocks run against the running services, its Python
verification snippet verifies real deliveries of the webhooks service, and its event table is the generated one.

The HTTP blocks use the VS Code REST Client / JetBrains HTTP Client notation (`@var = value`, `# @name`, `{{var}}`,
`{{$guid}}`, `{{$datetime iso8601}}`), plus three comment directives this runner reads (a REST client ignores them):
`# @token NAME: make -s token ROLE=.. DISTRICT=.. ...` (the token that command prints, as variable NAME),
`# @expect status N[|M]` / `# @expect $.a.0.b == <JSON>` / `# @expect $.items.*.b contains <JSON>` (checks), and
`# @until` (repeat the request, up to a minute, until the checks hold: effects of events arrive asynchronously).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from renovation_common.asyncapi import render_event_table
from renovation_common.auth import issue_dev_token
from renovation_common.devstack.catalog import ROOT
from renovation_common.settings import DEV_JWT_SECRET

from .conftest import RealDeliveries

GUIDE = ROOT / "docs" / "integration.md"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)
VAR = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
EVENTS_START, EVENTS_END = "<!-- events:start -->", "<!-- events:end -->"
TOKEN_ARGS = {
    "ROLE": "role",
    "SUB": "sub",
    "DISTRICT": "district_id",
    "STREET": "street_id",
    "COMMUNITY": "community_id",
    "HOUSEHOLD": "household_id",
}


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(GUIDE.read_text()) if lang == language]


@dataclass
class Request:
    text: str
    name: str | None = None
    until: bool = False
    tokens: list[tuple[str, str]] = field(default_factory=list)
    expects: list[str] = field(default_factory=list)


def parse(block: str, variables: dict[str, Any]) -> list[Request]:
    """File variables go into ``variables`` (those the runner set first win); one request per block."""
    requests: list[Request] = []
    current: Request | None = None
    lines: list[str] = []
    for line in [*block.splitlines(), "###"]:
        if line.startswith("###"):
            if current is not None:
                current.text = "\n".join(lines).strip()
                if current.text:
                    requests.append(current)
            current, lines = Request(""), []
            continue
        if current is None:
            current = Request("")
        if m := re.match(r"^@(\w+)\s*=\s*(.*)$", line):
            variables.setdefault(m.group(1), m.group(2).strip())
        elif m := re.match(r"^#\s*@name\s+(\w+)", line):
            current.name = m.group(1)
        elif re.match(r"^#\s*@until\b", line):
            current.until = True
        elif m := re.match(r"^#\s*@token\s+(\w+):\s*make -s token\s+(.*)$", line):
            current.tokens.append((m.group(1), m.group(2)))
        elif m := re.match(r"^#\s*@expect\s+(.*)$", line):
            current.expects.append(m.group(1).strip())
        elif line.startswith("#") and not lines:
            continue  # a comment before the request line
        else:
            lines.append(line)
    return requests


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    """``a.b.0.c``; a ``*`` step maps the rest of the path over a list."""
    node: Any = variables
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part == "*":
            return [lookup({"x": item}, ".".join(["x", *parts[i + 1 :]])) for item in node]
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def substitute(text: str, variables: dict[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "$guid":
            return str(uuid.uuid4())
        if expr == "$datetime iso8601":
            return datetime.now(UTC).isoformat()
        if m := re.match(r"^\$date(?:\s+(-?\d+))?$", expr):  # today, or N days from today
            return (datetime.now(UTC).date() + timedelta(days=int(m.group(1) or 0))).isoformat()
        value = lookup(variables, expr)
        return value if isinstance(value, str) else json.dumps(value)

    return VAR.sub(one, text)


def failed_checks(expects: list[str], status: int, body: Any) -> list[str]:
    failures = []
    for expect in expects:
        if m := re.match(r"^status\s+(\d+(?:\|\d+)*)$", expect):
            if status not in {int(x) for x in m.group(1).split("|")}:
                failures.append(f"status {status} != {m.group(1)}")
            continue
        m = re.match(r"^\$\.(\S+)\s+(==|contains)\s+(.+)$", expect)
        assert m, f"unknown @expect {expect!r}"
        path, operator, expected = m.group(1), m.group(2), json.loads(m.group(3))
        try:
            actual = lookup({"$": body}, "$." + path)
        except (KeyError, IndexError, TypeError, ValueError):
            actual = "<missing>"
        holds = actual == expected if operator == "==" else isinstance(actual, list) and expected in actual
        if not holds:
            failures.append(f"$.{path} = {actual!r}, expected {operator} {m.group(3)}")
    return failures


async def run_request(api: Any, request: Request, variables: dict[str, Any]) -> None:
    for name, args in request.tokens:
        claims = dict(pair.split("=", 1) for pair in substitute(args, variables).split())
        kwargs = {TOKEN_ARGS[k]: v for k, v in claims.items()}
        role = kwargs.pop("role")
        variables[name] = issue_dev_token(
            secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET,
            role=role,
            sub=kwargs.pop("sub", f"{role}-guide"),
            ttl_s=3600,
            **kwargs,
        )
    deadline = time.monotonic() + 60
    while True:
        text = substitute(request.text, variables)
        head, _, body = text.partition("\n\n")
        request_line, *header_lines = head.splitlines()
        method, url = request_line.split()[:2]
        headers = dict(line.split(":", 1) for line in header_lines)
        headers = {k.strip(): v.strip() for k, v in headers.items()}
        r = await api.client.request(method, url, headers=headers, content=body.strip().encode() or None)
        payload: Any = r.json() if r.headers.get("content-type", "").endswith("json") and r.content else r.text
        failures = failed_checks([substitute(e, variables) for e in request.expects], r.status_code, payload)
        if not failures:
            break
        if not request.until or time.monotonic() > deadline:
            pytest.fail(f"{request_line}: {failures}\n{r.status_code} {r.text[:3000]}")
        await asyncio.sleep(0.5)
    if request.name:
        variables[request.name] = payload


@pytest.mark.integration
async def test_walkthrough_runs_against_the_running_services(api, system, make_receiver):
    receiver = make_receiver()
    variables: dict[str, Any] = {
        name: system.url(name) for name in ("survey", "projects", "finance", "smart-community", "webhooks")
    }
    variables["smart_community"] = variables.pop("smart-community")
    variables["receiver"] = receiver.url()
    requests = [r for block in blocks("http") for r in parse(block, variables)]
    assert len(requests) >= 15
    for request in requests:
        await run_request(api, request, variables)
        if request.name == "subscription":  # the endpoint keeps the secret shown once
            receiver.secret = variables["subscription"]["secret"]
    # what the walkthrough's subscriber received verified with standardwebhooks
    assert all(d.verified for d in receiver.snapshot()), [d.error for d in receiver.snapshot()]
    for event_type in ("webhooks.endpoint.ping.v1", "smart_community.alarm.raised.v1", "survey.consultation.closed.v1"):
        assert receiver.of_type(event_type), event_type


def python_verifier() -> Any:
    (snippet,) = [b for b in blocks("python") if "def verify_webhook(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(GUIDE), "exec"), namespace)  # noqa: S102 - the guide's own code
    return namespace["verify_webhook"]


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@pytest.mark.integration
async def test_python_snippet_verifies_real_deliveries(real_deliveries: RealDeliveries):
    verify = python_verifier()
    secret = real_deliveries.secret
    for delivery in (real_deliveries.ping, real_deliveries.event):
        event = verify(secret, delivery.headers, delivery.body)
        assert event["id"] == delivery.headers["webhook-id"]
        with pytest.raises(ValueError):  # one byte changed
            verify(secret, delivery.headers, delivery.body.replace(b'"id"', b'"Id"', 1))
        with pytest.raises(ValueError):  # another subscription's secret
            verify("whsec_" + base64.b64encode(b"k" * 32).decode(), delivery.headers, delivery.body)
    assert real_deliveries.ping.headers and verify(secret, real_deliveries.ping.headers, real_deliveries.ping.body)[
        "type"
    ] == ("webhooks.endpoint.ping.v1")

    body = real_deliveries.event.body
    msg_id = real_deliveries.event.headers["webhook-id"]
    now = int(time.time())
    # during a rotation's grace period two signatures arrive: any valid one is enough
    rotated = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": f"{sign('whsec_' + base64.b64encode(b'n' * 32).decode(), msg_id, now, body)} "
        f"{sign(secret, msg_id, now, body)}",
    }
    assert verify(secret, rotated, body)["id"] == msg_id
    # a correctly signed but stale (or future) timestamp is refused: ±5 minutes
    for skew in (-timedelta(minutes=6), timedelta(minutes=6)):
        stamp = int((datetime.now(UTC) + skew).timestamp())
        stale = {**rotated, "webhook-timestamp": str(stamp), "webhook-signature": sign(secret, msg_id, stamp, body)}
        with pytest.raises(ValueError):
            verify(secret, stale, body)


def test_event_table_is_the_generated_one():
    text = GUIDE.read_text()
    start, end = text.index(EVENTS_START) + len(EVENTS_START), text.index(EVENTS_END)
    assert text[start:end].strip() == render_event_table().strip(), (
        "regenerate: python -m renovation_common.asyncapi --events-table, between the events markers of "
        "docs/integration.md"
    )
    doc = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    for link in re.findall(r"\(asyncapi\.json#/components/schemas/(\w+)\)", text):
        assert link in doc["components"]["schemas"], link


def test_snippets_for_python_java_and_go_sign_the_same_string():
    text = GUIDE.read_text()
    for language in ("python", "java", "go"):
        assert any("webhook-signature" in b.lower() or "webhook_signature" in b for b in blocks(language)), language
    assert "{webhook-id}.{webhook-timestamp}.{body}" in text
