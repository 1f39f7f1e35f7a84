"""Issue 12, point 7 (survey): household XLSX/CSV imports are bounded in every dimension, and refused as a whole.

* **size**: the import route's body limit is 5 MB (above the 1 MiB default of other routes): a larger declared body
  is 413 ``payload_too_large`` before it is read; a 1.2 MB file is imported;
* **archive**: an XLSX is a zip; its members' sizes are read from the central directory and checked *before anything
  is inflated* — a zip bomb (100 MiB of XML in a 150 kB file) is ``archive_too_large``, and a zip that lies about
  its sizes is never inflated past what it declares (``unreadable_file``);
* **rows, columns, cells**: ``too_many_rows``, ``too_many_columns``, ``cell_too_long``, ``invalid_cell`` (NUL),
  for CSV and XLSX alike; a sheet whose cells reach column XFD is read only as wide as its header;
* **time, off the event loop**: parsing runs in a worker thread with a deadline (``import_timed_out``); while a slow
  file is being read the service keeps answering other requests (with the parse on the event loop, none would be
  answered before the import);
* every refusal is ``application/problem+json`` with its stable ``code``, and imports nothing.
"""

from __future__ import annotations

import asyncio
import io
import random
import struct
import zipfile

import pytest
from openpyxl import Workbook

from renovation_common.testing import bearer
from survey.entrypoints.app import create_app

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["building", "unit", "room", "floor_area_m2", "owner_name", "owner_phone", "resident_birth_years"]
DISTRICT, STREET = "510105", "51010501"


async def start(service_client, make_token, **settings):
    _, client = await service_client(create_app, "survey", workers_enabled=False, **settings)
    admin = bearer(make_token("district_admin", district_id=DISTRICT))
    r = await client.post("/v1/communities", json={"name": "导入社区", "street_id": STREET}, headers=admin)
    assert r.status_code == 201, r.text
    return client, admin, r.json()["id"]


async def post_file(client, headers, community_id, content: bytes, content_type: str):
    return await client.post(
        f"/v1/communities/{community_id}/households/import",
        content=content,
        headers={**headers, "content-type": content_type},
    )


def refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.text


async def household_count(client, headers, community_id) -> int:
    r = await client.get(f"/v1/communities/{community_id}", headers=headers)
    return int(r.json()["household_count"])


