"""The result is a typed document (issue 15): its OpenAPI schema has no free-form object, and what the API sends is
exactly the document the service computes and freezes at close (keys a question's kind has no use for stay absent)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import asyncpg

ITEMS = ["parking", "greening", "lighting", "elevator_installation"]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else node


def _free_form(doc: dict[str, Any], node: dict[str, Any], path: str, seen: set[str]) -> list[str]:
    """Every place under ``node`` where an object may hold keys of any shape (``additionalProperties`` true or
    untyped, or an object without properties)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return _free_form(doc, _resolve(doc, node), f"{path}→{name}", seen)
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(node.get(key, [])):
            found += _free_form(doc, sub, f"{path}/{key}[{i}]", seen)
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if extra is True or extra == {}:
            found.append(f"{path}: additionalProperties {extra!r}")
        elif isinstance(extra, dict):
            if not ({"type", "$ref", "anyOf"} & extra.keys()):
                found.append(f"{path}: untyped additionalProperties")
            found += _free_form(doc, extra, f"{path}/*", seen)
        elif "properties" not in node:
            found.append(f"{path}: an object without properties")
        for name, sub in node.get("properties", {}).items():
            found += _free_form(doc, sub, f"{path}.{name}", seen)
    if node.get("type") == "array":
        found += _free_form(doc, node.get("items", {}), f"{path}[]", seen)
    if node == {}:
        found.append(f"{path}: any value")
    return found


async def test_the_result_schema_is_typed_throughout(world):
    doc = (await world.client.get("/openapi.json")).json()
    for path, method in (("/v1/consultations/{consultation_id}/result", "get"),
                         ("/v1/consultations/{consultation_id}/close", "post")):  # fmt: skip
        schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ResultRead"}
    result = doc["components"]["schemas"]["ResultRead"]
    assert "additionalProperties" not in result  # no longer extra="allow"
    assert _free_form(doc, {"$ref": "#/components/schemas/ResultRead"}, "ResultRead", set()) == []
    props = result["properties"]
    assert set(props) >= {"totals", "participation", "approval", "menu", "menu_threshold", "questions",
                          "by_age_group", "age_groups", "by_building", "by_channel"}  # fmt: skip
    closed_sets = {
        "kind": {"willingness", "menu", "scheme_vote", "demand", "satisfaction"},
        "state": {"draft", "open", "closed", "published"},
        "outcome": {"passed", "postponed", "rejected", "pending", "not_applicable"},
        "rule": {"household_share", "civil_code_278_major", "civil_code_278_ordinary", "none"},
    }
    for name, values in closed_sets.items():
        assert set(_resolve(doc, props[name])["enum"]) == values, name
    channels = props["by_channel"]["additionalProperties"]
    assert channels == {"type": "integer"} and set(_resolve(doc, props["by_channel"]["propertyNames"])["enum"]) == {
        "app", "door_to_door", "paper", "meeting"
    }  # fmt: skip
    ratio = doc["components"]["schemas"]["RatioRead"]["properties"]
    assert ratio["ratio"]["pattern"] == r"^\d+/\d+$" and ratio["percent"]["pattern"] == r"^\d+\.\d{2}$"
    groups = doc["components"]["schemas"]["AgeGroupsResultRead"]
    assert set(groups["required"]) == {"youth", "middle_aged", "elderly", "unknown"}
    decided = {v for sub in props["decided_by"]["anyOf"] for v in sub.get("enum", [sub.get("const")])}
    assert "no_decision_rule" in decided and "approval_owners" in decided


async def test_the_api_sends_the_frozen_document_unchanged(world):
    cid = await world.consultation(
        kind="menu",
        title="改造内容菜单",
        questions=[
            {"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]},
            {"id": "items", "kind": "multiple_choice", "text": "项目", "required": False, "options": ITEMS},
            {"id": "order", "kind": "ranking", "text": "先做哪个", "required": False, "options": ["a", "b", "c"]},
            {"id": "rate", "kind": "rating", "text": "满意度", "required": False},
            {"id": "spend", "kind": "number", "text": "愿意出资(元)", "required": False, "min_value": 0},
            {"id": "note", "kind": "text", "text": "备注", "required": False},
        ],
        rule={"kind": "civil_code_278_major"},
        menu_question_id="items",
        menu_threshold="1/2",
    )
    answers = [
        ({"agree": "yes", "items": ["parking", "greening"], "order": ["b", "a", "c"], "rate": 4, "spend": "120.5"},
         "door_to_door"),
        ({"agree": "yes", "items": ["parking"], "rate": 5, "note": "好"}, "paper"),
        ({"agree": "no", "items": ["lighting"], "spend": 0}, "meeting"),
        ({"agree": "yes"}, "door_to_door"),
    ]  # fmt: skip
    for h, (answer, channel) in zip(world.households, answers, strict=False):
        r = await world.answer(cid, h["id"], answer, channel=channel, suggestion="多装路灯")
        assert r.status_code == 201, r.text

    live = await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())
    assert live.status_code == 200, live.text
    body = live.json()
    assert body["outcome"] == "pending" and body["provisional_outcome"] in {"passed", "rejected"}
    questions = {q["question_id"]: q for q in body["questions"]}
    assert set(questions["rate"]) == {"question_id", "kind", "answered", "options", "mean", "mean_decimal"}
    assert questions["rate"]["mean"] == "9/2" and questions["rate"]["mean_decimal"] == "4.50"
    assert set(questions["spend"]) == {"question_id", "kind", "answered", "sum"}
    assert Decimal(questions["spend"]["sum"]) == Decimal("120.5")
    assert set(questions["note"]) == {"question_id", "kind", "answered"}  # no null options, no null mean
    assert questions["order"]["rank_points"] == {"a": 2, "b": 3, "c": 1}
    assert body["menu"][0] == {"code": "parking", "category": "improvement", "support_count": 2, "ratio": "1/2",
                               "percent": "50.00", "selected": True}  # fmt: skip
    assert body["by_channel"] == {"door_to_door": 2, "paper": 1, "meeting": 1}
    assert set(body["by_age_group"]) == {"youth", "middle_aged", "elderly", "unknown"}
    assert body["menu_threshold"] == "1/2" and body["age_groups"] == {"middle_from": 35, "elderly_from": 60}

    closed = await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())
    assert closed.status_code == 200, closed.text
    conn = await asyncpg.connect(
        str(world.app.state.settings.database_url).replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        stored = json.loads(await conn.fetchval("select final_result::text from consultations where id = $1", cid))
    finally:
        await conn.close()
    sent = closed.json()
    again = (await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())).json()
    assert again == sent
    # the document as result_document froze it: every key and value, computed_at only re-rendered
    assert {k: v for k, v in sent.items() if k != "computed_at"} == {
        k: v for k, v in stored.items() if k != "computed_at"
    }
    assert sent.keys() == stored.keys()
