"""Authentication and role-and-unit authorisation, in one place for every service.

Who: a bearer JWT, verified against the configured issuer's JWKS (OIDC, e.g. Keycloak) or,
in dev and tests, against a local HS256 secret (`MOTCUA_AUTH_DEV_SECRET`).
Claims used: `sub`, `name`, `roles` (list), `unit_code` (the administrative unit the person
works for), optional `office_id`.

Where: every resource records its `unit_path` — the codes of its unit and of every unit
above it (commune → [district] → province). A person may act on a resource when their
`unit_code` is on that path: an officer of a commune sees that commune's dossiers, a
province administrator sees every unit of the province, nobody sees a sibling's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from services.kit.errors import Forbidden, Unauthorized


class Role(StrEnum):
    RECEPTION_OFFICER = "reception_officer"  # cán bộ tiếp nhận (bộ phận một cửa)
    SPECIALIST = "specialist"  # chuyên viên xử lý
    SIGNING_LEADER = "signing_leader"  # lãnh đạo ký duyệt
    CASHIER = "cashier"  # thu ngân
    POSTAL_AGENT = "postal_agent"  # nhân viên bưu điện
    UNIT_ADMIN = "unit_admin"  # quản trị đơn vị
    PROVINCE_ADMIN = "province_admin"  # quản trị cấp tỉnh
    INSPECTOR = "inspector"  # thanh tra (chỉ đọc)


STAFF_ROLES: frozenset[Role] = frozenset(Role)
READ_ONLY_ROLES: frozenset[Role] = frozenset({Role.INSPECTOR})


class Principal(BaseModel):
    """The authenticated caller."""

    subject: str
    name: str = ""
    roles: frozenset[Role] = Field(default_factory=frozenset)
    unit_code: str
    office_id: str | None = None

    def has_any(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles & set(roles))

    def covers(self, unit_path: Iterable[str]) -> bool:
        """True when the caller's unit is the resource's unit or one above it."""
        return self.unit_code in set(unit_path)


class AuthConfig(BaseModel):
    dev_secret: str = ""
    jwks_url: str = ""
    issuer: str = ""
    audience: str = ""


class TokenVerifier:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True) if config.jwks_url else None
        if not config.dev_secret and not self._jwks:
            raise RuntimeError("no way to verify tokens: set MOTCUA_AUTH_JWKS_URL or MOTCUA_AUTH_DEV_SECRET")

    def verify(self, token: str) -> Principal:
        options: dict[str, Any] = {"require": ["exp", "sub"]}
        kwargs: dict[str, Any] = {"options": options, "leeway": 30}
        if self.config.issuer:
            kwargs["issuer"] = self.config.issuer
        if self.config.audience:
            kwargs["audience"] = self.config.audience
        else:
            options["verify_aud"] = False
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256", "ES256"], **kwargs)
            else:
                claims = jwt.decode(token, self.config.dev_secret, algorithms=["HS256"], **kwargs)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {exc}", code="invalid_token") from exc
        roles_claim = claims.get("roles") or claims.get("realm_access", {}).get("roles", [])
        roles = frozenset(Role(r) for r in roles_claim if r in Role._value2member_map_)
        unit = claims.get("unit_code")
        if not unit:
            raise Unauthorized("Token has no unit_code claim", code="invalid_token")
        return Principal(
            subject=str(claims["sub"]),
            name=str(claims.get("name", "")),
            roles=roles,
            unit_code=str(unit),
            office_id=claims.get("office_id"),
        )


def mint_dev_token(
    secret: str,
    *,
    subject: str,
    roles: Iterable[Role | str],
    unit_code: str,
    name: str = "",
    office_id: str | None = None,
    ttl_s: int = 3600,
) -> str:
    """A dev/test token signed with the local secret (`motcua token …`, the dev login)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "name": name or subject,
        "roles": [str(Role(r)) for r in roles],
        "unit_code": unit_code,
        "iat": now,
        "exp": now + ttl_s,
    }
    if office_id:
        claims["office_id"] = office_id
    return jwt.encode(claims, secret, algorithm="HS256")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get("motcua_token")


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Unauthorized("Authentication is not configured on this service", code="auth_not_configured")
    token = _bearer(request)
    if not token:
        raise Unauthorized("A bearer token is required", code="missing_token")
    return verifier.verify(token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency factory: the caller must hold one of `roles` (declared per endpoint)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.has_any(allowed):
            raise Forbidden(
                f"This action needs one of the roles: {', '.join(sorted(allowed))}", code="role_not_allowed"
            )
        return principal

    dependency.__name__ = f"require_{'_or_'.join(sorted(allowed))}"
    # the endpoint's declared rule, readable by tools (the authorisation matrix test, docs)
    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def allowed_roles_of(call: object) -> frozenset[Role] | None:
    """The roles a `require_roles(...)` dependency accepts; all roles for `current_principal`;
    None for anything else (the matrix test walks each route's dependencies with this)."""
    if call is current_principal:
        return frozenset(Role)
    roles = getattr(call, "allowed_roles", None)
    return frozenset(roles) if roles is not None else None


def ensure_unit(principal: Principal, unit_path: Iterable[str]) -> None:
    """Raise 403 unless the caller's unit covers the resource's unit."""
    if not principal.covers(unit_path):
        raise Forbidden("This record belongs to another administrative unit", code="unit_not_allowed")