def workbook(rows: list[list[object]]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("households")
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_sheet(base: bytes, chunks) -> bytes:
    """``base`` (an XLSX) with its first sheet's XML replaced by what ``chunks`` yields, streamed into the zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with dst.open(info.filename, "w") as f:
                    for chunk in chunks:
                        f.write(chunk)
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>building</t></is></c><c r="B1" t="inlineStr"><is><t>room</t></is>'
    b'</c><c r="C1" t="inlineStr"><is><t>floor_area_m2</t></is></c></row>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


async def test_the_import_route_takes_files_up_to_5_mb_and_refuses_larger_ones_unread(service_client, make_token):
    client, admin, cid = await start(service_client, make_token)
    notes = "备注" * 150  # an extra column the import ignores, to make the file large
    lines = [",".join([*HEADER, "notes"])]
    lines += [f"1,1,{100 + i},60.00,,,1960,{notes}" for i in range(1200)]
    content = ("\n".join(lines) + "\n").encode()
    assert 1024 * 1024 < len(content) < 5 * 1024 * 1024  # above the default body limit of other routes
    r = await post_file(client, admin, cid, content, "text/csv")
    assert r.status_code == 201, r.text[:300]
    assert r.json()["created"] == 1200

    pulled = 0

    async def body():
        nonlocal pulled
        for _ in range(100):  # 6.4 MB if anyone read it all
            pulled += 1
            yield b"x" * 65536

    headers = {**admin, "content-type": "text/csv", "content-length": str(100 * 65536)}
    r = await client.post(f"/v1/communities/{cid}/households/import", content=body(), headers=headers)
    refused(r, 413, "payload_too_large")
    assert pulled <= 1


async def test_a_zip_bomb_is_refused_from_its_directory_before_it_is_inflated(service_client, make_token):
    client, admin, cid = await start(service_client, make_token)
    base = workbook([["building", "room", "floor_area_m2"], ["1", "101", "60.00"]])

    def rows():
        yield SHEET_HEAD
        row = b'<row><c t="inlineStr"><is><t>1</t></is></c><c><v>101</v></c><c><v>60</v></c></row>'
        chunk = row * (1 << 14)
        for _ in range((100 << 20) // len(chunk)):
            yield chunk
        yield SHEET_TAIL

    bomb = with_sheet(base, rows())
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        declared = sum(i.file_size for i in z.infolist())
    assert len(bomb) < 1024 * 1024 and declared > 100 * 1024 * 1024 - 2**20  # a small file, 100 MiB inside
    refused(await post_file(client, admin, cid, bomb, XLSX), 422, "archive_too_large")

    # many parts of 1 MiB each (too small for the ratio check) inflating past 40 MiB together: refused on the total
    big = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        for i in range(45):
            dst.writestr(f"xl/media/image{i}.bin", b"\0" * (1 << 20))
    assert len(big.getvalue()) < 1024 * 1024
    refused(await post_file(client, admin, cid, big.getvalue(), XLSX), 422, "archive_too_large")
    assert await household_count(client, admin, cid) == 0


def lie_about_sizes(archive: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size of ``member`` in its local header and in the central directory."""
    data = bytearray(archive)
    name = member.encode()
    local = data.find(b"PK\x03\x04" + b"\x00" * 0)  # first local header
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + name_len]) == name:
            struct.pack_into("<I", data, local + 22, declared)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<I", data, central + 24, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


async def test_a_zip_that_lies_about_its_sizes_is_never_inflated_past_them(service_client, make_token):
    client, admin, cid = await start(service_client, make_token)
    base = workbook([["building", "room", "floor_area_m2"], ["1", "101", "60.00"]])

    def rows():
        yield SHEET_HEAD
        row = b'<row><c t="inlineStr"><is><t>1</t></is></c><c><v>101</v></c><c><v>60</v></c></row>'
        for _ in range(400):
            yield row * 1024
        yield SHEET_TAIL

    honest = with_sheet(base, rows())
    lying = lie_about_sizes(honest, "xl/worksheets/sheet1.xml", 2000)  # "2 kB", really 30 MB
    with zipfile.ZipFile(io.BytesIO(lying)) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size == 2000
    refused(await post_file(client, admin, cid, lying, XLSX), 400, "unreadable_file")
    assert await household_count(client, admin, cid) == 0


