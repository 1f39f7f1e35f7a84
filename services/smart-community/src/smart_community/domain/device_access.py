"""Who may connect to the broker as a device, and with which permissions (pure rules).

A device connects to NATS's MQTT listener with username = its id and the password issued by
``POST /v1/devices/{id}/credentials``; its MQTT client id must be its id too (so no device can take over another
device's MQTT session). The broker asks this service (auth callout) for every such CONNECT; these rules decide,
the registry (``devices.credential_hash``, bcrypt) is the source of truth for the password.

A granted connection is named ``<device id>:<credential fingerprint>`` on the broker, so that a connection opened
with a credential that was since revoked or re-issued can be recognised and closed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DEVICE_ACCOUNT = "DEVICES"  # the broker account devices are placed in (deploy/nats/auth.conf)
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # one NATS subject token: no '.', '*', '>' or spaces
MAX_PASSWORD_CHARS = 256
MAX_DEVICE_PAYLOAD_BYTES = 64 * 1024  # the broker cuts a device off above this (ingestion refuses > 16 KiB)


@dataclass(frozen=True)
class ConnectAttempt:
    """What the broker tells about a connection asking to be let in (from its authorization request)."""

    client_type: str  # "mqtt", "nats", "websocket", ...
    username: str
    password: str
    mqtt_client_id: str
    host: str = ""


@dataclass(frozen=True)
class DevicePermissions:
    publish_allow: tuple[str, ...]
    subscribe_allow: tuple[str, ...]  # empty: no subscription at all (a device only publishes)


def shape_refusal(attempt: ConnectAttempt) -> str | None:
    """Why the attempt is refused before the registry is even asked; ``None`` when it has a device's shape."""
    if attempt.client_type != "mqtt":
        return "devices connect over MQTT only"
    if not SUBJECT_TOKEN.fullmatch(attempt.username):
        return "username is not a device id"
    if not attempt.password or len(attempt.password) > MAX_PASSWORD_CHARS:
        return "missing or oversized password"
    if attempt.mqtt_client_id != attempt.username:
        return "MQTT client id must be the device id"
    return None


def device_permissions(community_id: str, device_id: str) -> DevicePermissions | None:
    """Publish only below the device's own topic (``devices/<community>/<device>/#``), subscribe to nothing.

    ``None`` when an id is not a single subject token: a community id such as ``*`` would otherwise widen the
    permission to every community.
    """
    if not (SUBJECT_TOKEN.fullmatch(community_id) and SUBJECT_TOKEN.fullmatch(device_id)):
        return None
    return DevicePermissions(publish_allow=(f"devices.{community_id}.{device_id}.>",), subscribe_allow=())


def credential_fingerprint(credential_hash: str) -> str:
    """A short public name for one issued credential (a digest of its bcrypt hash: reveals nothing about it)."""
    return hashlib.sha256(credential_hash.encode()).hexdigest()[:16]


def connection_user(device_id: str, fingerprint: str) -> str:
    return f"{device_id}:{fingerprint}"


def parse_connection_user(name: str) -> tuple[str, str] | None:
    device_id, sep, fingerprint = name.partition(":")
    if not sep or not SUBJECT_TOKEN.fullmatch(device_id) or not re.fullmatch(r"[0-9a-f]{16}", fingerprint):
        return None
    return device_id, fingerprint


def connection_still_valid(connection_name: str, current_hash: str | None) -> bool:
    """A device connection stays open only while the credential it was opened with is the device's current one."""
    parsed = parse_connection_user(connection_name)
    if parsed is None or current_hash is None:
        return False
    return parsed[1] == credential_fingerprint(current_hash)
