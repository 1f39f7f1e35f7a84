"""Device MQTT credentials: issue (or rotate) and revoke, never reporting a credential the broker does not enforce.

Issuing stores the new bcrypt hash (one transaction), then proves through the broker that it is enforced: a login as
the device with the new password is accepted *and* one with a wrong password is refused (both go through the auth
callout, answered by any replica from the committed registry). If the proof fails the previous credential is put
back (compare-and-set on the hash, so a concurrent issue is never undone) and the caller gets 503
``broker_not_enforcing``: no half-issued credential is left and no password is shown. Revoking clears the hash.
Either way, open connections made with a credential that is no longer current are closed right after, and the
periodic reconciliation catches any the immediate close missed.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import bcrypt
import structlog

from renovation_common.auth import Principal, Scope
from renovation_common.db import ReaderFactory, UnitOfWork
from renovation_common.errors import DomainError, NotFound
from smart_community.adapters.repositories import DeviceRepository
from smart_community.domain.model import DeviceRecord, device_publish_permissions, device_topic
from smart_community.service_layer.broker_auth import ConnectionAdmin, close_stale_connections

log = structlog.get_logger("smart_community.credentials")

BCRYPT_ROUNDS = 10


class BrokerNotEnforcing(DomainError):
    status = 503
    code = "broker_not_enforcing"
    title = "The broker could not be shown to enforce the credential"


class DeviceBroker(Protocol):
    """What the credential use cases need from the broker (adapters.broker + the responder's connections)."""

    async def login_accepted(self, username: str, password: str) -> bool:
        """An MQTT login as the device: True accepted, False refused; raises when the broker cannot be asked."""
        ...

    def admin(self) -> ConnectionAdmin | None:
        """The system-account client, or None while it is not connected."""
        ...


@dataclass(frozen=True)
class IssuedCredentials:
    device_id: str
    username: str
    password: str
    topic: str
    publish_subjects: list[str]
    issued_at: datetime


def _scope(record: DeviceRecord) -> Scope:
    d = record.device
    return Scope(d.district_id, record.street_id, d.community_id)


async def issue_credentials(
    uow: UnitOfWork,
    read: ReaderFactory,
    device_id: str,
    principal: Principal,
    *,
    now: datetime,
    broker: DeviceBroker,
) -> IssuedCredentials:
    password = secrets.token_urlsafe(24)
    hashed = (await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS))).decode()
    async with uow:
        devices = DeviceRepository(uow.session)
        record = await devices.get(device_id, for_update=True)
        if record is None:
            raise NotFound("no such device", code="device_not_found")
        principal.ensure_covers(_scope(record), "device")
        previous_hash, previous_at = await devices.credential(device_id)
        await devices.set_credential(device_id, hashed, now)
        await uow.commit()

    problem = await _enforcement_problem(broker, device_id, password)
    if problem is not None:
        async with uow:
            restored = await DeviceRepository(uow.session).restore_credential(
                device_id, replaced_hash=hashed, previous_hash=previous_hash, previous_at=previous_at
            )
            await uow.commit()
        log.warning("device_credential_not_enforced", device_id=device_id, problem=problem, restored=restored)
        raise BrokerNotEnforcing(
            f"the broker did not prove it enforces the new credential ({problem}); nothing was changed, try again",
            retry_after_s=5,
        )
    await _close_stale(read, broker, device_id)
    d = record.device
    return IssuedCredentials(
        device_id=device_id,
        username=device_id,
        password=password,
        topic=device_topic(d.community_id, d.id, d.kind.value),
        publish_subjects=device_publish_permissions(d.community_id, d.id),
        issued_at=now,
    )


async def revoke_credentials(
    uow: UnitOfWork, read: ReaderFactory, device_id: str, principal: Principal, *, broker: DeviceBroker
) -> None:
    """The device can no longer log in; its open connections are closed (idempotent: revoking twice is fine)."""
    async with uow:
        devices = DeviceRepository(uow.session)
        record = await devices.get(device_id, for_update=True)
        if record is None:
            raise NotFound("no such device", code="device_not_found")
        principal.ensure_covers(_scope(record), "device")
        await devices.clear_credential(device_id)
        await uow.commit()
    await _close_stale(read, broker, device_id)


async def _enforcement_problem(broker: DeviceBroker, device_id: str, password: str) -> str | None:
    try:
        if not await broker.login_accepted(device_id, password):
            return "a login with the new password was refused"
        if await broker.login_accepted(device_id, secrets.token_urlsafe(24)):
            return "a login with a wrong password was accepted"
    except Exception as exc:
        return f"the broker could not be asked: {type(exc).__name__}"
    return None


async def _close_stale(read: ReaderFactory, broker: DeviceBroker, device_id: str) -> None:
    admin = broker.admin()
    if admin is None:
        log.warning("device_connections_not_closed", device_id=device_id, reason="system account not connected")
        return
    try:
        await close_stale_connections(read, admin, device_id)
    except Exception as exc:  # the periodic reconciliation closes them within its interval
        log.warning("device_connections_not_closed", device_id=device_id, error=str(exc)[:200])
