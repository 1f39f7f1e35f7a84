"""RFC 9457 problem responses with stable, machine-readable codes.

Domain code raises :class:`DomainError` subclasses (pure Python, no FastAPI); :func:`install_problem_handlers`
maps them, request validation errors and unexpected failures to ``application/problem+json`` in one place.

Language: the request context middleware sets the language the caller prefers (:func:`preferred_language` of its
``Accept-Language``); when it is Chinese, :func:`problem_response` answers with the catalog's Chinese ``title`` and
``detail`` of the code (docs/errors.md), keeps the English detail in ``detail_en`` and says
``Content-Language: zh-CN``. Every problem response carries ``Vary: Accept-Language``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("renovation.errors")

Language = Literal["en", "zh"]
_LANGUAGE: ContextVar[Language] = ContextVar("problem_language", default="en")
MAX_ACCEPT_LANGUAGE = 512


def preferred_language(accept_language: str | None) -> Language:
    """``zh`` when ``Accept-Language`` prefers a Chinese tag (``zh``, ``zh-CN``, ``zh-Hans`` ...) to English,
    otherwise ``en``. Quality values are honoured; an unparsable item is ignored; ties go to the first listed."""
    best_quality, best = 0.0, "en"
    for item in (accept_language or "")[:MAX_ACCEPT_LANGUAGE].split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en", "*"):
            continue
        quality = 1.0
        params = params.strip()
        if params:
            name, _, value = params.partition("=")
            try:
                quality = float(value) if name.strip().lower() == "q" else 1.0
            except ValueError:
                continue
        if not 0 < quality <= 1:
            continue
        if quality > best_quality:  # ties: the first listed wins
            best_quality, best = quality, ("zh" if primary == "zh" else "en")
    return "zh" if best == "zh" else "en"


def set_language(language: Language) -> Any:
    """Set the language of this request's problem responses; returns the token for :func:`reset_language`."""
    return _LANGUAGE.set(language)


def reset_language(token: Any) -> None:
    _LANGUAGE.reset(token)


class DomainError(Exception):
    """A business rule said no. ``code`` is stable and documented; apps localise by it."""

    status: int = 422
    code: str = "domain_rule_violated"
    title: str = "A business rule was violated"

    def __init__(self, detail: str = "", *, code: str | None = None, status: int | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Resource not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict with the current state"


class InvalidState(DomainError):
    status = 409
    code = "invalid_state"
    title = "Not allowed in the resource's current state"


class Unauthorized(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed for this role or scope"


class BadRequest(DomainError):
    status = 400
    code = "bad_request"
    title = "The request is not acceptable"


class ProblemItem(BaseModel):
    """One of the problems listed in ``errors``: a field of the request that failed validation (``loc``, ``msg``,
    ``type``), or a row of an imported file that was refused (``row``, ``field``, ``code``, ``message``)."""

    loc: list[str | int] | None = Field(default=None, description="Where in the request: `['body', 'amount_fen']`")
    msg: str | None = None
    type: str | None = Field(default=None, description="The validation rule that failed (`missing`, `int_type` …)")
    row: int | None = Field(default=None, description="The data row of an imported file (1 = the first after headers)")
    field: str | None = None
    code: str | None = None
    message: str | None = None


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = Field(default="about:blank", examples=["https://errors.renovation.example/not_found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="Stable machine-readable error code (catalog: docs/errors.md)")
    detail_en: str | None = Field(
        default=None, description="The English detail, when `title` and `detail` are Chinese (Accept-Language: zh-CN)"
    )
    errors: list[ProblemItem] | None = Field(default=None, description="Each field or row that failed, when several")


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://errors.renovation.example/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {**(headers or {}), "Vary": "Accept-Language"}
    if _LANGUAGE.get() == "zh":
        from renovation_common.error_catalog import entry

        localised = entry(code)
        if localised is not None:
            body["title"] = localised.zh_title
            body["detail"] = localised.zh
            if detail:
                body["detail_en"] = detail
            headers["Content-Language"] = "zh-CN"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in (
        (400, "Bad request"),
        (401, "Missing or invalid token"),
        (403, "Role or scope does not allow this"),
        (404, "Not found"),
        (409, "Conflict"),
        (422, "Invalid input or business rule violated"),
    )
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, instance=request.url.path, headers=headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation_error",
            "The request is not valid",
            f"{len(errors)} field(s) failed validation",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem_response(
            exc.status_code,
            code,
            str(exc.detail) if exc.detail else code,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(500, "internal_error", "Internal server error", instance=request.url.path)