async def test_rows_columns_and_cells_are_bounded_in_csv_and_xlsx(service_client, make_token):
    client, admin, cid = await start(service_client, make_token, import_max_rows=50)
    header = ",".join(HEADER)

    def csv(*lines: str) -> bytes:
        return ("\n".join([header, *lines]) + "\n").encode()

    ok_rows = [f"1,1,{100 + i},60.00,,,1960" for i in range(50)]
    blank = ["", ",,,,,,"]
    cases = [
        (csv(*ok_rows, *blank, "1,1,999,60.00,,,"), "text/csv", 422, "too_many_rows"),
        (csv("1,1,101,60.00," + "名" * 1001 + ",,"), "text/csv", 422, "cell_too_long"),
        (csv("1,1,101,60.00,x" + "y" * 200_000 + ",,"), "text/csv", 422, "cell_too_long"),  # past csv's own limit
        (csv("1,1,101,60.00,张\x00三,,"), "text/csv", 422, "invalid_cell"),
        (
            (",".join(HEADER + [f"extra{i}" for i in range(30)]) + "\n1,1,101,60.00\n").encode(),
            "text/csv",
            422,
            "too_many_columns",
        ),
        ("building,room,floor_area_m2\n1,101,60.00\n".encode("utf-16"), "text/csv", 400, "unreadable_file"),
        (workbook([HEADER, *[["1", "1", str(100 + i), "60.00"] for i in range(51)]]), XLSX, 422, "too_many_rows"),
        (workbook([HEADER, ["1", "1", "101", "60.00", "名" * 1001]]), XLSX, 422, "cell_too_long"),
        (
            workbook([HEADER + [f"extra{i}" for i in range(30)], ["1", "1", "101", "60.00"]]),
            XLSX,
            422,
            "too_many_columns",
        ),
        (b"PK\x03\x04 not really a zip", XLSX, 400, "unreadable_file"),
        (b"building,room\n", "application/pdf", 415, "unsupported_media_type"),
    ]
    for content, content_type, status, code in cases:
        r = await post_file(client, admin, cid, content, content_type)
        assert (r.status_code, r.json().get("code")) == (status, code), (code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
    assert await household_count(client, admin, cid) == 0

    # a sheet whose data rows reach column XFD (16384 cells wide) is read only as wide as its header
    def wide_rows():
        yield SHEET_HEAD
        for n in range(2, 52):
            yield (
                f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>2</t></is></c><c r="B{n}"><v>{n}</v></c>'
                f'<c r="C{n}"><v>55.5</v></c><c r="XFD{n}"><v>1</v></c></row>'
            ).encode()
        yield SHEET_TAIL

    wide = with_sheet(workbook([["building"]]), wide_rows())
    r = await post_file(client, admin, cid, wide, XLSX)
    assert r.status_code == 201, r.text[:300]
    assert r.json()["created"] == 50
    # at the limit exactly (50 rows, blank rows skipped): imported
    r = await post_file(
        client, admin, cid, csv(*[f"3,1,{100 + i},60.00,,,1960" for i in range(50)], *blank), "text/csv"
    )
    assert r.status_code == 201 and r.json()["created"] == 50, r.text[:300]


def slow_workbook() -> bytes:
    """10,000 rows × 12 columns: legal in size and shape, but far slower to read than the test's time limit."""
    rnd = random.Random(3)

    def rows():
        yield SHEET_HEAD.replace(
            b"</row>",
            b"".join(f'<c r="{col}1" t="inlineStr"><is><t>note{col}</t></is></c>'.encode() for col in "DEFGHIJKL")
            + b"</row>",
        )
        for n in range(2, 10_002):
            cells = "".join(f'<c r="{col}{n}"><v>{rnd.randrange(10**9)}</v></c>' for col in "DEFGHIJKL")
            yield (
                f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>1</t></is></c><c r="B{n}"><v>{n}</v></c>'
                f'<c r="C{n}"><v>60</v></c>{cells}</row>'
            ).encode()
        yield SHEET_TAIL

    return with_sheet(workbook([["building"]]), rows())


async def test_a_slow_file_is_read_off_the_event_loop_and_stopped_at_its_deadline(service_client, make_token):
    client, admin, cid = await start(service_client, make_token, import_timeout_s=0.5)
    content = await asyncio.to_thread(slow_workbook)
    assert len(content) < 5 * 1024 * 1024
    order: list[str] = []

    async def import_it():
        r = await post_file(client, admin, cid, content, XLSX)
        order.append("import")
        return r

    async def meanwhile():
        while "import" not in order:
            r = await client.get("/healthz")
            assert r.status_code == 200
            order.append("healthz")
            await asyncio.sleep(0.01)

    task = asyncio.create_task(import_it())
    await asyncio.sleep(0)  # the import is on its way
    await meanwhile()
    r = await task
    refused(r, 422, "import_timed_out")
    # other requests were answered while the file was being read (on the event loop, none would have been)
    assert order.index("import") > 0 and order[0] == "healthz", order[:5]
    assert await household_count(client, admin, cid) == 0
