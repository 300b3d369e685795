"""Portal pages: thin handlers that fetch from the services and render Jinja2 templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

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


@router.get("/dossiers/{code}", response_class=HTMLResponse, include_in_schema=False)
async def dossier(request: Request, code: str) -> HTMLResponse:
    clients = _clients(request)
    status, body = await clients.get_json("intake", f"/dossiers/by-code/{code}")
    if status != 200:
        return _render(request, "not_found.html", what=f"Hồ sơ {code}", status_code=status)
    _, deliveries = await clients.get_json("notify", "/deliveries", dossier_code=code)
    return _render(request, "dossier.html", dossier=body, deliveries=deliveries or [])


@router.get("/dev/mailbox", response_class=HTMLResponse, include_in_schema=False)
async def mailbox(request: Request) -> HTMLResponse:
    if not request.app.state.dev_mode:
        return _render(request, "not_found.html", what="Hộp thư thử nghiệm", status_code=404)
    return _render(request, "mailbox.html", messages=await _clients(request).mailbox())
