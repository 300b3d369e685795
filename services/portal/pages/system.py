"""Home, service health, the dev mailbox and the dev login (dev mode only)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.kit.auth import Role, mint_dev_token
from services.portal.pages.common import clients_of, not_found, redirect, render, translator, viewer_of
from services.portal.security import TOKEN_COOKIE

router = APIRouter()

SESSION_S = 8 * 3600


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    health = await clients_of(request).health()
    return render(request, "home.html", health=health)


@router.get("/health", response_class=HTMLResponse, include_in_schema=False)
async def health(request: Request) -> HTMLResponse:
    if not request.app.state.dev_mode and viewer_of(request) is None:
        return not_found(request, translator(request)("health.title"))
    return render(request, "health.html", health=await clients_of(request).health())


@router.get("/dev/mailbox", response_class=HTMLResponse, include_in_schema=False)
async def mailbox(request: Request) -> HTMLResponse:
    if not request.app.state.dev_mode:
        return not_found(request, translator(request)("mailbox.title"))
    return render(request, "mailbox.html", messages=await clients_of(request).mailbox())


@router.get("/dang-nhap", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """Dev login (dev mode only): pick a role and a unit; production logs in through OIDC."""
    if not request.app.state.dev_secret:
        return not_found(request, translator(request)("login.title"))
    return render(request, "login.html", all_roles=list(Role), next=next if next.startswith("/") else "/")


@router.post("/dang-nhap", include_in_schema=False, response_model=None)
async def login(
    request: Request,
    name: str = Form(..., max_length=200),
    role: Role = Form(...),
    unit_code: str = Form(..., pattern=r"^\d{2,5}$"),
    office_id: str = Form("", max_length=100),
    next: str = Form("/"),
) -> HTMLResponse | RedirectResponse:
    secret = request.app.state.dev_secret
    if not secret:
        return not_found(request, translator(request)("login.title"))
    token = mint_dev_token(
        secret,
        subject=f"dev-{role.value}-{unit_code}",
        roles=[role],
        unit_code=unit_code,
        name=name,
        office_id=office_id or None,
        ttl_s=SESSION_S,
    )
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(safe_next, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=not request.app.state.dev_mode,
        max_age=SESSION_S,
    )
    return response


@router.post("/dang-xuat", include_in_schema=False)
async def logout(request: Request) -> RedirectResponse:
    response = redirect("/", "logged_out")
    response.delete_cookie(TOKEN_COOKIE, httponly=True, samesite="strict", secure=not request.app.state.dev_mode)
    return response
