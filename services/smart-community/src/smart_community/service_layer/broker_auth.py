"""Device authorization at the broker: the auth callout decision, closing stale connections.

* :func:`answer_callout` answers one authorization request of the broker (the signed response, or an empty answer
  to something that is not a request a server would send). :func:`authorize` is its decision: shape rules
  (``domain.device_access``), then the registry (the device's current bcrypt ``credential_hash``; none = refused),
  then the password, checked off the event loop by a bounded :class:`CredentialChecker`. A grant places the
  connection in account DEVICES, named ``<device>:<credential fingerprint>``, allowed to publish only below its own
  topic and to subscribe to nothing.
* :func:`close_stale_connections` closes every open device connection whose credential is no longer the device's
  current one (revoked, re-issued, or the device gone). It runs right after a revocation or a re-issue (for that
  device) and periodically for all devices; closing is idempotent, so replicas doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import bcrypt
import structlog
from prometheus_client import Counter

from renovation_common import nkeys
from renovation_common.db import ReaderFactory
from smart_community.adapters.broker import (
    DeviceConnection,
    InvalidAuthRequest,
    decode_authorization_request,
    grant_response,
    refusal_response,
)
from smart_community.adapters.repositories import DeviceRepository
from smart_community.domain.device_access import (
    ConnectAttempt,
    DevicePermissions,
    connection_still_valid,
    connection_user,
    credential_fingerprint,
    device_permissions,
    shape_refusal,
)

log = structlog.get_logger("smart_community.broker_auth")

BROKER_AUTH = Counter(
    "smart_community_broker_auth_total",
    "Broker authorization requests (auth callout) by outcome: granted, refused, busy, invalid",
    ["outcome"],
)
CONNECTIONS_CLOSED = Counter(
    "smart_community_device_connections_closed_total",
    "Device connections closed at the broker because their credential is no longer valid",
)


@dataclass(frozen=True)
class Grant:
    device_id: str
    connection_name: str
    permissions: DevicePermissions


@dataclass(frozen=True)
class Refusal:
    reason: str
    busy: bool = False


class CredentialChecker:
    """bcrypt off the event loop with bounded concurrency and a bounded queue.

    bcrypt is slow on purpose (≈ 50–100 ms a check): at most ``concurrency`` checks run in threads at once and at
    most ``max_pending`` wait; beyond that a request is refused at once as busy (the device retries) instead of
    queueing past the broker's authorization timeout. A successful check is remembered (bounded LRU) as an HMAC of
    the password under a key that lives only in this process, tied to the exact stored hash: a reconnect with the
    same password skips bcrypt, and a revoked or re-issued credential (another hash) never matches.
    """

    def __init__(self, *, concurrency: int = 4, max_pending: int = 256, cache_size: int = 10_000) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._max_pending = max_pending
        self._pending = 0
        self._cache: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._cache_size = cache_size
        self._key = secrets.token_bytes(32)

    def _mac(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    async def check(self, device_id: str, password: str, credential_hash: str) -> bool | None:
        """True/False, or None when too many checks are waiting already."""
        cached = self._cache.get(device_id)
        if cached is not None and cached[0] == credential_hash and hmac.compare_digest(cached[1], self._mac(password)):
            self._cache.move_to_end(device_id)
            return True
        if self._pending >= self._max_pending:
            return None
        self._pending += 1
        try:
            async with self._slots:
                ok = await asyncio.to_thread(_bcrypt_ok, password, credential_hash)
        finally:
            self._pending -= 1
        if ok and self._cache_size > 0:
            self._cache[device_id] = (credential_hash, self._mac(password))
            self._cache.move_to_end(device_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ok


def _bcrypt_ok(password: str, credential_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), credential_hash.encode())
    except ValueError:  # a malformed stored hash never lets anyone in
        return False


async def authorize(read: ReaderFactory, checker: CredentialChecker, attempt: ConnectAttempt) -> Grant | Refusal:
    refusal = shape_refusal(attempt)
    if refusal is not None:
        return Refusal(refusal)
    async with read() as reader:
        found = await DeviceRepository(reader.session).login_record(attempt.username)
    if found is None:
        return Refusal("unknown device")
    community_id, credential_hash = found
    if credential_hash is None:
        return Refusal("no credential issued, or revoked")
    permissions = device_permissions(community_id, attempt.username)
    if permissions is None:
        return Refusal("ids are not subject tokens")
    ok = await checker.check(attempt.username, attempt.password, credential_hash)
    if ok is None:
        return Refusal("busy", busy=True)
    if not ok:
        return Refusal("wrong password")
    name = connection_user(attempt.username, credential_fingerprint(credential_hash))
    return Grant(device_id=attempt.username, connection_name=name, permissions=permissions)


async def answer_callout(
    data: bytes,
    *,
    read: ReaderFactory,
    checker: CredentialChecker,
    signer: nkeys.KeyPair,
    session_max_s: int,
) -> bytes:
    """The answer to one authorization request of the broker (``$SYS.REQ.USER.AUTH``)."""
    try:
        reply, attempt = decode_authorization_request(data)
    except InvalidAuthRequest as exc:
        BROKER_AUTH.labels("invalid").inc()
        log.warning("auth_request_invalid", error=str(exc)[:200])
        return b""  # an empty answer refuses, without anything signed for an unknown party
    try:
        decision = await authorize(read, checker, attempt)
    except Exception as exc:  # the registry is unreachable: refuse (the device retries)
        log.warning("auth_request_failed", device_id=attempt.username[:64], error=type(exc).__name__)
        BROKER_AUTH.labels("refused").inc()
        return refusal_response(reply, signer)
    if isinstance(decision, Grant):
        BROKER_AUTH.labels("granted").inc()
        return grant_response(
            reply,
            signer,
            connection_name=decision.connection_name,
            permissions=decision.permissions,
            session_max_s=session_max_s,
        )
    BROKER_AUTH.labels("busy" if decision.busy else "refused").inc()
    log.info("device_login_refused", device_id=attempt.username[:64], reason=decision.reason, host=attempt.host)
    return refusal_response(reply, signer)


# ------------------------------------------------------------------------------------------ closing connections


class ConnectionAdmin(Protocol):
    async def device_connections(self, device_id: str | None = None) -> list[DeviceConnection]: ...

    async def close(self, conn: DeviceConnection) -> bool: ...


async def stale_connections(read: ReaderFactory, connections: Iterable[DeviceConnection]) -> list[DeviceConnection]:
    """The connections whose credential is not (any more) their device's current one (a read, nothing written)."""
    conns = list(connections)
    device_ids = sorted({c.user.partition(":")[0] for c in conns})
    current: dict[str, str | None] = {}
    async with read() as reader:
        repo = DeviceRepository(reader.session)
        for start in range(0, len(device_ids), 1000):
            current.update(await repo.credential_hashes(device_ids[start : start + 1000]))
    return [c for c in conns if not connection_still_valid(c.user, current.get(c.user.partition(":")[0]))]


async def close_stale_connections(read: ReaderFactory, admin: ConnectionAdmin, device_id: str | None = None) -> int:
    """Close the stale connections of one device (its MQTT client id) or, with ``device_id=None``, of all devices."""
    stale = await stale_connections(read, await admin.device_connections(device_id))
    closed = 0
    for conn in stale:
        try:
            if await admin.close(conn):
                closed += 1
        except Exception as exc:  # gone, or the server is restarting: the next round tries again
            log.warning("device_connection_close_failed", server=conn.server_id, cid=conn.cid, error=str(exc)[:200])
    if closed:
        CONNECTIONS_CLOSED.inc(closed)
        log.info("device_connections_closed", closed=closed, device_id=device_id)
    return closed
