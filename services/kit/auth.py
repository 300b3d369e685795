"""Authentication and role-and-unit authorisation, in one place for every service.

Who: a bearer JWT, verified against the configured issuer's JWKS (OIDC, e.g. Keycloak) or,
in dev and tests, against a local HS256 secret (`MOTCUA_AUTH_DEV_SECRET`).
The last key set fetched successfully is kept (in memory, and in `MOTCUA_AUTH_JWKS_CACHE_PATH`
when set): a commune office whose WAN link to the province issuer is down keeps verifying
tokens signed with known keys — across a restart too — and logs a warning (`CachedJWKClient`).
Claims used: `sub`, `name`, `roles` (list), `unit_code` (the administrative unit the person
works for), optional `office_id`.

Where: every resource records its `unit_path` — the codes of its unit and of every unit
above it (commune → [district] → province). A person may act on a resource when their
`unit_code` is on that path: an officer of a commune sees that commune's dossiers, a
province administrator sees every unit of the province, nobody sees a sibling's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from services.kit.errors import Forbidden, Unauthorized

log = logging.getLogger("motcua.auth")


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
    jwks_cache_path: str = Field("", description="File keeping the last good JWKS across restarts; empty = memory")
    jwks_timeout_s: float = Field(5.0, gt=0, description="JWKS fetch timeout (the fetch blocks the request)")
    jwks_lifespan_s: float = Field(300.0, gt=0, description="How long a fetched JWKS is used before refetching")


class CachedJWKClient(jwt.PyJWKClient):
    """PyJWT's JWKS client that falls back to the last key set it fetched successfully.

    Every successful fetch is remembered in memory and, with `cache_path`, written atomically to
    disk (public keys only). When a fetch fails — the issuer is unreachable, times out or
    answers an error — the last good set is used (loaded from disk after a restart), a warning is
    logged, and the next attempt waits for the normal cache lifespan, so a dead link costs one
    timeout per lifespan, not one per request. Without any last good set the error stands
    (the token is refused). A token whose key id is not in the last good set is refused too.
    """

    def __init__(
        self,
        uri: str,
        *,
        cache_path: str | Path | None = None,
        timeout: float = 5.0,
        lifespan: float = 300.0,
    ) -> None:
        super().__init__(uri, cache_keys=False, cache_jwk_set=True, lifespan=lifespan, timeout=timeout)
        self.cache_path = Path(cache_path) if cache_path else None
        self._last_good: dict[str, Any] | None = None
        self._last_good_at: datetime | None = None
        self._loaded = False
        self._lock = threading.Lock()

    # ---- the last good set -------------------------------------------------------------------
    def _load(self) -> None:
        """Read the disk copy once, lazily (no I/O at construction)."""
        if self._loaded:
            return
        self._loaded = True
        if self.cache_path is None or self._last_good is not None:
            return
        try:
            saved = json.loads(self.cache_path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("JWKS cache %s unreadable, ignored: %s", self.cache_path, exc)
            return
        if not isinstance(saved, dict) or saved.get("uri") != self.uri or not isinstance(saved.get("jwks"), dict):
            log.warning("JWKS cache %s is for another issuer or malformed, ignored", self.cache_path)
            return
        self._last_good = saved["jwks"]
        try:
            self._last_good_at = datetime.fromisoformat(str(saved.get("fetched_at")))
        except ValueError:
            self._last_good_at = None

    def _remember(self, jwks: dict[str, Any]) -> None:
        changed = jwks != self._last_good
        self._last_good, self._last_good_at, self._loaded = jwks, datetime.now(UTC), True
        if self.cache_path is None or not changed:
            return
        record = {"uri": self.uri, "fetched_at": self._last_good_at.isoformat(), "jwks": jwks}
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".jwks-", dir=self.cache_path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(record, f)
                os.replace(tmp, self.cache_path)  # atomic: a reader never sees half a file
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("JWKS cache %s not written: %s", self.cache_path, exc)

    # ---- PyJWKClient ---------------------------------------------------------------------------
    def fetch_data(self) -> Any:
        with self._lock:
            try:
                data = super().fetch_data()
            except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as exc:  # unreachable, HTTP error, junk
                self._load()
                if self._last_good is None:
                    if isinstance(exc, jwt.PyJWTError):
                        raise
                    raise jwt.PyJWKClientError(f"The JWKS endpoint did not return JSON: {exc}") from exc
                since = self._last_good_at.isoformat() if self._last_good_at else "an earlier run"
                log.warning("JWKS %s unreachable (%s): using the last good key set, fetched %s", self.uri, exc, since)
                return self._last_good
            if isinstance(data, dict):
                self._remember(data)
            return data


class TokenVerifier:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._jwks = (
            CachedJWKClient(
                config.jwks_url,
                cache_path=config.jwks_cache_path or None,
                timeout=config.jwks_timeout_s,
                lifespan=config.jwks_lifespan_s,
            )
            if config.jwks_url
            else None
        )
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
