"""Exports neutralise spreadsheet formulas exactly once: a formula-like text is defused, a number stays a number."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from renovation_common.contracts.survey import MENU_ITEM_NAMES_ZH


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

    r = await world.client.get(f"/v1/consultations/{cid}/export?format=csv&header=machine", headers=world.worker())
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
    sheet = load_workbook(io.BytesIO(r.content))["data"]
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    head, data = table[0], sorted(table[1:], key=lambda row: row[table[0].index("room")])
    first = data[0]
    assert first[head.index("q:delta")] == -5  # a number cell, not the text "'-5"
    assert first[head.index("q:note")] == "-5+1"  # text, shown as typed (stored as a string, never a formula)
    assert first[head.index("suggestion")] == '=HYPERLINK("http://x")'
    formulas = [row[head.index("suggestion")] for row in sheet.iter_rows(min_row=2) if row[0].value]
    assert [c.data_type for c in formulas if str(c.value).startswith("=")] == ["s"]
    assert data[1][head.index("q:delta")] == 12.5 and data[1][head.index("floor_area_m2")] == 70.5


async def test_the_answers_export_speaks_chinese_in_beijing_time_with_names_beside_ids(world):
    cid = await world.consultation(
        title="第一轮意愿征询",
        questions=[
            {"id": "agree", "kind": "single_choice", "text": "同意改造吗?", "options": ["yes", "no"],
             "option_labels": {"yes": "同意", "no": "不同意"}},
            {"id": "items", "kind": "multiple_choice", "text": "项目", "required": False,
             "options": ["parking", "greening", "lighting"], "option_labels": {"lighting": "路灯"}},
        ],
    )  # fmt: skip
    h = world.households[0]
    detail = (await world.client.get(f"/v1/households/{h['id']}", headers=world.worker())).json()
    answered_at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    r = await world.answer(
        cid,
        h["id"],
        {"agree": "yes", "items": ["parking", "lighting"]},
        channel="paper",
        answered_at=answered_at.isoformat(),
    )
    assert r.status_code == 201, r.text
    beijing = answered_at.astimezone(ZoneInfo("Asia/Shanghai"))
    url = f"/v1/consultations/{cid}/export"

    # CSV for people (the default): Chinese headers and names, Beijing wall time, the zone in the header
    r = await world.client.get(url, params={"format": "csv"}, headers=world.worker())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    (zh_header, row) = list(csv.reader(io.StringIO(text)))
    cells = dict(zip(zh_header, row, strict=True))
    assert zh_header[:7] == ["答卷编号", "住户编号", "社区编号", "社区", "楼栋编号", "楼栋代码", "楼栋"]
    assert cells["社区编号"] == world.community_id and cells["社区"] == "劲松北社区"
    assert cells["楼栋编号"] == detail["building_id"] and cells["楼栋代码"] == "1" and cells["楼栋"] == "1号楼"
    assert cells["答复时间（北京时间）"] == f"{beijing:%Y-%m-%d %H:%M:%S}"
    assert (
        beijing.utcoffset() == timedelta(hours=8)
        and cells["答复时间（北京时间）"] != f"{answered_at:%Y-%m-%d %H:%M:%S}"
    )
    assert cells["征询方式"] == "纸质问卷" and cells["年龄段"] == "青年" and cells["访员代录"] == "是"
    assert cells["同意改造吗?（agree）"] == "同意"  # the option as it reads: its label, else a menu item's name
    assert (
        cells["项目（items）"] == f"{MENU_ITEM_NAMES_ZH['parking']}|路灯"
        and cells["专有面积(m²)"] == "60.00"
        and "意见建议" in cells
    )
    assert "业主0" not in text and "13800000000" not in text  # never a person's name or phone

    # CSV for programs: the machine header row, codes and ISO 8601 with the offset
    r = await world.client.get(url, params={"format": "csv", "header": "machine"}, headers=world.worker())
    (header, machine) = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    values = dict(zip(header, machine, strict=True))
    assert header[:7] == ["response_id", "household_id", "community_id", "community_name", "building_id",
                          "building", "building_name"]  # fmt: skip
    assert header[-3:] == ["q:agree", "q:items", "suggestion"] and len(header) == len(zh_header)
    assert values["answered_at"] == beijing.isoformat() and values["answered_at"].endswith("+08:00")
    assert datetime.fromisoformat(values["answered_at"]) == answered_at  # the same instant
    assert (values["community_name"], values["building_name"], values["channel"]) == ("劲松北社区", "1号楼", "paper")
    assert (values["age_group"], values["interviewed"]) == ("youth", "yes")
    assert (values["q:agree"], values["q:items"]) == ("yes", "parking|lighting")  # codes for programs

    # XLSX: the people's sheet first (title, community, export time in Beijing time), the machine rows in `data`
    r = await world.client.get(url, params={"format": "xlsx"}, headers=world.worker())
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["答卷", "data"]
    people = [[c.value for c in row] for row in book["答卷"].iter_rows()]
    assert people[0][0] == "第一轮意愿征询 答卷导出"
    meta = people[1]
    assert meta[:2] == ["社区", "劲松北社区"] and meta[2] == "导出时间" and meta[4:6] == ["答卷数", 1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+08:00（北京时间）", meta[3]), meta[3]
    assert people[2] == zh_header and len(people) == 4
    sheet_row = dict(zip(people[2], people[3], strict=True))
    assert sheet_row["答复时间（北京时间）"] == beijing.replace(tzinfo=None)  # a date cell, Beijing wall time
    assert book["答卷"].cell(row=4, column=zh_header.index("答复时间（北京时间）") + 1).number_format == (
        "yyyy-mm-dd hh:mm:ss"
    )
    assert sheet_row["楼栋"] == "1号楼" and sheet_row["征询方式"] == "纸质问卷"
    assert book["答卷"].freeze_panes == "A4"
    data = [[c.value for c in row] for row in book["data"].iter_rows()]
    assert data[0] == header and len(data) == 2
    assert dict(zip(header, data[1], strict=True))["answered_at"] == beijing.isoformat()
    assert dict(zip(header, data[1], strict=True))["building_id"] == detail["building_id"]
