from __future__ import annotations

from fastapi import Depends

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, require_roles
from webhooks.domain.subscriptions import Manager
from webhooks.service_layer.context import Context

managers = require_roles(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)


def current_manager(principal: Principal = Depends(managers)) -> Manager:
    return Manager(sub=principal.sub, role=principal.role.value, district_id=principal.district_id)


def context(runtime: Runtime = Depends(get_runtime)) -> Context:
    ctx: Context = runtime.extras["ctx"]
    return ctx


def wake_dispatcher(runtime: Runtime) -> None:
    dispatcher = runtime.extras.get("dispatcher")
    if dispatcher is not None:
        dispatcher.wake()
