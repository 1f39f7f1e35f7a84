"""``Idempotency-Key`` for unsafe requests (an ASGI middleware over every service, plus the claim in the effect's
own transaction).

* same key, same caller, same method, path and body → the first response is replayed (``Idempotent-Replayed: true``);
* same key with another body → 409 ``idempotency_key_reused``;
* a retry racing the first request waits for it and replays its response; a retry of a request whose effect committed
  but whose response was lost (the process died in between) → 409 ``idempotent_request_applied`` — the effect is
  never applied twice.

How: the middleware looks the key up first (a stored response is replayed at once) and otherwise runs the request
with the key pending in a context variable. The record is written by :func:`claim_in_transaction`, which every
:class:`~renovation_common.db.UnitOfWork` calls inside its commit — so the record lands in the same transaction as
the effect, or not at all. A concurrent duplicate blocks on the record's primary key until the first commits, then
finds it taken and rolls its own work back; the middleware then replays the first response. A request that commits
nothing (a validation error, a refusal) leaves no record and may simply be retried.

The stored response is encrypted with the service's data keys (``DATA_ENCRYPTION_KEYS``): responses may carry a
once-shown secret (a webhook signing secret, a device password) or personal data (an owner's phone number), and
never sit in the table in clear. Records are purged after the retention period.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renovation_common.crypto import KeyRing, UndecryptableError
from renovation_common.errors import Conflict, DomainError, problem_response

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED = "Idempotent-Replayed"  # the one header that says "this answer is a replay", in every service


def answer_replay(response: Any) -> None:
    """The answer to a *natural-key* replay (the same resource sent again under its own id — a survey
    ``submission_id``, a ledger transfer id, a receipt number, a report per package and day): 200 with
    ``Idempotent-Replayed: true`` and the stored resource; nothing is applied again. (An ``Idempotency-Key`` replay
    returns the first response as it was — its own status — with the same header.)"""
    response.status_code = 200
    response.headers[REPLAYED] = "true"


def replay_responses(model: Any, what: str = "the first one") -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of a route that answers natural-key replays with :func:`answer_replay`."""
    return {
        200: {
            "model": model,
            "description": f"A replay: the same request was applied before; this is {what}, nothing was applied again",
            "headers": {REPLAYED: {"description": "`true`: a replay", "schema": {"type": "string", "enum": ["true"]}}},
        }
    }


MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = ("content-type", "location")


@dataclass
class PendingKey:
    """The ``Idempotency-Key`` of the request being served (set by the middleware, claimed by the unit of work)."""

    scope: str
    key: str
    request_hash: str
    nonce: uuid.UUID
    claimed: bool = False
    raced: bool = False


_CURRENT: ContextVar[PendingKey | None] = ContextVar("idempotency_key", default=None)


def key_pending() -> bool:
    """Whether the request being served carries an ``Idempotency-Key`` not yet recorded: its record is written in
    the unit of work's transaction at commit, so a use case must then write in that transaction (not in
    statements that are their own)."""
    pending = _CURRENT.get()
    return pending is not None and not pending.claimed


class IdempotencyRaced(Conflict):
    code = "idempotency_request_in_progress"
    title = "A request with this Idempotency-Key is being processed"


