"""Device broker authorization: the pure rules, the callout request decoding, the bounded bcrypt checker."""

from __future__ import annotations

import asyncio
import time

import bcrypt
import pytest

from renovation_common import nkeys
from smart_community.adapters.broker import (
    InvalidAuthRequest,
    decode_authorization_request,
    grant_response,
    refusal_response,
)
from smart_community.domain.device_access import (
    ConnectAttempt,
    connection_still_valid,
    connection_user,
    credential_fingerprint,
    device_permissions,
    shape_refusal,
)
from smart_community.service_layer.broker_auth import CredentialChecker

SERVER = nkeys.KeyPair.create(nkeys.PREFIX_SERVER)
USER_NKEY = nkeys.KeyPair.create(nkeys.PREFIX_USER).public_key


def request(signer: nkeys.KeyPair = SERVER, **overrides: object) -> bytes:
    now = int(time.time())
    body = {
        "server_id": {"id": SERVER.public_key, "name": "n1"},
        "user_nkey": USER_NKEY,
        "client_info": {"type": "mqtt", "mqtt_id": "dev-1", "host": "10.0.0.9"},
        "connect_opts": {"user": "dev-1", "pass": "secret"},
        "type": "authorization_request",
        "version": 2,
    }
    claims: dict[str, object] = {"aud": "nats-authorization-request", "sub": "A", "iat": now, "exp": now + 5}
    claims["nats"] = {**body, **overrides.pop("nats", {})}  # type: ignore[dict-item]
    claims.update(overrides)
    return nkeys.encode_jwt(claims, signer).encode()


def attempt(**kw: str) -> ConnectAttempt:
    return ConnectAttempt(**({"client_type": "mqtt", "username": "d1", "password": "pw", "mqtt_client_id": "d1"} | kw))


def test_shape_rules() -> None:
    assert shape_refusal(attempt()) is None
    assert shape_refusal(attempt(client_type="nats")) == "devices connect over MQTT only"
    assert shape_refusal(attempt(username="d.1")) is not None  # would be two subject tokens
    assert shape_refusal(attempt(username="*")) is not None
    assert shape_refusal(attempt(password="")) is not None
    assert shape_refusal(attempt(password="x" * 257)) is not None
    assert shape_refusal(attempt(mqtt_client_id="d2")) == "MQTT client id must be the device id"


def test_permissions_are_the_device_subtree_and_refuse_wildcard_ids() -> None:
    perms = device_permissions("c1", "d1")
    assert perms is not None and perms.publish_allow == ("devices.c1.d1.>",) and perms.subscribe_allow == ()
    assert device_permissions("*", "d1") is None
    assert device_permissions("c1", ">") is None
    assert device_permissions("c.1", "d1") is None


def test_a_connection_is_valid_only_with_the_current_credential() -> None:
    old, new = bcrypt.hashpw(b"a", bcrypt.gensalt(4)).decode(), bcrypt.hashpw(b"b", bcrypt.gensalt(4)).decode()
    name = connection_user("d1", credential_fingerprint(old))
    assert connection_still_valid(name, old)
    assert not connection_still_valid(name, new)
    assert not connection_still_valid(name, None)
    assert not connection_still_valid("d1", old)  # not a name the callout gives
    assert not connection_still_valid("d1:zz", old)


def test_nkeys_match_the_nats_server_test_vectors() -> None:
    # server/auth_callout_test.go: authCalloutIssuerSeed -> authCalloutIssuer, authCalloutSeed -> authCalloutPub
    account = nkeys.KeyPair.from_seed("SAANDLKMXL6CUS3CP52WIXBEDN6YJ545GDKC65U5JZPPV6WH6ESWUA6YAI")
    assert account.public_key == "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA"
    user = nkeys.KeyPair.from_seed("SUAP277QP7U4JMFFPVZHLJYEQJ2UHOTYVEIZJYAWRJXQLP4FRSEHYZJJOU")
    assert user.public_key == "UBO2MQV67TQTVIRV3XFTEZOACM4WLOCMCDMAWN5QVN5PI2N6JHTVDRON"
    assert nkeys.is_public(account.public_key, nkeys.PREFIX_ACCOUNT)
    assert not nkeys.is_public(account.public_key, nkeys.PREFIX_USER)
    assert not nkeys.is_public(account.public_key[:-1] + ("A" if account.public_key[-1] != "A" else "B"), 0)


def test_a_well_formed_request_is_read() -> None:
    reply, got = decode_authorization_request(request())
    assert reply.server_id == SERVER.public_key and reply.user_nkey == USER_NKEY
    assert got == ConnectAttempt("mqtt", "dev-1", "secret", "dev-1", "10.0.0.9")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff garbage",
        b"eyJ" + b"A" * 100,
        request(signer=nkeys.KeyPair.create(nkeys.PREFIX_ACCOUNT)),  # not signed by a server key
        request(aud="someone-else"),
        request(exp=int(time.time()) - 3600),  # expired
        request(nats={"server_id": {"id": nkeys.KeyPair.create(nkeys.PREFIX_SERVER).public_key}}),  # not its signer
        request(nats={"user_nkey": "UNOTAKEY"}),
        request(nats={"type": "authorization_response"}),
        request()[:-8] + b"AAAAAAAA",  # signature tampered
        b"eyJ" + b"x" * (70 * 1024),  # oversized
    ],
)
def test_garbled_forged_or_expired_requests_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidAuthRequest):
        decode_authorization_request(data)


def test_answers_are_bound_to_the_connection_and_signed_by_the_account_key() -> None:
    account = nkeys.create_account_keypair()
    reply, _ = decode_authorization_request(request())
    perms = device_permissions("c1", "dev-1")
    assert perms is not None
    grant = nkeys.decode_jwt(
        grant_response(reply, account, connection_name="dev-1:0123456789abcdef", permissions=perms, session_max_s=60),
        nkeys.PREFIX_ACCOUNT,
    )
    assert grant["iss"] == account.public_key
    assert (grant["sub"], grant["aud"]) == (USER_NKEY, SERVER.public_key)
    user = nkeys.decode_jwt(grant["nats"]["jwt"], nkeys.PREFIX_ACCOUNT)
    assert user["aud"] == "DEVICES" and user["sub"] == USER_NKEY and user["name"] == "dev-1:0123456789abcdef"
    assert user["nats"]["pub"] == {"allow": ["devices.c1.dev-1.>"]}
    assert user["nats"]["sub"] == {"deny": [">"]}
    assert user["nats"]["allowed_connection_types"] == ["MQTT"]
    assert 0 < user["exp"] - user["iat"] <= 60
    refusal = nkeys.decode_jwt(refusal_response(reply, account), nkeys.PREFIX_ACCOUNT)
    assert refusal["nats"]["error"] and "jwt" not in refusal["nats"]


async def test_the_checker_is_bounded_and_never_trusts_a_changed_hash() -> None:
    stored = bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode()
    checker = CredentialChecker(concurrency=1, max_pending=1, cache_size=10)
    results = await asyncio.gather(*(checker.check("d1", "wrong", stored) for _ in range(3)))
    assert None in results, "more checks than the queue allows must be refused as busy"
    assert all(r in (False, None) for r in results)
    assert await checker.check("d1", "right", stored) is True
    assert await checker.check("d1", "right", stored) is True  # remembered
    rotated = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()
    assert await checker.check("d1", "right", rotated) is False  # the remembered login is tied to the old hash
    assert await checker.check("d1", "right", "not-a-bcrypt-hash") is False
