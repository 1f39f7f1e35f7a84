"""What the routes take besides the caller: the use cases' context (built by the composition root) and cursors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from finance.service_layer.context import Context
from renovation_common.app import Runtime, get_runtime
from renovation_common.errors import BadRequest
from renovation_common.pagination import PageParams

CONTEXT = "context"


def context(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


ContextDep = Annotated[Context, Depends(context)]


def _invalid_cursor() -> BadRequest:
    return BadRequest("cursor is not valid", code="invalid_cursor")


def after_id(page: PageParams) -> uuid.UUID | None:
    """The id a cursor made by ``make_page(..., key=lambda x: str(x.id))`` points after."""
    key = page.after
    if key is None:
        return None
    try:
        return uuid.UUID(str(key))
    except ValueError:
        raise _invalid_cursor() from None


def after_int(page: PageParams) -> int | None:
    """The integer key (e.g. an entry id) a cursor points after."""
    key = page.after
    if key is None:
        return None
    if isinstance(key, bool) or not isinstance(key, int):
        raise _invalid_cursor()
    return key
