"""Exports neutralise spreadsheet formulas exactly once: a formula-like text is defused, a number stays a number."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook


async def test_formulas_are_neutralised_once_and_negative_numbers_stay_numbers(world):
    cid = await world.consultation(
        kind="demand",
        title="面积与意见",
        questions=[
            {"id": "delta", "kind": "number", "text": "面积差(m²)", "min_value": -100, "max_value": 100},
            {"id": "note", "kind": "text", "text": "备注", "required": False},
        ],
        rule={"kind": "none"},
        decision_question_id=None,
        approve_options=[],
    )
    answers = [
        ({"delta": -5, "note": "-5+1"}, '=HYPERLINK("http://x")'),
        ({"delta": "12.5", "note": "@SUM(A1)"}, "-3"),
    ]
    for h, (answer, suggestion) in zip(world.households, answers, strict=False):
        detail = (await world.client.get(f"/v1/households/{h['id']}", headers=world.worker())).json()
        r = await world.answer(cid, h["id"], answer, resident_id=detail["residents"][0]["id"], suggestion=suggestion)
        assert r.status_code == 201, r.text

    r = await world.client.get(f"/v1/consultations/{cid}/export?format=csv", headers=world.worker())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = rows[0], sorted(rows[1:], key=lambda row: row[rows[0].index("room")])
    cells = [
        (row[header.index("q:delta")], row[header.index("q:note")], row[header.index("suggestion")]) for row in body
    ]
    assert cells == [
        ("-5", "'-5+1", '\'=HYPERLINK("http://x")'),  # one apostrophe each, and none before a number
        ("12.5", "'@SUM(A1)", "-3"),
    ]
    assert body[0][header.index("floor_area_m2")] == "60.00"

    r = await world.client.get(f"/v1/consultations/{cid}/export?format=xlsx", headers=world.worker())
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    head, data = table[0], sorted(table[1:], key=lambda row: row[table[0].index("room")])
    first = data[0]
    assert first[head.index("q:delta")] == -5  # a number cell, not the text "'-5"
    assert first[head.index("q:note")] == "-5+1"  # text, shown as typed (stored as a string, never a formula)
    assert first[head.index("suggestion")] == '=HYPERLINK("http://x")'
    formulas = [row[head.index("suggestion")] for row in sheet.iter_rows(min_row=2) if row[0].value]
    assert [c.data_type for c in formulas if str(c.value).startswith("=")] == ["s"]
    assert data[1][head.index("q:delta")] == 12.5 and data[1][head.index("floor_area_m2")] == 70.5
