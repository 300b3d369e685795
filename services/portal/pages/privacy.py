"""A person's requests about their data (Decree 13/2023, Law 91/2025), at the counter: look up
and record consents per purpose, export everything intake holds about them as a JSON file,
request the deletion of their data and see the decision; the unit's deletion decisions for its
administrators and inspectors.

The ID number travels only in POST bodies (never in URLs, which end up in logs); intake checks
the roles and units, audits the reads and decides.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.kit.auth import Role
from services.portal.clients import Reply
from services.portal.pages.common import (
    PRIVACY_ROLES,
    VN_TZ,
    clients_of,
    error_text,
    render,
    signed_in_as,
    token_of,
    translator,
    viewer_of,
)

router = APIRouter()

R = Role
# as intake's routes/privacy.py: the officer the person speaks to, and the unit's administrators;
# inspectors read the decisions (PRIVACY_ROLES, the navigation link, is both)
DATA_OFFICERS = frozenset({R.RECEPTION_OFFICER, R.UNIT_ADMIN, R.PROVINCE_ADMIN})
AUDITORS = frozenset({R.INSPECTOR, R.UNIT_ADMIN, R.PROVINCE_ADMIN})
PURPOSES = ("notifications", "document_reuse", "survey")
ID_RE = re.compile(r"^(\d{12}|\d{9})$")
PAGE = "/du-lieu-ca-nhan"


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _status_of(reply: Reply) -> int:
    """A refusal passes on as it came; anything worse is the service being unavailable."""
    return reply.status if 400 <= reply.status < 500 else 503


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40]


def _id_number(form: FormData) -> str:
    return re.sub(r"[\s.]", "", _text(form, "id_number", 30))


async def _page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page, with the unit's decisions for those who may read them."""
    viewer = viewer_of(request)
    decisions: list[dict[str, Any]] | None = None
    if viewer is not None and viewer.has(AUDITORS):
        reply = await clients_of(request).call(
            "intake", "GET", "/privacy/deletion-requests", token_of(request), params={"limit": 50}
        )
        decisions = list(reply.body.get("items") or []) if reply.ok and isinstance(reply.body, dict) else None
    base: dict[str, Any] = {
        "person": None,
        "consents": None,
        "decision": None,
        "error": None,
        "notice": None,
        "purposes": PURPOSES,
        "may_request": viewer is not None and viewer.has(DATA_OFFICERS),
        "decisions": decisions,
    }
    return render(request, "privacy.html", status_code=status_code, **{**base, **context})


async def _request_form(request: Request) -> tuple[FormData, str] | Response:
    """A data officer's posted form and the person's ID number in it; or the answer instead
    (the login page, a refusal, or the page again saying what is wrong with the number)."""
    if isinstance(refused := signed_in_as(request, DATA_OFFICERS), Response):
        return refused
    form = await request.form()
    id_number = _id_number(form)
    if not ID_RE.match(id_number):
        return await _page(request, 422, error=translator(request)("privacy.bad_id"))
    return form, id_number


async def _ask_intake(request: Request, path: str, body: dict[str, Any]) -> Reply:
    return await clients_of(request).call("intake", "POST", path, token_of(request), json=body)


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def privacy_page(request: Request) -> Response:
    viewer = signed_in_as(request, PRIVACY_ROLES)
    return viewer if isinstance(viewer, Response) else await _page(request)


@router.post(f"{PAGE}/tra-cuu", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def look_up(request: Request) -> Response:
    """The person's consents per purpose, with their history (intake records the read)."""
    asked = await _request_form(request)
    if isinstance(asked, Response):
        return asked
    _, id_number = asked
    reply = await _ask_intake(request, "/privacy/consents/lookup", {"id_number": id_number})
    if not reply.ok:
        return await _page(request, _status_of(reply), error=error_text(request, reply))
    return await _page(request, person=id_number, consents=reply.body)


@router.post(f"{PAGE}/dong-y", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def record_consent(request: Request) -> Response:
    """The person grants or withdraws one purpose at the counter (or on a signed paper form)."""
    asked = await _request_form(request)
    if isinstance(asked, Response):
        return asked
    form, id_number = asked
    t = translator(request)
    purpose, granted = _text(form, "purpose", 40), _text(form, "granted", 5)
    channel = "paper" if _text(form, "channel", 10) == "paper" else "counter"
    if purpose not in PURPOSES or granted not in ("true", "false"):
        return await _page(request, 422, error=t("privacy.bad_choice"))
    reply = await _ask_intake(
        request,
        "/privacy/consents",
        {"id_number": id_number, "purpose": purpose, "granted": granted == "true", "channel": channel,
         "note": _text(form, "note", 500)},
    )
    if not reply.ok:
        return await _page(request, _status_of(reply), error=error_text(request, reply))
    state = t("privacy.granted" if granted == "true" else "privacy.withdrawn")
    notice = t("privacy.consent_saved", purpose=t(f"privacy.purposes.{purpose}"), state=state)
    return await _page(request, person=id_number, consents=reply.body, notice=notice)


@router.post(f"{PAGE}/xuat", include_in_schema=False, response_model=None)
async def export(request: Request) -> Response:
    """Everything intake holds about the person in the officer's units, as a JSON file to hand over."""
    asked = await _request_form(request)
    if isinstance(asked, Response):
        return asked
    form, id_number = asked
    reference = _text(form, "request_reference", 100)
    reply = await _ask_intake(request, "/privacy/exports", {"id_number": id_number, "request_reference": reference})
    if not reply.ok:
        return await _page(request, _status_of(reply), error=error_text(request, reply))
    # named by the day and the request's reference, never by the ID number: file names end up in
    # download lists and shared folders
    name = "-".join(p for p in ("du-lieu-ca-nhan", datetime.now(VN_TZ).strftime("%Y%m%d"), _file_safe(reference)) if p)
    return Response(
        json.dumps(reply.body, ensure_ascii=False, indent=2).encode(),
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.json"', "Cache-Control": "no-store"},
    )


@router.post(f"{PAGE}/xoa", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def request_deletion(request: Request) -> Response:
    """The person's deletion request, recorded with intake's decision (refused where the law
    requires the data, anonymised otherwise)."""
    asked = await _request_form(request)
    if isinstance(asked, Response):
        return asked
    form, id_number = asked
    t = translator(request)
    if _text(form, "confirm", 5) != "yes":
        return await _page(request, 422, person=id_number, error=t("privacy.confirm_needed"))
    reply = await _ask_intake(
        request,
        "/privacy/deletion-requests",
        {"id_number": id_number, "reason": _text(form, "reason", 2000),
         "request_reference": _text(form, "request_reference", 100)},
    )
    if not reply.ok:
        return await _page(request, _status_of(reply), error=error_text(request, reply))
    return await _page(request, person=id_number, decision=reply.body)


@router.get(f"{PAGE}/tra-cuu", include_in_schema=False)
@router.get(f"{PAGE}/xoa", include_in_schema=False)
async def back_to_page() -> RedirectResponse:
    """A reload of a result page (the ID number is not in the URL): start again."""
    return RedirectResponse(PAGE, status_code=303)
