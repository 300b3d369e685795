"""What every page shares: templates, the signed-in person, rendering, errors, formatting."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jwt
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.kit.auth import Role
from services.portal.clients import Reply, ServiceClients
from services.portal.i18n import Translator
from services.portal.security import TOKEN_COOKIE, csrf_token

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

STAFF = frozenset(Role)
DESK_ROLES = frozenset({Role.RECEPTION_OFFICER})
INBOX_ROLES = STAFF
DASHBOARD_ROLES = frozenset({Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR, Role.SIGNING_LEADER})
QUEUE_STATS_ROLES = frozenset({Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR})
# consents, exports and deletion requests (reception officers, administrators) and their decisions (inspectors)
PRIVACY_ROLES = frozenset({Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR})


# ---- formatting (Jinja filters) ------------------------------------------------------------
def parse_moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment


def fmt_moment(value: Any, pattern: str = "%H:%M %d/%m/%Y") -> str:
    moment = parse_moment(value)
    if moment is None:
        return "—" if value in (None, "") else str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(VN_TZ)
    return moment.strftime(pattern)


def fmt_day(value: Any) -> str:
    return fmt_moment(value, "%d/%m/%Y")


def fmt_time(value: Any) -> str:
    return fmt_moment(value, "%H:%M")


def fmt_vnd(value: Any) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "—"
    return f"{amount:,}".replace(",", ".") + " đồng"


def fmt_seconds(value: Any) -> str:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} giây"
    return f"{seconds / 60:.1f} phút".replace(".", ",")


def fmt_number(value: Any) -> str:
    """2.0 → "2", 1.5 → "1,5" (Vietnamese decimal comma)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—" if value is None else str(value)
    return f"{number:g}".replace(".", ",")


def fmt_percent(value: Any) -> str:
    try:
        return f"{float(value):.1f}%".replace(".", ",")
    except (TypeError, ValueError):
        return "—"


def fmt_bytes(value: Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


TEMPLATES.env.filters.update(
    dt=fmt_moment,
    day=fmt_day,
    num=fmt_number,
    hm=fmt_time,
    vnd=fmt_vnd,
    secs=fmt_seconds,
    pct=fmt_percent,
    size=fmt_bytes,
)


# ---- the signed-in person (for display and navigation; the services verify the token) -------
@dataclass(frozen=True)
class Viewer:
    subject: str
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    unit_code: str = ""
    office_id: str | None = None

    def has(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles & set(roles))

    @property
    def role_list(self) -> list[str]:
        return sorted(r.value for r in self.roles)


def token_of(request: Request) -> str | None:
    return request.cookies.get(TOKEN_COOKIE) or None


def viewer_of(request: Request) -> Viewer | None:
    """The token's claims, read without verification: only to choose what to show."""
    token = token_of(request)
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    if int(claims.get("exp") or 0) < time.time():
        return None
    roles = frozenset(Role(r) for r in claims.get("roles") or [] if r in Role._value2member_map_)
    return Viewer(
        subject=str(claims.get("sub") or ""),
        name=str(claims.get("name") or ""),
        roles=roles,
        unit_code=str(claims.get("unit_code") or ""),
        office_id=claims.get("office_id"),
    )


def clients_of(request: Request) -> ServiceClients:
    clients: ServiceClients = request.app.state.clients
    return clients


def translator(request: Request) -> Translator:
    t: Translator = request.app.state.translator
    return t


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---- rendering -------------------------------------------------------------------------------
def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = translator(request)
    message = request.query_params.get("msg")
    flash = t(f"flash.{message}", **dict(request.query_params)) if message and t.has(f"flash.{message}") else None
    base = {
        "dev_mode": request.app.state.dev_mode,
        "viewer": viewer_of(request),
        "csrf_token": csrf_token(request),
        "t": t,
        "lang": t.language,
        "flash": flash,
        "Role": Role,
        "roles": {
            "desk": DESK_ROLES,
            "inbox": INBOX_ROLES,
            "dashboard": DASHBOARD_ROLES,
            "privacy": PRIVACY_ROLES,
        },
    }
    response = TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(target: str, msg: str | None = None, **params: Any) -> RedirectResponse:
    """303 to `target` with a flash message key (`flash.<msg>` in the translations) and its values."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if msg:
        query = {"msg": msg, **query}
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}{urlencode(query)}" if query else target, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dang-nhap?{urlencode({'next': target})}", status_code=303)


def forbidden(request: Request, needed: Iterable[Role]) -> HTMLResponse:
    t = translator(request)
    labels = ", ".join(t(f"roles.{r.value}") for r in sorted(needed))
    return render(
        request,
        "message.html",
        status_code=403,
        title=t("errors.forbidden_title"),
        text=t("errors.forbidden_text", roles=labels),
    )


def signed_in_as(request: Request, roles: Iterable[Role]) -> Viewer | Response:
    """The signed-in officer holding one of `roles`; else the login page or the refusal page."""
    viewer = viewer_of(request)
    if viewer is None:
        return login_redirect(request)
    if not viewer.has(roles):
        return forbidden(request, roles)
    return viewer


def error_text(request: Request, reply: Reply) -> str:
    """A service's refusal in words an officer understands (Vietnamese when the code is known)."""
    t = translator(request)
    code = reply.error_code
    if reply.status == 401:
        return t("errors.unauthorized")
    if code and t.has(f"errors.{code}"):
        text = t(f"errors.{code}")
        detail = reply.error_message
        return f"{text} ({detail})" if detail and code in {"validation_error", "missing_form_fields"} else text
    if reply.status == 403:
        return t("errors.forbidden")
    if reply.status == 404:
        return t("errors.not_found")
    if reply.status >= 500:
        return t("errors.unavailable")
    return reply.error_message or t("errors.generic", status=reply.status)


def not_found(request: Request, what: str, status_code: int = 404) -> HTMLResponse:
    return render(request, "not_found.html", what=what, status_code=status_code)


# ---- reference data helpers -----------------------------------------------------------------
async def offices_in_scope(request: Request, viewer: Viewer | None) -> list[dict[str, Any]]:
    """Offices of the viewer's unit or below it (every office for the public kiosk/board lists)."""
    clients = clients_of(request)
    offices = await clients.call("intake", "GET", "/offices")
    if not offices.ok or not isinstance(offices.body, list):
        return []
    if viewer is None:
        return list(offices.body)
    units = await clients.call("intake", "GET", "/units")
    parents: dict[str, str | None] = {}
    if units.ok and isinstance(units.body, list):
        for u in units.body:
            if u.get("valid_to") is None:
                parents[str(u["code"])] = u.get("parent_code")

    def path(code: str) -> list[str]:
        out, seen = [code], {code}
        while (parent := parents.get(out[-1])) and parent not in seen:
            out.append(parent)
            seen.add(parent)
        return out

    return [o for o in offices.body if viewer.unit_code in path(str(o.get("unit_code", "")))]
