"""The display board for the hall's TV (public, numbers only).

The page renders the board's snapshot, then `board.js` follows the live feed through the
portal (`/bang-hien-thi/{office}/su-kien`, relayed from notify's SSE feed with Last-Event-ID)
and reconnects by itself; a reconnect resumes where it stopped or receives a fresh snapshot.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from services.portal.pages.common import clients_of, error_text, offices_in_scope, render, translator

router = APIRouter()

OFFICE_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


@router.get("/bang-hien-thi", response_class=HTMLResponse, include_in_schema=False)
async def choose_office(request: Request) -> HTMLResponse:
    return render(
        request,
        "choose_office.html",
        offices=await offices_in_scope(request, None),
        target="/bang-hien-thi",
        title=translator(request)("board.title"),
    )


@router.get("/bang-hien-thi/{office_id}", response_class=HTMLResponse, include_in_schema=False)
async def board(request: Request, office_id: str) -> HTMLResponse:
    t = translator(request)
    if not OFFICE_RE.match(office_id):
        return render(request, "not_found.html", what=t("board.title"), status_code=404)
    clients = clients_of(request)
    snapshot = await clients.call("notify", "GET", f"/boards/{office_id}")
    offices = await clients.call("intake", "GET", "/offices")
    office = next((o for o in (offices.body or []) if o.get("id") == office_id), None) if offices.ok else None
    if office is None:
        return render(request, "not_found.html", what=t("board.title"), status_code=404)
    counters = {c["id"]: c for c in office.get("counters") or []}
    state = snapshot.body if snapshot.ok else {"counters": [], "last_calls": [], "results_ready": []}
    shown = {c["counter_id"]: c for c in state.get("counters") or []}
    rows = []
    for cid, c in sorted(counters.items(), key=lambda kv: kv[1]["number"]):
        s = shown.get(cid) or {}
        rows.append(
            {
                "counter_id": cid,
                "counter_number": c["number"],
                "counter_name": c["name"],
                "number": s.get("number"),
                "status": s.get("status"),
            }
        )
    return render(
        request,
        "board.html",
        office=office,
        counters=rows,
        state=state,
        error=None if snapshot.ok else error_text(request, snapshot),
    )


@router.get("/bang-hien-thi/{office_id}/su-kien", include_in_schema=False, response_model=None)
async def feed(request: Request, office_id: str) -> Response:
    """The notify feed, relayed byte for byte (same-origin for the page's Content-Security-Policy)."""
    if not OFFICE_RE.match(office_id):
        return Response(status_code=404)
    headers = {"Accept": "text/event-stream"}
    last = request.headers.get("last-event-id")
    if last and last.strip().isdigit():
        headers["Last-Event-ID"] = last.strip()
    upstream = await clients_of(request).open_stream("notify", f"/boards/{office_id}/feed", headers)
    if upstream is None:
        return Response(status_code=503, headers={"Retry-After": "3"})
    if upstream.status_code != 200:
        await upstream.aclose()
        return Response(status_code=502)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/bang-hien-thi/am-thanh/{number}/{counter_number}.wav", include_in_schema=False, response_model=None)
async def announcement(request: Request, number: str, counter_number: int) -> Response:
    if not re.match(r"^[A-Z0-9]{1,12}$", number) or not 1 <= counter_number <= 999:
        return Response(status_code=404)
    r = await clients_of(request).fetch("notify", f"/boards/announcements/{number}/{counter_number}.wav")
    if r is None or r.status_code != 200:
        return Response(status_code=404)
    return Response(r.content, media_type="audio/wav", headers={"Cache-Control": "public, max-age=86400"})
