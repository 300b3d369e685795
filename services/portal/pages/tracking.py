"""Citizen tracking (tra cứu hồ sơ): the dossier code (typed, or from the slip's QR link
`/tra-cuu?code=…`) plus a second factor (last 4 digits of the phone or ID number) → the status
timeline, the due date, where to collect, the digitised result; then a rating and a feedback.

The code and the four digits travel in POST bodies, never in URLs; nothing is kept.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from services.portal.pages.common import client_ip, clients_of, error_text, fmt_day, render, translator

router = APIRouter()

LEVELS = ("very_satisfied", "satisfied", "unsatisfied")
INDICATORS = (
    "total_time",
    "agency_time",
    "contacts",
    "agencies_contacted",
    "counter_model",
    "publicity",
    "staff_attitude",
    "feedback_handling",
    "online_service",
)
RATABLE = {"resolved", "refused", "result_ready", "returned"}
CODE_RE = re.compile(r"^[0-9A-Z.]+-\d{6}-\d{4}$")


def _text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _units(request: Request) -> list[dict[str, str]]:
    """Units a feedback without a dossier code can be addressed to (those with an office)."""
    reply = await clients_of(request).call("intake", "GET", "/offices")
    seen: dict[str, str] = {}
    for office in reply.body or [] if reply.ok else []:
        seen.setdefault(str(office.get("unit_code")), str(office.get("name")))
    return [{"code": code, "name": name} for code, name in seen.items()]


def _page(request: Request, **context: Any) -> Any:
    return render(request, "tracking.html", **{"result": None, "error": None, **context})


@router.get("/tra-cuu", response_class=HTMLResponse, include_in_schema=False)
async def lookup_form(request: Request, code: str = "") -> HTMLResponse:
    return _page(request, code=code.strip().upper()[:60], units=await _units(request))


async def _lookup(request: Request, code: str, last4: str) -> tuple[dict[str, Any] | None, str | None]:
    t = translator(request)
    if not CODE_RE.match(code) or not (len(last4) == 4 and last4.isdigit()):
        return None, t("tracking.bad_input")
    reply = await clients_of(request).call(
        "intake", "GET", "/public/lookup", params={"code": code, "last4": last4}, client_ip=client_ip(request)
    )
    if reply.status == 404:
        return None, t("tracking.not_found")
    if reply.status == 429:
        return None, t("errors.rate_limited")
    if not reply.ok:
        return None, error_text(request, reply)
    return reply.body, None


async def _result_links(request: Request, code: str, last4: str) -> list[dict[str, Any]]:
    reply = await clients_of(request).call(
        "scan", "POST", f"/public/dossiers/{code}/result-links", json={"last4": last4}, client_ip=client_ip(request)
    )
    return list(reply.body or []) if reply.ok else []


async def _render_result(
    request: Request,
    code: str,
    last4: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    rated: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    result, lookup_error = await _lookup(request, code, last4)
    links: list[dict[str, Any]] = []
    if result and (result.get("result_ready") or result.get("returned_at")):
        links = await _result_links(request, code, last4)
    return _page(
        request,
        code=code,
        last4=last4,
        units=await _units(request),
        result=result,
        links=links,
        error=error or lookup_error,
        notice=notice,
        ratable=bool(result and result.get("status") in RATABLE and not rated),
        levels=LEVELS,
        indicators=INDICATORS,
        status_code=status_code if result else (404 if lookup_error else status_code),
    )


@router.post("/tra-cuu", response_class=HTMLResponse, include_in_schema=False)
async def lookup(request: Request) -> HTMLResponse:
    form = await request.form()
    return await _render_result(request, _text(form, "code", 60).upper(), _text(form, "last4", 4))


@router.post("/tra-cuu/danh-gia", response_class=HTMLResponse, include_in_schema=False)
async def rate(request: Request) -> HTMLResponse:
    form = await request.form()
    t = translator(request)
    code, last4 = _text(form, "code", 60).upper(), _text(form, "last4", 4)
    level = _text(form, "level")
    if level not in LEVELS:
        return await _render_result(request, code, last4, error=t("tracking.rating_pick_level"))
    indicators = {}
    for key in INDICATORS:
        value = _text(form, f"ind.{key}")
        if value in ("0", "1", "2"):
            indicators[key] = int(value)
    reply = await clients_of(request).call(
        "intake",
        "POST",
        "/public/ratings",
        json={
            "dossier_code": code,
            "last4": last4,
            "level": level,
            "indicators": indicators,
            "comment": _text(form, "comment"),
        },
        client_ip=client_ip(request),
    )
    if reply.status == 409:
        return await _render_result(request, code, last4, notice=t("tracking.already_rated"), rated=True)
    if not reply.ok:
        return await _render_result(request, code, last4, error=error_text(request, reply))
    return await _render_result(request, code, last4, notice=t("tracking.thanks_rating"), rated=True)


@router.post("/tra-cuu/phan-anh", response_class=HTMLResponse, include_in_schema=False)
async def feedback(request: Request) -> HTMLResponse:
    form = await request.form()
    t = translator(request)
    code = _text(form, "code", 60).upper()
    body = {
        "channel": "web",
        "name": _text(form, "name", 200),
        "address": _text(form, "address", 500),
        "phone": _text(form, "phone", 20),
        "email": _text(form, "email", 200) or None,
        "summary": _text(form, "summary", 1000),
        "content": _text(form, "content", 10000),
        "dossier_code": code or None,
        "unit_code": None if code else (_text(form, "unit_code", 8) or None),
    }
    reply = await clients_of(request).call(
        "intake", "POST", "/public/feedback", json=body, client_ip=client_ip(request)
    )
    if not reply.ok:
        return _page(
            request,
            code=code,
            error=error_text(request, reply),
            feedback_values=body,
            units=await _units(request),
            status_code=422,
        )
    due = fmt_day(reply.body.get("response_due_at"))
    return _page(
        request,
        code=code,
        units=await _units(request),
        notice=t("tracking.thanks_feedback", reference=reply.body.get("reference", ""), due=due),
    )
