"""The result a replica keeps (``results.ResultCache``) is exact at N replicas: two app instances on one database,
each reading the result (and keeping it) while the other writes — a new answer, a changed suggestion alone, a
household's new floor area, households added, the close — and every read right after a committed write shows it,
equal to the result computed from every answer. Access is decided on every read, cached or not."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from renovation_common.testing.plugin import running_app
from survey.adapters.repositories import ConsultationRepository
from survey.entrypoints.app import create_app
from survey.service_layer.consultations.access import load_consultation
from survey.service_layer.consultations.results import compute_from_answers, result_document


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in doc.items() if k != "computed_at"}
    doc["questions"] = sorted(doc["questions"], key=lambda q: q["question_id"])
    return doc


async def _full_result(app: Any, cid: str) -> dict[str, Any]:
    """The result from every stored answer and household (no tally, no cache)."""
    async with app.state.runtime.uow() as uow:
        row = await load_consultation(ConsultationRepository(uow.session), uuid.UUID(cid))
        now = datetime.now(UTC)
        doc = result_document(row, await compute_from_answers(uow.session, row, final=False, year=now.year), now)
        return json.loads(json.dumps(doc))


def _cache(app: Any) -> Any:
    return app.state.runtime.extras["context"].results


async def test_a_read_on_one_replica_after_a_write_on_another_sees_it(world, stack):
    worker = world.worker()
    hids = [h["id"] for h in world.households]
    cid = await world.consultation(rule={"kind": "civil_code_278_major"})
    url = str(world.client._transport.app.state.settings.database_url)
    app_a = world.client._transport.app
    app_b = create_app(database_url=url, nats_url=stack.nats_url, log_json=False)
    async with running_app(app_b) as b:
        a = world.client
        t0 = datetime.now(UTC)

        async def both_exact() -> dict[str, Any]:
            """Read on each replica twice (the second from its cache): all four equal the full computation."""
            full = _comparable(await _full_result(app_a, cid))
            docs = []
            for client in (a, b, a, b):
                r = await client.get(f"/v1/consultations/{cid}/result", headers=worker)
                assert r.status_code == 200, r.text
                assert r.headers["content-type"] == "application/json"
                docs.append(r.json())
                assert _comparable(r.json()) == full
            assert docs[2]["computed_at"] >= docs[0]["computed_at"]  # a kept result is exact as of the read
            return docs[-1]

        empty = await both_exact()
        assert empty["responses"] == 0 and len(_cache(app_a)) == len(_cache(app_b)) == 1

        async def answer(client: Any, hid: str, agree: str, at: int, **kw: Any) -> None:
            body = {
                "submission_id": str(uuid.uuid4()),
                "household_id": hid,
                "answers": {"agree": agree},
                "channel": "door_to_door",
                "answered_at": (t0 + timedelta(seconds=at)).isoformat(),
                **kw,
            }
            r = await client.post(f"/v1/consultations/{cid}/responses", json=body, headers=worker)
            assert r.status_code in (200, 201), r.text

        await answer(b, hids[0], "yes", 1)
        assert (await both_exact())["responses"] == 1
        await answer(a, hids[1], "no", 2)
        await answer(b, hids[1], "yes", 3)  # a changed answer: its household moves to approving
        doc = await both_exact()
        assert doc["approval"]["households"] == 2 and doc["responses"] == 2
        # the same answer again with only a suggestion: no tally changes, the result does
        await answer(a, hids[0], "yes", 4, suggestion="保留晾晒区")
        assert (await both_exact())["suggestions"] == ["保留晾晒区"]
        await answer(b, hids[0], "yes", 5, suggestion="加装电梯")
        assert (await both_exact())["suggestions"] == ["加装电梯"]
        # the registry: an answered household's new area, households added (the electorate)
        r = await a.patch(f"/v1/households/{hids[0]}", json={"floor_area_m2": "99.99"}, headers=worker)
        assert r.status_code == 200, r.text
        doc = await both_exact()
        assert doc["totals"]["area_m2"] == "396.29" and doc["participation"]["area_m2"] == "170.49"
        await world.add_households(world.community_id, ["41.00", "42.00"], building="9")
        doc = await both_exact()
        assert doc["totals"]["households"] == 7 and doc["by_building"]["9"]["households"] == 2

        # access is decided on every read: a resident before publication, another community's staff
        r = await a.get(f"/v1/consultations/{cid}/result", headers=world.resident(hids[0]))
        assert r.status_code == 403 and r.json()["code"] == "results_not_published"
        other = world.worker(community_id=str(uuid.uuid4()))
        r = await b.get(f"/v1/consultations/{cid}/result", headers=other)
        assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
        r = await a.get(f"/v1/consultations/{uuid.uuid4()}/result", headers=worker)
        assert r.status_code == 404 and r.json()["code"] == "consultation_not_found"

        # the close on one replica: the other reads the frozen result, then residents once published
        closed = await b.post(f"/v1/consultations/{cid}/close", headers=worker)
        assert closed.status_code == 200, closed.text
        for client in (a, b, a):
            r = await client.get(f"/v1/consultations/{cid}/result", headers=worker)
            assert r.json() == closed.json() and r.json()["state"] == "closed"
        assert (await a.post(f"/v1/consultations/{cid}/publish", headers=worker)).status_code == 200
        for client in (a, b, b):
            r = await client.get(f"/v1/consultations/{cid}/result", headers=world.resident(hids[0]))
            assert r.status_code == 200, r.text
            assert _comparable(r.json()) | {"state": "closed"} == _comparable(closed.json())


async def test_a_kept_result_reads_as_the_response_model_renders_it(world):
    """A result served from the cache is the document the route's response model renders (keys a question's kind
    has no use for absent), byte for byte but its ``computed_at``."""
    cid = await world.consultation(
        questions=[
            {"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]},
            {"id": "rate", "kind": "rating", "text": "满意度", "required": False},
            {"id": "n", "kind": "number", "text": "人数", "required": False},
        ]
    )
    r = await world.answer(cid, world.households[0]["id"], {"agree": "yes", "rate": 4, "n": "2.5"})
    assert r.status_code == 201, r.text
    first = await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())
    kept = await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())
    assert first.status_code == kept.status_code == 200
    cut = first.content.rindex(b',"computed_at":')
    assert kept.content[:cut] == first.content[:cut] and kept.content[cut:].startswith(b',"computed_at":"')
    questions = {q["question_id"]: q for q in kept.json()["questions"]}
    assert "mean" in questions["rate"] and "sum" not in questions["rate"] and "options" not in questions["n"]
    assert datetime.fromisoformat(kept.json()["computed_at"]) >= datetime.fromisoformat(first.json()["computed_at"])
