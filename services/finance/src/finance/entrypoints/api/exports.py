"""CSV / XLSX rendering of exports (the rows come from a use case)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Response

from renovation_common.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes


def export_response(
    fmt: str, filename: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Response:
    if fmt == "xlsx":
        body, media = xlsx_bytes(header, rows, sheet=title), XLSX_MEDIA_TYPE
    else:
        body, media = csv_bytes(header, rows), CSV_MEDIA_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


EXPORT_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {},
            XLSX_MEDIA_TYPE: {},
        },
        "description": "The export file",
    }
}
