"""The OpenAPI document's request examples (issue 15) are not only valid against their schemas: each named example
of creating a consultation and of answering one is accepted by the service as it stands, and what comes back has
the shape that went in (a question as defined, each answer in its question kind's shape)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from renovation_common.testing.plugin import bearer
from survey.entrypoints.api.schemas import AuditRead, QuestionIn, ResponseRead
from survey.entrypoints.app import create_app

from .conftest import World


def _examples(spec: dict[str, Any], path: str) -> dict[str, Any]:
    content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return {name: example["value"] for name, example in content["examples"].items()}


async def test_every_consultation_example_creates_that_kind_and_reads_back_its_questions(world: World) -> None:
    examples = _examples(world.app.openapi(), "/v1/consultations")
    assert set(examples) == {"willingness", "scheme_vote", "menu", "demand", "satisfaction"}
    for name, example in examples.items():
        assert example["kind"] == name
        body = {**example, "community_id": world.community_id}
        r = await world.client.post("/v1/consultations", json=body, headers=world.worker())
        assert r.status_code == 201, (name, r.text)
        read = r.json()
        assert read["kind"] == name and read["state"] == "draft"
        assert read["rule"] == example.get("rule", {}).get("kind", "none")
        # the same shape out as in: each question reads back as a QuestionIn would send it
        assert len(read["questions"]) == len(example["questions"])
        for sent, got in zip(example["questions"], read["questions"], strict=True):
            QuestionIn.model_validate(got)
            assert {k: got[k] for k in sent} == sent, name
        again = await world.client.get(f"/v1/consultations/{read['id']}", headers=world.worker())
        assert again.status_code == 200
        stored = again.json()
        for key in ("opens_at", "closes_at"):  # the same instants (the create answer echoes the offset sent)
            sent_at, read_at = read.pop(key), stored.pop(key)
            assert (sent_at and datetime.fromisoformat(sent_at)) == (read_at and datetime.fromisoformat(read_at))
        assert stored == read


async def test_every_response_example_is_accepted_and_reads_back_typed(service_client, make_token) -> None:
    now = [datetime(2026, 4, 1, 0, 0, tzinfo=UTC)]
    app, client = await service_client(create_app, "survey", clock=lambda: now[0], outbox_poll_interval_s=0.05)
    world = World(client, make_token, app=app)
    world.community_id = await world.community()
    examples = _examples(app.openapi(), "/v1/consultations/{consultation_id}/responses")
    assert set(examples) == {"single_choice", "multiple_choice", "ranking", "rating", "number", "text"}
    households = await world.add_households(world.community_id, ["56.30"] * len(examples))
    # one questionnaire holding every question the examples answer, none required (each example answers a few)
    kinds = {
        "agree": ("single_choice", ["yes", "no"]),
        "items": ("multiple_choice", ["rain_sewage_separation", "elevator_installation", "greening"]),
        "priority": ("ranking", ["elevator_installation", "parking", "greening"]),
        "overall": ("rating", []),
        "budget": ("number", []),
        "satisfied": ("single_choice", ["satisfied", "neutral", "dissatisfied"]),
        "feedback": ("text", []),
    }
    questions = [
        {"id": qid, "kind": kind, "text": f"问题 {qid}", "options": options, "required": False}
        for qid, (kind, options) in kinds.items()
    ]
    r = await client.post(
        "/v1/consultations",
        json={
            "community_id": world.community_id,
            "kind": "satisfaction",
            "title": "劲松北社区满意度评议",
            "questions": questions,
        },
        headers=world.worker(),
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert (await client.post(f"/v1/consultations/{cid}/open", headers=world.worker())).status_code == 200
    now[0] = datetime(2026, 9, 21, 0, 0, tzinfo=UTC)  # after every example's answered_at
    for (name, example), household in zip(examples.items(), households, strict=True):
        assert kinds[next(iter(example["answers"]))][0] == name or name == "text"
        body = {**example, "submission_id": str(uuid.uuid4())}
        if "household_id" in example:  # a community worker records it for the household
            body["household_id"] = household["id"]
            headers = world.worker()
        else:  # a resident answers for their own household in the app
            headers = bearer(make_token("resident", household_id=household["id"], community_id=world.community_id))
        r = await client.post(f"/v1/consultations/{cid}/responses", json=body, headers=headers)
        assert r.status_code == 201, (name, r.text)
        assert r.json()["channel"] == example.get("channel", "app")
        got = await client.get(f"/v1/consultations/{cid}/responses/{household['id']}", headers=world.worker())
        assert got.status_code == 200, got.text
        response, audit = got.json()["responses"][0], got.json()["audit"]
        ResponseRead.model_validate(response)
        [AuditRead.model_validate(a) for a in audit]
        expected = dict(example["answers"])
        if "budget" in expected:  # a number is stored as its exact decimal text
            expected["budget"] = str(expected["budget"])
        assert response["answers"] == expected, name
        assert audit[0]["answers"] == expected and audit[0]["action"] == "created"
