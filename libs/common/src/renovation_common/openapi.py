"""What every service's OpenAPI 3.1 document says beyond what FastAPI derives from the routes.

:func:`install_openapi` (called by the app factory) wraps ``app.openapi`` once, so every service gets the same
contract conventions without writing them route by route:

* **Security.** A ``bearerAuth`` scheme (HTTP bearer, JWT), so Swagger UI shows an *Authorize* button. Each
  operation whose route depends on :func:`renovation_common.auth.authorize` (or ``require_roles``) gets
  ``security: [{bearerAuth: []}]``, the admitted roles as the ``x-required-roles`` extension and one sentence
  naming them at the end of its description. The roles are read from the route's dependency tree, so the document
  cannot disagree with what the route enforces. An operation without a role dependency (health, provider
  callbacks signed otherwise) is marked ``security: []``.
* **Idempotency-Key.** Every unsafe operation (POST/PUT/PATCH/DELETE) that authenticates a caller is served by
  :class:`renovation_common.idempotency.IdempotencyMiddleware`, which keys records by the token's subject: those
  operations document the optional ``Idempotency-Key`` header and the ``Idempotent-Replayed`` response header.
  A route that commits nothing (a pure computation) may say so with ``openapi_extra={"x-idempotency-key": False}``.
* **Problems.** Error bodies are ``application/problem+json`` (FastAPI documents a response ``model`` under
  ``application/json``: the Problem schema is moved to the media type actually sent).
* **Servers.** ``servers`` is set from the settings: ``PUBLIC_BASE_URL`` when given, and the service's
  ``ROOT_PATH`` (``/`` without one) — relative, so a document fetched through the gateway points back at it.

:func:`install_docs` serves Swagger UI (``/docs``) and ReDoc (``/redoc``) from the assets of the pinned
``fastapi-offline`` wheel (``/docs/assets``): the pages work on a network without Internet access, and load
nothing from a CDN, a font service or the online validator.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from renovation_common.auth import Role
from renovation_common.errors import PROBLEM_JSON, NotFound
from renovation_common.links import LINK_EXTENSION, LINK_PARAM, LINK_SCHEME

BEARER_SCHEME = "bearerAuth"
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})
ROLES_EXTENSION = "x-required-roles"
IDEMPOTENCY_EXTENSION = "x-idempotency-key"

BEARER_DESCRIPTION = (
    "A JWT in `Authorization: Bearer <token>`. Claims: `sub`, `role` (one of "
    + ", ".join(f"`{r.value}`" for r in Role)
    + "), the scope claims of the role (`district_id`, `street_id`, `community_id`, `household_id`), `exp`, `iss`, "
    "`aud`. Development tokens are HS256 (`make token ROLE=district_admin DISTRICT=510105`); production verifies "
    "RS256/ES256 tokens of the identity provider. See docs/integration.md for the claims each role must carry."
)

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same request (same caller, method, path, query and "
    "body) returns the first response again, with `Idempotent-Replayed: true`, and applies nothing twice; the same "
    "key with a different request is refused with 409 `idempotency_key_reused`. Keys are kept for the retention "
    "period (14 days by default). Use a fresh random value (e.g. a UUID) per intended change.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "example": "5f0c7c7e-8f5b-4a35-9c43-3f0f3b0d2a11",
}

REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this response is the stored response of an earlier request with the same "
    "`Idempotency-Key`",
    "schema": {"type": "string", "enum": ["true"]},
}

API_CONVENTIONS = """

## Conventions
- **Authentication:** `Authorization: Bearer <JWT>` (the *Authorize* button). Each operation names the roles it
  admits (`x-required-roles`); a caller then sees only its own scope (district, street, community, household).
- **Errors:** `application/problem+json` (RFC 9457) with a stable `code` (catalog: docs/errors.md). Send
  `Accept-Language: zh-CN` to get `title` and `detail` in Chinese.
- **Retries:** unsafe operations accept an `Idempotency-Key` header. A replay — by that key or by a resource's own
  id (a `submission_id`, a transfer id) — says so with `Idempotent-Replayed: true`.
- **Lists:** cursor pagination (`cursor`, `limit`; the next page's cursor is `next_cursor`).
- **Values:** timestamps are RFC 3339 with an offset; money is integer fen in fields named `*_fen`.
"""


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of ``app`` as FastAPI sees it for the document (included routers resolved: ``path_format``,
    ``methods``, ``dependant``, ``summary``, ``description``, ``openapi_extra``, ``include_in_schema``)."""
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, routing.APIRoute):
            yield context


def required_roles(route: Any) -> frozenset[Role] | None:
    """The roles a route admits, read from its role dependencies (``authorize``/``require_roles``); ``None`` when
    the route has none (it does not authenticate a caller by token). Nested role dependencies all apply."""
    found: frozenset[Role] | None = None
    for dep in _dependants(route.dependant):
        allowed = getattr(dep.call, "allowed_roles", None)
        if allowed is not None:
            found = frozenset(allowed) if found is None else found & frozenset(allowed)
    return found


