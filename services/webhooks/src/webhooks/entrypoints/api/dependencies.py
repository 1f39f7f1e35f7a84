"""What the routes take besides the caller: the use cases' context, built by the composition root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from renovation_common.app import Runtime, get_runtime
from webhooks.service_layer.context import Context

CONTEXT = "context"


def context(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx
