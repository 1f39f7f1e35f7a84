"""JWT authentication, roles and scopes.

Tokens carry ``sub``, ``role``, ``district_id``, ``street_id``, ``community_id``, ``household_id``, ``exp``, ``iss``,
``aud``. Development signs with a shared HS256 secret (``JWT_SECRET``); production verifies RS256/ES256 against the
identity provider's JWKS (``JWT_JWKS_URL``). Every endpoint names the roles it admits with :func:`require_roles`;
the scope check (:meth:`Principal.covers`) then limits a caller to its district, street, community or household.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from renovation_common.errors import Forbidden, Unauthorized


class Role(StrEnum):
    RESIDENT = "resident"
    COMMUNITY_WORKER = "community_worker"
    STREET_OFFICER = "street_officer"
    DISTRICT_ADMIN = "district_admin"
    CONTRACTOR = "contractor"
    QUALITY_SUPERVISOR = "quality_supervisor"
    OPERATOR = "operator"
    GOV_SYSTEM = "gov_system"
    DEVICE_GATEWAY = "device_gateway"
    FINANCE_OFFICER = "finance_officer"  # a district (or street) finance office: records receipts, reads the ledger


STAFF_ROLES = frozenset({Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN})
ALL_ROLES = frozenset(Role)

# The scope claims a token of each role must carry, or it is refused outright (403 ``scope_claim_missing``) instead
# of being silently given a wider or an empty scope: a resident is bound to their household, a community worker (grid
# worker, 网格员) to the community of their grid, a street officer to their street, the district roles to their
# district, a device gateway to its community.
REQUIRED_CLAIMS: dict[Role, tuple[str, ...]] = {
    Role.RESIDENT: ("household_id",),
    Role.COMMUNITY_WORKER: ("community_id",),
    Role.STREET_OFFICER: ("street_id",),
    Role.DISTRICT_ADMIN: ("district_id",),
    Role.CONTRACTOR: ("district_id",),
    Role.QUALITY_SUPERVISOR: ("district_id",),
    Role.OPERATOR: ("district_id",),
    Role.GOV_SYSTEM: (),  # a city-level system may hold no district: it then covers no district's records, and only
    # the webhooks service gives it a city-wide subscription of its own (services/webhooks/README.md)
    Role.DEVICE_GATEWAY: ("community_id",),
    Role.FINANCE_OFFICER: ("district_id",),
}


@dataclass(frozen=True)
class Scope:
    """Where a resource lives in the hierarchy district → street → community → household."""

    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def covers(self, scope: Scope) -> bool:
        """True when the caller's scope contains ``scope``.

        The narrowest claim the caller holds decides: a resident is bound to their household, a community worker
        to their community, a street officer to their street, a district admin to their district. A caller with
        no scope claim at all covers nothing (except ``gov_system`` and ``operator`` with a district claim, which
        behave like district-wide readers).
        """
        if self.role is Role.RESIDENT:
            return self.household_id is not None and self.household_id == scope.household_id
        checks: list[tuple[str | None, str | None]] = []
        if self.household_id is not None and self.role is not Role.DISTRICT_ADMIN:
            checks.append((self.household_id, scope.household_id))
        if self.community_id is not None:
            checks.append((self.community_id, scope.community_id))
        if self.street_id is not None:
            checks.append((self.street_id, scope.street_id))
        if self.district_id is not None:
            checks.append((self.district_id, scope.district_id))
        if not checks:
            return False
        return all(mine == theirs for mine, theirs in checks)

    def scope_filters(self) -> dict[str, str]:
        """The column filters of a list holding what :meth:`covers` admits (rows with ``district_id``, ``street_id``,
        ``community_id`` and ``household_id`` columns): a resident's household; otherwise every claim the caller
        holds. A caller without any claim lists nothing (403 ``out_of_scope``)."""
        if self.role is Role.RESIDENT:
            if self.household_id is None:
                raise Forbidden("your token names no household", code="out_of_scope")
            return {"household_id": self.household_id}
        filters = {
            name: value
            for name, value in (
                ("household_id", self.household_id if self.role is not Role.DISTRICT_ADMIN else None),
                ("community_id", self.community_id),
                ("street_id", self.street_id),
                ("district_id", self.district_id),
            )
            if value is not None
        }
        if not filters:
            raise Forbidden("your token carries no scope", code="out_of_scope")
        return filters

    def covers_community(self, scope: Scope) -> bool:
        """True when the caller may read community-level records of ``scope`` (a resident: their own community)."""
        if self.role is Role.RESIDENT:
            return self.community_id is not None and self.community_id == scope.community_id
        return self.covers(Scope(scope.district_id, scope.street_id, scope.community_id))

    def ensure_covers(self, scope: Scope, what: str = "resource") -> None:
        if not self.covers(scope):
            raise Forbidden(f"this {what} is outside your scope", code="out_of_scope")

    def ensure_covers_community(self, scope: Scope, what: str = "community") -> None:
        if not self.covers_community(scope):
            raise Forbidden(f"this {what} is outside your scope", code="out_of_scope")

    def missing_claims(self) -> list[str]:
        return [c for c in REQUIRED_CLAIMS.get(self.role, ()) if getattr(self, c) is None]


class TokenVerifier:
    """Verifies bearer tokens; HS256 with a shared secret or RS256/ES256 with keys from a JWKS URL.

    A token's signature and claims are checked once per process: the principal is kept, under the exact token
    text, for at most ``reverify_after_s`` (then the token is verified again in full, against the keys of the
    time); its expiry is checked on every use. At most ``cache_size`` tokens are kept (the oldest go first)."""

    def __init__(
        self,
        *,
        secret: str = "",
        jwks_url: str = "",
        issuer: str,
        audience: str,
        cache_size: int = 4096,
        reverify_after_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._cache: dict[str, tuple[Principal, float, float]] = {}  # token -> principal, exp, verified at
        self._cache_size = cache_size
        self._reverify_after_s = reverify_after_s
        self._clock = clock

    @property
    def blocking(self) -> bool:
        """Whether :meth:`verify` may block on I/O (fetching the JWKS): then it runs off the event loop."""
        return self._jwks is not None

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified lately (no I/O: a JWKS verifier answers it on the event loop), or
        ``None`` when the token must be verified; an expired token is refused (401 ``token_expired``)."""
        hit = self._cache.get(token)
        if hit is None:
            return None
        principal, exp, verified_at = hit
        now = self._clock()
        if exp <= now:  # as PyJWT: expired once ``exp`` is reached
            self._cache.pop(token, None)
            raise Unauthorized("token expired", code="token_expired")
        if now - verified_at >= self._reverify_after_s or now < verified_at:
            self._cache.pop(token, None)
            return None
        return principal

    def verify(self, token: str) -> Principal:
        principal = self.cached(token)
        if principal is not None:
            return principal
        principal, exp = self._verify(token)
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache), ""), None)
        self._cache[token] = (principal, exp, self._clock())
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256"]
            else:
                key, algorithms = self.secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired", code="token_expired") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise Unauthorized(f"invalid token: {type(exc).__name__}", code="invalid_token") from None
        try:
            role = Role(claims.get("role", ""))
        except ValueError:
            raise Unauthorized("token has no known role", code="invalid_token") from None

        def opt(name: str) -> str | None:
            value = claims.get(name)
            return str(value) if value not in (None, "") else None

        principal = Principal(
            sub=str(claims["sub"]),
            role=role,
            district_id=opt("district_id"),
            street_id=opt("street_id"),
            community_id=opt("community_id"),
            household_id=opt("household_id"),
        )
        return principal, float(claims["exp"])


