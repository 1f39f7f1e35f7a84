"""What the routes take besides the caller: the use cases' context (built by the composition root). Cursors are read
back with ``PageParams.after_uuid()`` / ``after_int()`` (renovation_common.pagination)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from finance.service_layer.context import Context
from renovation_common.app import Runtime, get_runtime

CONTEXT = "context"


def context(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


ContextDep = Annotated[Context, Depends(context)]
