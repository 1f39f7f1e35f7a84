"""Inbound events -> use cases."""

from __future__ import annotations

from renovation_common.app import Runtime
from renovation_common.messaging import ConsumerSpec


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return []