def issue_dev_token(
    *,
    secret: str,
    role: str,
    sub: str = "dev-user",
    issuer: str = "renovation-platform",
    audience: str = "renovation-api",
    ttl_s: int = 12 * 3600,
    now: float | None = None,
    **scope: str | None,
) -> str:
    """Sign an HS256 token for development and tests (never used in production)."""
    Role(role)  # validate
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iss": issuer, "aud": audience, "iat": issued}
    claims["exp"] = issued + ttl_s
    claims.update({k: v for k, v in scope.items() if v})
    return jwt.encode(claims, secret, algorithm="HS256")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token", code="missing_token")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """The caller (``async``: a shared-secret token is checked on the event loop, with no hop to a worker thread;
    a JWKS verifier, which may fetch keys, runs in the thread pool)."""
    from renovation_common.links import principal_from_link  # links build on this module

    linked = principal_from_link(request)
    if linked is not None:
        request.state.principal = linked
        return linked
    verifier: TokenVerifier = request.app.state.token_verifier
    token = _bearer(request)
    principal = verifier.cached(token)
    if principal is None:
        principal = await run_in_threadpool(verifier.verify, token) if verifier.blocking else verifier.verify(token)
    request.state.principal = principal
    return principal


def require_roles(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: authenticate and admit only ``roles`` holding their role's scope claims; returns the
    :class:`Principal`. Routes spell it one way: ``principal: Annotated[Principal, authorize(*ROLES)]``."""
    allowed = frozenset(Role(r) for r in roles)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role.value} may not do this", code="role_not_allowed")
        missing = principal.missing_claims()
        if missing:
            raise Forbidden(
                f"a {principal.role.value} token needs the claim(s) {', '.join(missing)}", code="scope_claim_missing"
            )
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def authorize(*roles: Role | str) -> Any:
    """The one spelling of a route's role dependency: ``principal: Annotated[Principal, authorize(*ROLES)]``."""
    return Depends(require_roles(*roles))


def roles(*names: Iterable[Role] | Role) -> tuple[Role, ...]:
    out: list[Role] = []
    for n in names:
        out.extend([n] if isinstance(n, Role) else list(n))
    return tuple(out)
