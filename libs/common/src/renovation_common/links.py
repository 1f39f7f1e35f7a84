"""Short-lived signed links: open a chart or an export in a browser (an ``<img>``, a download link) without a bearer
header.

A caller with a bearer token asks the service for a link to one ``GET`` of its own (``POST /v1/links`` with the
path and query); the answer is that path with a ``link`` query parameter added. The parameter is a token sealed with
the service's data keys (``DATA_ENCRYPTION_KEYS``, under a purpose of its own: every replica can verify it, and
rotating the keys retires old links): it carries the caller's identity and scope, the exact path and query it opens,
and when it expires (``LINK_TTL_S``, at most 15 minutes). The token is encrypted, so a URL in a browser's history or
a proxy's log shows neither the caller nor their scope, and it opens nothing but that one request.

Only operations that say so accept a link (``openapi_extra={"x-signed-link": True}``: the SVG charts and the
CSV/XLSX exports), only for ``GET``, and only without an ``Authorization`` header. The route then authorises the
link's principal by role and scope exactly as it would the bearer token it was made from — a link never grants more
than its maker holds, and a maker whose scope no longer covers the resource when the link is used is refused then.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import compile_path

from renovation_common.auth import Principal, Role, authorize
from renovation_common.crypto import KeyRing, UndecryptableError
from renovation_common.errors import DomainError, Unauthorized

LINK_PARAM = "link"
LINK_EXTENSION = "x-signed-link"
LINK_SCHEME = "signedLink"
MAX_TTL_S = 900
MAX_PATH_LENGTH = 2048


def canonical_target(path: str, query: str) -> str:
    """``path?query`` with the query's pairs sorted and any ``link`` pair dropped (the form a link is bound to)."""
    pairs = sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != LINK_PARAM)
    return f"{path}?{urlencode(pairs)}" if pairs else path


class LinkSigner:
    """Seals and opens link tokens with the service's data keys (a purpose of their own)."""

    def __init__(self, keys: str, *, service: str, ttl_s: int) -> None:
        self.ring = KeyRing(keys, purpose=f"signed-links:{service}")
        self.ttl_s = max(1, min(ttl_s, MAX_TTL_S))

    def sign(self, principal: Principal, target: str, *, now: float | None = None) -> tuple[str, int]:
        exp = int(now if now is not None else time.time()) + self.ttl_s
        claims = {"target": target, "exp": exp, "principal": {**asdict(principal), "role": principal.role.value}}
        token = self.ring.seal(json.dumps(claims, separators=(",", ":")).encode()).decode("ascii")
        return token, exp

    def open(self, token: str, target: str, *, now: float | None = None) -> Principal:
        try:
            claims = json.loads(self.ring.open(token.encode("ascii")))
            fields = dict(claims["principal"])
            principal = Principal(**{**fields, "role": Role(fields["role"])})
            exp, made_for = int(claims["exp"]), str(claims["target"])
        except (UndecryptableError, UnicodeEncodeError, ValueError, TypeError, KeyError):
            raise Unauthorized("the link is not valid", code="invalid_link") from None
        if exp < int(now if now is not None else time.time()):
            raise Unauthorized("the link has expired: ask for a new one", code="link_expired")
        if made_for != target:
            raise Unauthorized("the link was made for another request", code="invalid_link")
        return principal


def _routes(app: Any) -> Any:
    from renovation_common.openapi import api_routes  # the document's view of the routes (it builds on this module)

    return api_routes(app)


def accepts_links(route: Any) -> bool:
    return bool((getattr(route, "openapi_extra", None) or {}).get(LINK_EXTENSION)) and "GET" in getattr(
        route, "methods", ()
    )


def principal_from_link(request: Request) -> Principal | None:
    """The link's principal when the request carries a ``link`` (and no ``Authorization``) on an operation that
    accepts links; ``None`` when it carries no link. A link anywhere else is refused."""
    token = request.query_params.get(LINK_PARAM)
    if token is None or request.headers.get("authorization"):
        return None
    if request.method not in ("GET", "HEAD") or not accepts_links(request.scope.get("route")):
        raise Unauthorized("this operation does not accept a link: send a bearer token", code="link_not_accepted")
    signer: LinkSigner = request.app.state.link_signer
    return signer.open(token, canonical_target(_route_path(request.scope), request.url.query))


def _route_path(scope: Any) -> str:
    """The path as the service's routes see it (without the gateway's prefix, ``root_path``)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", "") or "")
    return path[len(root) :] if root and path.startswith(root) else path


class LinkCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"path": "/v1/projects/3f0c5e1e-0000-4000-8000-000000000001/handover-chart?format=svg"},
                {"path": "/v1/accounts/0b9c7c8e-3c1f-4d0a-9a51-2f1e7c0d9a11/statement/export?format=xlsx"},
            ]
        }
    )

    path: str = Field(
        min_length=2,
        max_length=MAX_PATH_LENGTH,
        description="The path and query of a GET of this service that accepts links (a chart, an export), as you "
        "would call it: e.g. `/v1/projects/{id}/handover-chart?format=svg`",
        examples=["/v1/projects/3f0c5e1e-0000-4000-8000-000000000001/handover-chart?format=svg"],
    )


class LinkRead(BaseModel):
    url: str = Field(description="The path (behind the gateway, with its prefix) with the `link` parameter")
    expires_at: int = Field(description="Unix time after which the link is refused (`link_expired`)")


def links_router() -> APIRouter:
    router = APIRouter(tags=["links"])

    @router.post(
        "/v1/links",
        operation_id="createSignedLink",
        response_model=LinkRead,
        status_code=201,
        summary="A short-lived link that opens one chart or export of yours without a bearer header",
        openapi_extra={"x-idempotency-key": False},  # stores nothing
    )
    async def create_link(
        body: LinkCreate, request: Request, principal: Annotated[Principal, authorize(*Role)]
    ) -> LinkRead:
        """The link opens only that request (same path and query), for `LINK_TTL_S` seconds, as you: the operation
        authorises your role and scope when the link is used. Operations that accept a link say so in their
        description (`x-signed-link`); any other path is 422 `link_not_allowed`."""
        parts = urlsplit(body.path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            raise DomainError("give the path and query only, without a host", code="link_not_allowed", status=422)
        root = str(request.scope.get("root_path", "") or "")
        path = parts.path[len(root) :] if root and parts.path.startswith(root + "/") else parts.path
        if not any(accepts_links(r) and compile_path(r.path_format)[0].fullmatch(path) for r in _routes(request.app)):
            raise DomainError("this path does not accept links", code="link_not_allowed", status=422)
        target = canonical_target(path, parts.query)
        token, exp = request.app.state.link_signer.sign(principal, target)
        separator = "&" if "?" in target else "?"
        return LinkRead(url=f"{root}{target}{separator}{urlencode({LINK_PARAM: token})}", expires_at=exp)

    return router
