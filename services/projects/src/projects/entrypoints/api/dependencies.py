"""What the routes take besides the caller: the runtime and the use cases' context (built by the composition
root), and the role sets the operations admit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from projects.service_layer.context import Context
from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Role

CONTEXT = "context"


def context(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Context:
    ctx: Context = runtime.extras[CONTEXT]
    return ctx


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ContextDep = Annotated[Context, Depends(context)]

PLANNERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
READERS = (
    Role.STREET_OFFICER,
    Role.DISTRICT_ADMIN,
    Role.COMMUNITY_WORKER,
    Role.CONTRACTOR,
    Role.QUALITY_SUPERVISOR,
    Role.GOV_SYSTEM,
    Role.OPERATOR,
    Role.RESIDENT,
)
SOLVERS = (*PLANNERS, Role.CONTRACTOR, Role.OPERATOR, Role.GOV_SYSTEM)
ANYONE = tuple(Role)