async def claim_in_transaction(session: AsyncSession, table: sa.Table) -> None:
    """Record the current request's key in ``session``'s transaction (called by ``UnitOfWork.commit``).

    No-op outside an HTTP request with an ``Idempotency-Key``. When another request already holds the key (it
    committed first), raise :class:`IdempotencyRaced`: the caller's transaction rolls back and the middleware
    answers with the first request's response.
    """
    pending = _CURRENT.get()
    if pending is None or pending.claimed:
        return
    inserted = (
        await session.execute(
            pg_insert(table)
            .values(
                scope=pending.scope, key=pending.key, request_hash=pending.request_hash, request_nonce=pending.nonce
            )
            .on_conflict_do_nothing()
            .returning(table.c.key)
        )
    ).first()
    if inserted is None:
        owner = await session.scalar(
            sa.select(table.c.request_nonce).where(table.c.scope == pending.scope, table.c.key == pending.key)
        )
        if owner != pending.nonce:
            pending.raced = True
            raise IdempotencyRaced("a request with this Idempotency-Key committed first")
    pending.claimed = True


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, wait_for_first_s: float = 10.0) -> None:
        self.app = app
        self.wait_for_first_s = wait_for_first_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            response = problem_response(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")
            await response(scope, receive, send)
            return
        state = scope["app"].state
        try:
            principal = state.token_verifier.verify(headers.get("authorization", "").partition(" ")[2].strip())
        except DomainError:
            await self.app(scope, receive, send)  # the route answers 401 itself; nothing is stored
            return

        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request_hash = hashlib.sha256(
            json.dumps([scope["method"], scope["path"], scope.get("query_string", b"").decode()]).encode() + body
        ).hexdigest()
        key_scope = f"{principal.sub}:{scope['method']}:{scope['path']}"[:200]
        table: sa.Table = state.infra.idempotency_keys
        keys: KeyRing = state.idempotency_keys

        if await self._answer_from_record(scope, state, table, keys, key_scope, key, request_hash, send):
            return

        pending = PendingKey(key_scope, key, request_hash, uuid.uuid4())
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        start: Message | None = None
        chunks: list[bytes] = []

        async def capture_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        token = _CURRENT.set(pending)
        try:
            await self.app(scope, replay_receive, capture_send)
        except Exception:
            if pending.claimed:  # the effect committed, then the request failed: that is its answer from now on
                failed = problem_response(500, "internal_error", "Internal server error")
                await self._complete(state, table, keys, key_scope, key, 500, failed.raw_headers, bytes(failed.body))
            raise
        finally:
            _CURRENT.reset(token)
        # a duplicate committed first and our work rolled back: answer as the first request did
        if pending.raced and await self._answer_from_record(
            scope, state, table, keys, key_scope, key, request_hash, send
        ):
            return
        assert start is not None
        response_body = b"".join(chunks)
        if pending.claimed:
            await self._complete(
                state, table, keys, key_scope, key, start["status"], start.get("headers", []), response_body
            )
        await send(start)
        await send({"type": "http.response.body", "body": response_body})

    async def _answer_from_record(
        self,
        scope: Scope,
        state: Any,
        table: sa.Table,
        keys: KeyRing,
        key_scope: str,
        key: str,
        request_hash: str,
        send: Send,
    ) -> bool:
        """Answer from the stored record when there is one (False: none, run the request).

        A record without a response belongs to a request whose effect has committed: wait a moment for it to
        store its response; if it never does (its process died), say the request was applied — never run it again.
        """

        async def no_receive() -> Message:
            return {"type": "http.disconnect"}

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_for_first_s
        while True:
            async with state.sessionmaker() as session:
                row = (
                    await session.execute(sa.select(table).where(table.c.scope == key_scope, table.c.key == key))
                ).first()
            if row is None:
                return False
            if row.request_hash != request_hash:
                response = problem_response(
                    409, "idempotency_key_reused", "This Idempotency-Key was used with a different request"
                )
                await response(scope, no_receive, send)
                return True
            if row.completed_at is not None:
                try:
                    body = keys.open(row.response_body) if row.response_body else b""
                except UndecryptableError:
                    body = None
                if body is not None:
                    stored_headers = [(k.encode(), v.encode()) for k, v in (row.response_headers or {}).items()]
                    await send(
                        {
                            "type": "http.response.start",
                            "status": row.status_code,
                            "headers": [*stored_headers, (b"idempotent-replayed", b"true")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return True
            if row.completed_at is not None or loop.time() >= deadline:
                response = problem_response(
                    409,
                    "idempotent_request_applied",
                    "This request was already applied",
                    "its response can no longer be replayed; read the resource to see the result",
                )
                await response(scope, no_receive, send)
                return True
            await asyncio.sleep(0.05)

    @staticmethod
    async def _complete(
        state: Any,
        table: sa.Table,
        keys: KeyRing,
        key_scope: str,
        key: str,
        status: int,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        headers = {}
        for k, v in raw_headers:
            name = k.decode("latin-1").lower()
            if name in REPLAYED_HEADERS:
                headers[name] = v.decode("latin-1")
        async with state.sessionmaker() as session, session.begin():
            await session.execute(
                sa.update(table)
                .where(table.c.scope == key_scope, table.c.key == key)
                .values(
                    status_code=status,
                    response_body=keys.seal(body),
                    response_headers=headers,
                    completed_at=sa.func.now(),
                )
            )
