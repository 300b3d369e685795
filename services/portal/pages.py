"""Portal pages: thin handlers that fetch from the services and render Jinja2 templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from services.kit.auth import Role, mint_dev_token
from services.portal.clients import ServiceClients

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

router = APIRouter()


def _clients(request: Request) -> ServiceClients:
    clients: ServiceClients = request.app.state.clients
    return clients


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, {"dev_mode": request.app.state.dev_mode, **context})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    return _render(request, "home.html", health=await _clients(request).health())


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
async def health(request: Request) -> HTMLResponse:
    return _render(request, "health.html", health=await _clients(request).health())


def _token(request: Request) -> str | None:
    return request.cookies.get("motcua_token")


@router.get("/dossiers/{code}", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def dossier(request: Request, code: str) -> HTMLResponse | RedirectResponse:
    token = _token(request)
    if not token:
        return RedirectResponse(f"/dang-nhap?next=/dossiers/{code}", status_code=303)
    clients = _clients(request)
    status, body = await clients.get_json("intake", f"/dossiers/by-code/{code}", token)
    if status != 200:
        return _render(request, "not_found.html", what=f"Hồ sơ {code}", status_code=status)
    _, deliveries = await clients.get_json("notify", "/deliveries", token, dossier_code=code)
    return _render(request, "dossier.html", dossier=body, deliveries=deliveries or [])


@router.get("/dev/mailbox", response_class=HTMLResponse, include_in_schema=False)
async def mailbox(request: Request) -> HTMLResponse:
    if not request.app.state.dev_mode:
        return _render(request, "not_found.html", what="Hộp thư thử nghiệm", status_code=404)
    return _render(request, "mailbox.html", messages=await _clients(request).mailbox())


ROLE_LABELS_VI = {
    Role.RECEPTION_OFFICER: "Cán bộ tiếp nhận",
    Role.SPECIALIST: "Chuyên viên xử lý",
    Role.SIGNING_LEADER: "Lãnh đạo ký duyệt",
    Role.CASHIER: "Thu ngân",
    Role.POSTAL_AGENT: "Nhân viên bưu điện",
    Role.UNIT_ADMIN: "Quản trị đơn vị",
    Role.PROVINCE_ADMIN: "Quản trị cấp tỉnh",
    Role.INSPECTOR: "Thanh tra",
}


@router.get("/dang-nhap", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """Dev login (dev mode only): pick a role and a unit; production logs in through OIDC."""
    if not request.app.state.dev_secret:
        return _render(request, "not_found.html", what="Đăng nhập thử nghiệm", status_code=404)
    return _render(request, "login.html", roles=ROLE_LABELS_VI, next=next)


@router.post("/dang-nhap", include_in_schema=False, response_model=None)
async def login(
    request: Request, name: str = Form(...), role: Role = Form(...), unit_code: str = Form(...), next: str = Form("/")
) -> HTMLResponse | RedirectResponse:
    secret = request.app.state.dev_secret
    if not secret:
        return _render(request, "not_found.html", what="Đăng nhập thử nghiệm", status_code=404)
    token = mint_dev_token(
        secret, subject=f"dev-{role.value}-{unit_code}", roles=[role], unit_code=unit_code, name=name, ttl_s=8 * 3600
    )
    response = RedirectResponse(next if next.startswith("/") else "/", status_code=303)
    response.set_cookie("motcua_token", token, httponly=True, samesite="strict", max_age=8 * 3600)
    return response
