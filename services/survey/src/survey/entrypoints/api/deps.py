from __future__ import annotations

from datetime import UTC, datetime

from renovation_common.auth import STAFF_ROLES, Role, require_roles

STAFF = tuple(STAFF_ROLES)
OFFICERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
ANY_READER = (*STAFF, Role.RESIDENT)
staff = require_roles(*STAFF)
officers = require_roles(*OFFICERS)
readers = require_roles(*ANY_READER)
answerers = require_roles(Role.RESIDENT, Role.COMMUNITY_WORKER)


def utcnow() -> datetime:
    return datetime.now(UTC)