def _role_sentence(roles: frozenset[Role]) -> str:
    names = ", ".join(f"`{r.value}`" for r in sorted(roles, key=lambda r: list(Role).index(r)))
    return (
        f"**Required role{'s' if len(roles) > 1 else ''}:** {'one of ' if len(roles) > 1 else ''}{names} "
        "(another role is refused with 403 `role_not_allowed`, a token without its role's scope claims with 403 "
        "`scope_claim_missing`)."
    )


def _move_problems_to_problem_json(op: dict[str, Any]) -> None:
    for response in op.get("responses", {}).values():
        content = response.get("content", {})
        if PROBLEM_JSON in content and not content[PROBLEM_JSON] and "application/json" in content:
            content[PROBLEM_JSON] = content.pop("application/json")


def _document_idempotency(op: dict[str, Any]) -> None:
    params = op.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key" for p in params):
        params.append(dict(IDEMPOTENCY_PARAMETER))
    for status, response in op.get("responses", {}).items():
        if str(status).startswith("2"):
            response.setdefault("headers", {})["Idempotent-Replayed"] = dict(REPLAYED_HEADER)


def enrich(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the security scheme, per-operation roles, ``Idempotency-Key`` and problem+json media types to
    ``schema`` (the document FastAPI generated for ``app``)."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": BEARER_DESCRIPTION,
    }
    components["securitySchemes"][LINK_SCHEME] = {
        "type": "apiKey",
        "in": "query",
        "name": LINK_PARAM,
        "description": "A short-lived signed link from `POST /v1/links` (operations marked `x-signed-link` only): "
        "it opens that one request as the caller who made it, without a bearer header.",
    }
    routes = {
        (route.path_format, method.lower()): route
        for route in api_routes(app)
        if route.include_in_schema
        for method in route.methods
    }
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or method not in {"get", "post", "put", "patch", "delete"}:
                continue
            _move_problems_to_problem_json(op)
            route = routes.get((path, method))
            roles = required_roles(route) if route is not None else None
            if roles is None:
                op["security"] = []
                continue
            op["security"] = [{BEARER_SCHEME: []}]
            if op.get(LINK_EXTENSION):
                op["security"].append({LINK_SCHEME: []})
                op["description"] = (
                    op.get("description", "").rstrip() + "\n\nAlso opens with a signed link (`POST /v1/links`), "
                    "e.g. as an image or a download in a browser."
                ).strip()
            op[ROLES_EXTENSION] = sorted(r.value for r in roles)
            sentence = _role_sentence(roles)
            description = op.get("description", "").rstrip()
            op["description"] = f"{description}\n\n{sentence}" if description else sentence
            extra = (route.openapi_extra or {}) if route is not None else {}
            if method in UNSAFE_METHODS and extra.get(IDEMPOTENCY_EXTENSION, True) is not False:
                _document_idempotency(op)
            op.pop(IDEMPOTENCY_EXTENSION, None)
    return schema


def servers_for(root_path: str, public_base_url: str) -> list[dict[str, str]]:
    """The ``servers`` of a service's document: its public URL when configured, then its path behind the gateway."""
    servers: list[dict[str, str]] = []
    if public_base_url:
        servers.append({"url": public_base_url.rstrip("/"), "description": "This deployment"})
    servers.append(
        {
            "url": root_path.rstrip("/") or "/",
            "description": "Relative to where this document was fetched (the gateway's prefix of the service)",
        }
    )
    return servers


def install_openapi(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the generated document is enriched once and cached."""
    generate = app.openapi
    enriched: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's cached document (rebuilt when routes are added)
        if not enriched or enriched[0] is not schema:
            enriched[:] = [enrich(app, schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_ASSETS = "/docs/assets"
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    "persistAuthorization": True,  # the token entered under Authorize survives a reload
    "displayRequestDuration": True,
    "filter": True,
    "validatorUrl": None,  # never send the document to the online validator
    "tryItOutEnabled": False,
}


def install_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their scripts and styles served from the package (create
    the app with ``docs_url=None, redoc_url=None``). Behind a gateway the pages load ``ROOT_PATH/openapi.json``."""
    assets = resources.files("fastapi_offline") / "static"
    files = {name: str(assets / name) for name in DOCS_FILES}
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        if name not in files:
            raise NotFound("no such documentation asset")
        return FileResponse(
            files[name], media_type=DOCS_FILES[name], headers={"Cache-Control": "public, max-age=86400"}
        )

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_swagger_ui_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{prefix}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=prefix + "/docs/oauth2-redirect",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        return get_redoc_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{prefix}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
