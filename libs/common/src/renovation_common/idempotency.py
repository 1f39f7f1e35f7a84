"""``Idempotency-Key`` for unsafe requests (an ASGI middleware over every service).

* same key, same caller, same method, path and body → the first response is replayed (``Idempotent-Replayed: true``);
* same key with another body → 409 ``idempotency_key_reused``;
* same key while the first request is still running → 409 ``idempotency_request_in_progress``.

A key is claimed in its own short transaction before the request runs and completed with the response after it.
5xx responses release the claim so the client can retry. A claim left by a crashed process expires after
``stale_after_s``. Use cases whose effects must never repeat also carry a natural idempotency id of their own
(``submission_id``, a transfer id), enforced by a unique constraint in the same transaction as the effect.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renovation_common.errors import DomainError, problem_response

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 200


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, stale_after_s: float = 120.0) -> None:
        self.app = app
        self.stale_after_s = stale_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await problem_response(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")(
                scope, receive, send
            )
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
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request_hash = hashlib.sha256(
            json.dumps([scope["method"], scope["path"], scope.get("query_string", b"").decode()]).encode() + body
        ).hexdigest()
        key_scope = f"{principal.sub}:{scope['method']}:{scope['path']}"[:200]
        table: sa.Table = state.infra.idempotency_keys

        async with state.sessionmaker() as session, session.begin():
            claimed = (
                await session.execute(
                    pg_insert(table)
                    .values(scope=key_scope, key=key, request_hash=request_hash)
                    .on_conflict_do_nothing()
                    .returning(table.c.key)
                )
            ).first()
            if claimed is None:
                row = (
                    await session.execute(
                        sa.select(table, (sa.func.now() - table.c.created_at).label("age"))
                        .where(table.c.scope == key_scope, table.c.key == key)
                        .with_for_update()
                    )
                ).first()
                if row is not None and row.request_hash != request_hash:
                    await problem_response(
                        409,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with a different request",
                    )(scope, receive, send)
                    return
                if row is not None and row.completed_at is not None:
                    stored_headers = [(k.encode(), v.encode()) for k, v in (row.response_headers or {}).items()]
                    await send(
                        {
                            "type": "http.response.start",
                            "status": row.status_code,
                            "headers": [*stored_headers, (b"idempotent-replayed", b"true")],
                        }
                    )
                    await send({"type": "http.response.body", "body": row.response_body or b""})
                    return
                if row is not None and row.age < timedelta(seconds=self.stale_after_s):
                    await problem_response(
                        409,
                        "idempotency_request_in_progress",
                        "A request with this Idempotency-Key is still being processed",
                    )(scope, receive, send)
                    return
                await session.execute(
                    sa.update(table)
                    .where(table.c.scope == key_scope, table.c.key == key)
                    .values(created_at=sa.func.now())
                )

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def capture_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name in ("content-type", "location"):
                        response_headers[name] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            await self._complete(state, table, key_scope, key, status, b"".join(chunks), response_headers)

    @staticmethod
    async def _complete(
        state: Any, table: sa.Table, key_scope: str, key: str, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        where = (table.c.scope == key_scope, table.c.key == key)
        async with state.sessionmaker() as session, session.begin():
            if status >= 500:
                await session.execute(sa.delete(table).where(*where))
            else:
                await session.execute(
                    sa.update(table)
                    .where(*where)
                    .values(
                        status_code=status,
                        response_body=body,
                        response_headers=headers,
                        completed_at=sa.func.now(),
                    )
                )
