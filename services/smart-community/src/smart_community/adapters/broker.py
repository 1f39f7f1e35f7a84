"""The broker side of device authorization: NATS auth callout messages, the system account, an MQTT probe.

* Auth callout (NATS ≥ 2.10): for every CONNECT not made by a configured user, the server publishes a JWT signed by
  its own server NKey on ``$SYS.REQ.USER.AUTH`` in account AUTH; the answer is an authorization response JWT
  (``sub`` = the user NKey the server generated for this connection, ``aud`` = the server's id) carrying a user JWT
  that names the target account (``aud``), the permissions and an expiry, both signed with the account signing key
  configured as ``auth_callout.issuer`` (deploy/nats/auth.conf). A response with ``error`` refuses the client.
* System account: ``$SYS.REQ.SERVER.PING.CONNZ`` (every server answers) lists device connections;
  ``$SYS.REQ.SERVER.<server id>.KICK`` closes one.
* Probe: an MQTT (TLS) login as a device, to prove that the broker enforces a credential.

Broker protocol times (request expiry, user JWT expiry) are wall-clock times: the broker compares them with its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import nats
import structlog
from nats.aio.client import Client as NatsClient

from renovation_common import nkeys
from smart_community.domain.device_access import (
    DEVICE_ACCOUNT,
    MAX_DEVICE_PAYLOAD_BYTES,
    ConnectAttempt,
    DevicePermissions,
)

log = structlog.get_logger("smart_community.broker")

AUTH_CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH"
AUTH_REQUEST_AUDIENCE = "nats-authorization-request"
CLOCK_SKEW_S = 30


class InvalidAuthRequest(ValueError):
    """Not an authorization request a NATS server would send (garbled, unsigned, expired, wrong shape)."""


@dataclass(frozen=True)
class CalloutReply:
    """What the answer to one authorization request must be bound to."""

    server_id: str
    user_nkey: str


def _text(value: Any, limit: int = 1024) -> str:
    return value[:limit] if isinstance(value, str) else ""


def decode_authorization_request(data: bytes, *, now_s: float | None = None) -> tuple[CalloutReply, ConnectAttempt]:
    """Verify and read an authorization request (an unencrypted request JWT signed by the server's NKey)."""
    if data[:3] != b"eyJ":
        raise InvalidAuthRequest("not a JWT (encrypted requests are not configured)")
    try:
        claims = nkeys.decode_jwt(data, nkeys.PREFIX_SERVER)
    except nkeys.NKeyError as exc:
        raise InvalidAuthRequest(str(exc)) from None
    body = claims.get("nats")
    if claims.get("aud") != AUTH_REQUEST_AUDIENCE or not isinstance(body, dict):
        raise InvalidAuthRequest("not addressed to an authorization service")
    if body.get("type") != "authorization_request":
        raise InvalidAuthRequest("not an authorization request")
    now = time.time() if now_s is None else now_s
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + CLOCK_SKEW_S < now:
        raise InvalidAuthRequest("expired or without expiry")
    server = body.get("server_id") if isinstance(body.get("server_id"), dict) else {}
    server_id = server.get("id") if isinstance(server, dict) else None
    if server_id != claims.get("iss"):
        raise InvalidAuthRequest("not signed by the server it names")
    user_nkey = body.get("user_nkey")
    if not nkeys.is_public(user_nkey, nkeys.PREFIX_USER):
        raise InvalidAuthRequest("no valid user nkey")
    info = body.get("client_info") if isinstance(body.get("client_info"), dict) else {}
    opts = body.get("connect_opts") if isinstance(body.get("connect_opts"), dict) else {}
    assert isinstance(info, dict) and isinstance(opts, dict)
    # MQTT passes a password that looks like a JWT in the JWT field
    password = _text(opts.get("pass")) or _text(opts.get("jwt"))
    attempt = ConnectAttempt(
        client_type=_text(info.get("type"), 32),
        username=_text(opts.get("user"), 256),
        password=password,
        mqtt_client_id=_text(info.get("mqtt_id"), 256),
        host=_text(info.get("host"), 64),
    )
    return CalloutReply(server_id=str(server_id), user_nkey=str(user_nkey)), attempt


def grant_response(
    reply: CalloutReply,
    signer: nkeys.KeyPair,
    *,
    connection_name: str,
    permissions: DevicePermissions,
    session_max_s: int,
    now_s: float | None = None,
) -> bytes:
    """The signed answer that lets the connection in, as ``connection_name``, in account DEVICES."""
    now = int(time.time() if now_s is None else now_s)
    user = {
        "sub": reply.user_nkey,
        "aud": DEVICE_ACCOUNT,  # config mode: the account the user is placed in
        "name": connection_name,
        "iat": now,
        "exp": now + session_max_s,
        "nats": {
            "pub": {"allow": list(permissions.publish_allow)},
            "sub": {"allow": list(permissions.subscribe_allow)} if permissions.subscribe_allow else {"deny": [">"]},
            "subs": -1 if permissions.subscribe_allow else 0,
            "data": -1,
            "payload": MAX_DEVICE_PAYLOAD_BYTES,
            "allowed_connection_types": ["MQTT"],
            "type": "user",
            "version": 2,
        },
    }
    return _response(reply, signer, {"jwt": nkeys.encode_jwt(user, signer)}, now)


def refusal_response(reply: CalloutReply, signer: nkeys.KeyPair, *, now_s: float | None = None) -> bytes:
    """The signed answer that refuses the connection (the reason stays in this service's log, not with the client)."""
    return _response(reply, signer, {"error": "not authorized"}, int(time.time() if now_s is None else now_s))


def _response(reply: CalloutReply, signer: nkeys.KeyPair, fields: dict[str, Any], now: int) -> bytes:
    claims = {
        "sub": reply.user_nkey,
        "aud": reply.server_id,
        "iat": now,
        "exp": now + 60,
        "nats": {**fields, "type": "authorization_response", "version": 2},
    }
    return nkeys.encode_jwt(claims, signer).encode("ascii")


# ------------------------------------------------------------------------------------------ system account


@dataclass(frozen=True)
class DeviceConnection:
    server_id: str
    cid: int
    user: str  # the name the callout gave it: <device id>:<credential fingerprint>
    mqtt_client_id: str


async def connect(url: str, name: str) -> NatsClient:
    """A NATS connection that keeps reconnecting (the first connect fails fast: the caller retries)."""
    return await nats.connect(
        url,
        name=name,
        connect_timeout=5,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
    )


class BrokerAdmin:
    """Lists and closes device connections through the system account (every server of a cluster answers)."""

    def __init__(self, nc: NatsClient, *, gather_s: float = 0.5, page: int = 1024) -> None:
        self.nc = nc
        self.gather_s = gather_s
        self.page = page

    async def _scatter(self, subject: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Every server's answer that arrives within the gather window."""
        inbox = self.nc.new_inbox()
        answers: list[dict[str, Any]] = []
        sub = await self.nc.subscribe(inbox)
        try:
            await self.nc.publish(subject, json.dumps(request).encode(), reply=inbox)
            deadline = asyncio.get_running_loop().time() + self.gather_s
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=left)
                except TimeoutError:
                    break
                with contextlib.suppress(ValueError):
                    answers.append(json.loads(msg.data))
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return answers

    async def device_connections(self, device_id: str | None = None) -> list[DeviceConnection]:
        """Open connections in account DEVICES (of one MQTT client id when ``device_id`` is given), all servers."""
        query: dict[str, Any] = {"acc": DEVICE_ACCOUNT, "auth": True, "limit": self.page}  # state: open (default)
        if device_id is not None:
            query["mqtt_client"] = device_id
        found: list[DeviceConnection] = []
        for answer in await self._scatter("$SYS.REQ.SERVER.PING.CONNZ", {**query, "offset": 0}):
            server_id, data = answer.get("server", {}).get("id"), answer.get("data") or {}
            if not server_id or "error" in answer:
                log.warning("connz_failed", server=server_id, error=str(answer.get("error"))[:200])
                continue
            found += _connections(server_id, data)
            offset, total = len(data.get("connections") or []), int(data.get("total") or 0)
            while offset < total:  # the rest of this server's connections, page by page
                msg = await self.nc.request(
                    f"$SYS.REQ.SERVER.{server_id}.CONNZ", json.dumps({**query, "offset": offset}).encode(), timeout=5
                )
                page = (json.loads(msg.data).get("data") or {}).get("connections") or []
                if not page:
                    break
                found += _connections(server_id, {"connections": page})
                offset += len(page)
        return found

    async def close(self, conn: DeviceConnection) -> bool:
        """Kick one connection; False when it was gone already (closing is idempotent)."""
        msg = await self.nc.request(
            f"$SYS.REQ.SERVER.{conn.server_id}.KICK", json.dumps({"cid": conn.cid}).encode(), timeout=5
        )
        return "error" not in json.loads(msg.data)


def _connections(server_id: str, data: dict[str, Any]) -> list[DeviceConnection]:
    return [
        DeviceConnection(
            server_id=server_id,
            cid=int(c["cid"]),
            user=str(c.get("authorized_user") or ""),
            mqtt_client_id=str(c.get("mqtt_client") or ""),
        )
        for c in data.get("connections") or []
        if isinstance(c, dict) and "cid" in c
    ]


# ------------------------------------------------------------------------------------------ MQTT probe


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    tls: ssl.SSLContext | None


def mqtt_endpoint(url: str, ca_file: str = "") -> MqttEndpoint:
    """``mqtts://host:8883`` (TLS, verified against ``ca_file`` or the system's CAs) or ``mqtt://host:1883``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("the MQTT URL must be mqtts://host:port (or mqtt:// for a plain listener)")
    tls = None
    if parts.scheme == "mqtts":
        tls = ssl.create_default_context(cafile=ca_file or None)
    return MqttEndpoint(parts.hostname, parts.port or (8883 if tls else 1883), tls)


ProbeLogin = Callable[[str, str], Awaitable[bool]]


async def mqtt_login_accepted(endpoint: MqttEndpoint, username: str, password: str, *, timeout_s: float) -> bool:
    """Log in over MQTT as the device (client id = device id) and leave at once: True when the broker accepted it.

    A refused login is False; an unreachable broker, a TLS failure or no answer within ``timeout_s`` raises.
    """
    client = aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=username,
        password=password,
        identifier=username,
        clean_session=True,
        tls_context=endpoint.tls,
        timeout=timeout_s,
    )
    try:
        async with asyncio.timeout(timeout_s):
            async with client:
                return True
    except aiomqtt.MqttCodeError as exc:
        if exc.rc in (4, 5, 134, 135):  # bad user name or password / not authorised (MQTT 3.1.1 and 5)
            return False
        raise


class NatsDeviceBroker:
    """The broker as the credential use cases see it: an MQTT probe and, once connected, the system account."""

    def __init__(self, *, mqtt: MqttEndpoint | None, probe_timeout_s: float) -> None:
        self.mqtt = mqtt
        self.probe_timeout_s = probe_timeout_s
        self._admin: BrokerAdmin | None = None

    async def login_accepted(self, username: str, password: str) -> bool:
        if self.mqtt is None:
            raise RuntimeError("no MQTT URL configured for the credential probe")
        return await mqtt_login_accepted(self.mqtt, username, password, timeout_s=self.probe_timeout_s)

    def admin(self) -> BrokerAdmin | None:
        admin = self._admin
        return admin if admin is not None and admin.nc.is_connected else None

    def attach_admin(self, admin: BrokerAdmin | None) -> None:
        self._admin = admin
