from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import STAFF_ROLES, Role
from survey.service_layer.context import Context

CONTEXT = "context"

STAFF = tuple(STAFF_ROLES)
OFFICERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
ANY_READER = (*STAFF, Role.RESIDENT)
ANSWERERS = (Role.RESIDENT, Role.COMMUNITY_WORKER)


async def context(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Context:  # async: no hop to a worker thread
    ctx: Context = runtime.extras[CONTEXT]
    return ctx
