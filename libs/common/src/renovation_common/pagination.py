"""Cursor pagination: opaque, URL-safe cursors over a stable sort key."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from renovation_common.errors import BadRequest

ItemT = TypeVar("ItemT")
IdT = TypeVar("IdT")

MAX_LIMIT = 500


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page")


def encode_cursor(key: Any) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not valid", code="invalid_cursor") from None


class PageParams(BaseModel):
    cursor: str | None = None
    limit: int = 50

    @property
    def after(self) -> Any:
        return decode_cursor(self.cursor)

    def after_int(self) -> int | None:
        """The integer key (an identity id) of a cursor made by ``make_page(..., key=lambda x: x.id)``."""
        key = self.after
        if key is None:
            return None
        if isinstance(key, bool) or not isinstance(key, int):
            raise BadRequest("cursor is not valid", code="invalid_cursor")
        return key

    def after_str(self, max_length: int = 200) -> str | None:
        """The text key (a string id) of a cursor made by ``make_page(..., key=lambda x: x.id)``."""
        key = self.after
        if key is None:
            return None
        if not isinstance(key, str) or len(key) > max_length:
            raise BadRequest("cursor is not valid", code="invalid_cursor")
        return key

    def after_uuid(self) -> uuid.UUID | None:
        """The UUID key of a cursor made by ``make_page(..., key=lambda x: str(x.id))``."""
        key = self.after_str(36)
        if key is None:
            return None
        try:
            return uuid.UUID(key)
        except ValueError:
            raise BadRequest("cursor is not valid", code="invalid_cursor") from None

    def after_text_and_id(self, parse_id: Callable[[str], IdT], max_length: int = 200) -> tuple[str, IdT] | None:
        """The ``[text, id]`` key of a cursor made by ``make_page(..., key=lambda x: [x.code, str(x.id)])`` (a list
        sorted by a text column, then its id)."""
        key = self.after
        if key is None:
            return None
        try:
            if not isinstance(key, list):
                raise TypeError
            text, raw_id = key
            if not isinstance(text, str) or len(text) > max_length:
                raise ValueError
            return text, parse_id(str(raw_id))
        except (TypeError, ValueError):
            raise BadRequest("cursor is not valid", code="invalid_cursor") from None

    def after_time_and_id(self, parse_id: Callable[[str], IdT]) -> tuple[datetime, IdT] | None:
        """The ``[timestamp, id]`` key of a cursor made by ``make_page(..., key=lambda x: [x.t.isoformat(), id])``."""
        key = self.after
        if key is None:
            return None
        try:
            return datetime.fromisoformat(key[0]), parse_id(str(key[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            raise BadRequest("cursor is not valid", code="invalid_cursor") from None


def page_params(
    cursor: Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


def make_page(items: list[ItemT], limit: int, key: Any) -> Page[ItemT]:
    """Build a page from ``limit + 1`` fetched items; ``key(item)`` gives the cursor of the last item shown."""
    has_more = len(items) > limit
    shown = items[:limit]
    return Page[Any](items=shown, next_cursor=encode_cursor(key(shown[-1])) if has_more and shown else None)
