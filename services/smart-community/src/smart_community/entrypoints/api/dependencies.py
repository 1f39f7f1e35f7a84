"""What the routes take besides the caller: the device broker the composition root built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from renovation_common.app import Runtime, get_runtime
from smart_community.service_layer.credentials import DeviceBroker

DEVICE_BROKER = "device_broker"  # the key in runtime.extras (entrypoints.app puts it there)


def device_broker(runtime: Annotated[Runtime, Depends(get_runtime)]) -> DeviceBroker:
    broker: DeviceBroker = runtime.extras[DEVICE_BROKER]
    return broker
