"""The kiosk in the office hall (public): take a ticket, check in an appointment; the ticket's
own page for the citizen's phone (QR on the printed ticket)."""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from services.portal.pages.common import (
    client_ip,
    clients_of,
    error_text,
    offices_in_scope,
    redirect,
    render,
    translator,
)

router = APIRouter()

PRIORITIES = ("none", "elderly", "disability", "pregnant", "small_child")


def qr_svg(url: str, scale: int = 4) -> Markup:
    return Markup(segno.make(url, error="m").svg_inline(scale=scale, title=url))


@router.get("/kiosk", response_class=HTMLResponse, include_in_schema=False)
async def choose_office(request: Request) -> HTMLResponse:
    return render(
        request,
        "choose_office.html",
        offices=await offices_in_scope(request, None),
        target="/kiosk",
        title=translator(request)("kiosk.title"),
    )


@router.get("/kiosk/{office_id}", response_class=HTMLResponse, include_in_schema=False)
async def kiosk(request: Request, office_id: str) -> HTMLResponse:
    reply = await clients_of(request).call(
        "intake", "GET", f"/queue/offices/{office_id}/kiosk", client_ip=client_ip(request)
    )
    if not reply.ok:
        return render(
            request,
            "message.html",
            status_code=reply.status,
            title=translator(request)("kiosk.title"),
            text=error_text(request, reply),
        )
    return render(request, "kiosk.html", menu=reply.body, office_id=office_id)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@router.post("/kiosk/{office_id}/lay-so", include_in_schema=False)
async def take_ticket(request: Request, office_id: str) -> Response:
    form = await request.form()
    priority = _text(form.get("priority")) or "none"
    body = {
        "office_id": office_id,
        "field_code": _text(form.get("field_code")) or None,
        "priority": priority if priority in PRIORITIES else "none",
        "kiosk_id": "portal-kiosk",
    }
    reply = await clients_of(request).call(
        "intake", "POST", "/queue/kiosk/tickets", json=body, client_ip=client_ip(request)
    )
    if not reply.ok:
        return redirect(f"/kiosk/{office_id}", "error", text=error_text(request, reply))
    return redirect(f"/kiosk/{office_id}/ve/{reply.body['id']}", "ticket_issued")


@router.post("/kiosk/{office_id}/check-in", include_in_schema=False)
async def check_in(request: Request, office_id: str) -> Response:
    form = await request.form()
    body = {
        "office_id": office_id,
        "appointment_code": _text(form.get("appointment_code")).upper(),
        "kiosk_id": "portal-kiosk",
    }
    reply = await clients_of(request).call(
        "intake", "POST", "/queue/kiosk/check-in", json=body, client_ip=client_ip(request)
    )
    if not reply.ok:
        return redirect(f"/kiosk/{office_id}", "error", text=error_text(request, reply))
    return redirect(f"/kiosk/{office_id}/ve/{reply.body['id']}", "checked_in")


async def _ticket(request: Request, ticket_id: str) -> dict[str, Any] | None:
    reply = await clients_of(request).call("intake", "GET", f"/queue/tickets/{ticket_id}", client_ip=client_ip(request))
    return reply.body if reply.ok else None


@router.get("/kiosk/{office_id}/ve/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
async def printed_ticket(request: Request, office_id: str, ticket_id: str) -> HTMLResponse:
    ticket = await _ticket(request, ticket_id)
    if ticket is None:
        return render(request, "not_found.html", what=translator(request)("kiosk.ticket"), status_code=404)
    link = f"{request.app.state.public_base_url}/ve/{ticket_id}"
    return render(request, "kiosk_ticket.html", ticket=ticket, office_id=office_id, qr=qr_svg(link), link=link)


@router.get("/ve/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
async def ticket_status(request: Request, ticket_id: str) -> HTMLResponse:
    ticket = await _ticket(request, ticket_id)
    if ticket is None:
        return render(request, "not_found.html", what=translator(request)("kiosk.ticket"), status_code=404)
    return render(request, "ticket_status.html", ticket=ticket)
