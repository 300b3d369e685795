"""The officer's inbox and the dossier page (timeline, documents, payments, shipment, actions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from services.kit.auth import Role
from services.portal.pages.common import (
    INBOX_ROLES,
    Viewer,
    clients_of,
    error_text,
    login_redirect,
    not_found,
    parse_moment,
    redirect,
    render,
    signed_in_as,
    token_of,
    translator,
    viewer_of,
)

router = APIRouter()

R = Role
OPEN_STATUSES = ("received", "transferred", "processing", "supplement_requested", "awaiting_payment", "suspended")
ALL_STATUSES = (
    "registered",
    "received",
    "transferred",
    "not_received",
    "processing",
    "supplement_requested",
    "awaiting_payment",
    "withdrawn",
    "suspended",
    "resolved",
    "refused",
    "result_ready",
    "returned",
)
TABS = ("all", "mine", "due_soon", "late", "supplement", "payment", "result")
PAGE = 50
DUE_SOON = timedelta(days=2)
UPLOADERS = frozenset({R.RECEPTION_OFFICER, R.SPECIALIST, R.POSTAL_AGENT})


@dataclass(frozen=True)
class ActionSpec:
    """One lifecycle action: intake's endpoint, who may do it, the fields its form shows."""

    path: str
    roles: frozenset[Role]
    fields: tuple[str, ...] = ("note",)
    required: tuple[str, ...] = ()


ROUTERS = frozenset({R.RECEPTION_OFFICER, R.SPECIALIST, R.UNIT_ADMIN})
PROCESSORS = frozenset({R.SPECIALIST, R.SIGNING_LEADER, R.UNIT_ADMIN})
ACTIONS: dict[str, ActionSpec] = {
    "transfer": ActionSpec("transfer", ROUTERS, ("unit_code", "note")),
    "forward": ActionSpec("forward", ROUTERS, ("unit_code", "reason"), ("unit_code", "reason")),
    "start_processing": ActionSpec("start-processing", PROCESSORS),
    "request_supplement": ActionSpec("supplement-request", PROCESSORS, ("missing", "note"), ("missing",)),
    "complete_supplement": ActionSpec("supplement-complete", frozenset({R.RECEPTION_OFFICER, R.SPECIALIST})),
    "complete_step": ActionSpec("steps/{index}/complete", PROCESSORS, ("index", "note"), ("index",)),
    "request_payment": ActionSpec("payment-request", frozenset({R.SPECIALIST, R.CASHIER, R.RECEPTION_OFFICER})),
    "payment_received": ActionSpec("payment-received", frozenset({R.CASHIER, R.RECEPTION_OFFICER})),
    "suspend": ActionSpec("suspend", PROCESSORS, ("reason",), ("reason",)),
    "resume": ActionSpec("resume", PROCESSORS),
    "resolve": ActionSpec("resolve", frozenset({R.SIGNING_LEADER, R.SPECIALIST})),
    "refuse": ActionSpec("refuse", frozenset({R.SIGNING_LEADER, R.SPECIALIST}), ("reason",), ("reason",)),
    "apologise": ActionSpec("apology", PROCESSORS, ("reason", "new_due_on"), ("reason", "new_due_on")),
    "result_ready": ActionSpec(
        "result-ready",
        frozenset({R.RECEPTION_OFFICER, R.SPECIALIST}),
        ("pickup_place", "pager_number", "result_file", "owner_id", "owner_phone", "note"),
    ),
    "return": ActionSpec("return", frozenset({R.RECEPTION_OFFICER, R.POSTAL_AGENT}), ("via", "note"), ("via",)),
    "withdraw": ActionSpec("withdraw", frozenset({R.RECEPTION_OFFICER}), ("reason",), ("reason",)),
}


def _staff(request: Request) -> Viewer | Response:
    return signed_in_as(request, INBOX_ROLES)


# ---- inbox ----------------------------------------------------------------------------------
@router.get("/ho-so", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def inbox(request: Request, tab: str = "all", page: int = 1, code: str = "") -> Response:
    viewer = _staff(request)
    if isinstance(viewer, Response):
        return viewer
    if code.strip():
        return RedirectResponse(f"/ho-so/{code.strip().upper()}", status_code=303)
    tab = tab if tab in TABS else "all"
    statuses = [s for s in request.query_params.getlist("status") if s in ALL_STATUSES]
    page = max(1, page)
    params: list[tuple[str, Any]] = [("limit", PAGE), ("skip", (page - 1) * PAGE)]
    if tab == "mine":
        params.append(("handled_here", "true"))
    elif tab == "late":
        params.append(("late", "true"))
    elif tab == "supplement":
        statuses = ["supplement_requested"]
    elif tab == "payment":
        statuses = ["awaiting_payment"]
    elif tab == "result":
        statuses = ["result_ready"]
    elif tab == "due_soon":
        statuses = statuses or list(OPEN_STATUSES)
        params = [("limit", 200), ("skip", 0), ("late", "false")]
    params += [("status", s) for s in statuses]
    reply = await clients_of(request).call("intake", "GET", "/dossiers", token_of(request), params=params)
    items = list(reply.body or []) if reply.ok else []
    now = datetime.now(UTC)
    for item in items:
        due = parse_moment(item.get("due_at"))
        item["due_soon"] = bool(
            due and not item.get("late") and item.get("status") in OPEN_STATUSES and now <= due <= now + DUE_SOON
        )
    if tab == "due_soon":
        items = sorted((i for i in items if i["due_soon"]), key=lambda i: str(i.get("due_at")))
    return render(
        request,
        "inbox.html",
        items=items,
        tab=tab,
        tabs=TABS,
        statuses=statuses,
        all_statuses=ALL_STATUSES,
        page=page,
        has_more=len(items) >= PAGE and tab != "due_soon",
        error=None if reply.ok else error_text(request, reply),
    )


# ---- the dossier page ----------------------------------------------------------------------
@router.get("/ho-so/{code}", response_class=HTMLResponse, include_in_schema=False, response_model=None)
@router.get("/dossiers/{code}", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def dossier_page(request: Request, code: str) -> Response:
    viewer = _staff(request)
    if isinstance(viewer, Response):
        return viewer
    clients = clients_of(request)
    token = token_of(request)
    t = translator(request)
    reply = await clients.call("intake", "GET", f"/dossiers/by-code/{code}", token)
    if not reply.ok:
        return render(
            request,
            "not_found.html",
            what=t("dossier.named", code=code),
            status_code=reply.status,
            detail=error_text(request, reply),
        )
    dossier = reply.body
    timeline = await clients.call("intake", "GET", f"/dossiers/{dossier['id']}/timeline", token)
    docs = await clients.call("scan", "GET", f"/dossiers/{code}/documents", token)
    intents = await clients.call("payments", "GET", "/intents", token, params={"dossier_id": dossier["id"]})
    shipments = await clients.call("postal", "GET", "/deliveries", token, params={"dossier_code": code})
    deliveries = await clients.call("notify", "GET", "/deliveries", token, params={"dossier_code": code})
    tl = timeline.body if timeline.ok else {}
    allowed = [a for a in (tl.get("allowed_actions") or []) if a in ACTIONS and viewer.has(ACTIONS[a].roles)]
    return render(
        request,
        "dossier.html",
        dossier=dossier,
        timeline=tl,
        actions=[(a, ACTIONS[a]) for a in allowed],
        documents=list(docs.body or []) if docs.ok else None,
        component_names={c["component_id"]: c["name"] for c in dossier.get("components") or []},
        intents=list(intents.body or []) if intents.ok else None,
        shipments=list(shipments.body or []) if shipments.ok else None,
        deliveries=list(deliveries.body or []) if deliveries.ok else [],
        can_upload_result=viewer.has(UPLOADERS),
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _action_body(action: str, form: FormData) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in ACTIONS[action].fields:
        if name in ("index", "result_file", "owner_id", "owner_phone"):
            continue
        value = _text(form, name)
        if name == "missing":
            items = []
            for line in value.splitlines():
                what, _, reason = line.partition(":")
                if what.strip():
                    items.append({"name": what.strip()[:300], "reason": (reason.strip() or "Chưa đạt")[:500]})
            body["missing"] = items
        elif value:
            body[name] = value
    return body


@router.post("/ho-so/{dossier_id}/thao-tac/{action}", include_in_schema=False, response_model=None)
async def do_action(request: Request, dossier_id: str, action: str) -> Response:
    viewer = _staff(request)
    if isinstance(viewer, Response):
        return viewer
    spec = ACTIONS.get(action)
    if spec is None:
        return not_found(request, action)
    form = await request.form()
    code = _text(form, "code")
    back = f"/ho-so/{code}" if code else "/ho-so"
    missing = [f for f in spec.required if not _text(form, f)]
    if missing:
        return redirect(back, "action_missing_fields")
    path = spec.path.replace("{index}", _text(form, "index"))
    clients = clients_of(request)
    reply = await clients.call(
        "intake", "POST", f"/dossiers/{dossier_id}/{path}", token_of(request), json=_action_body(action, form)
    )
    if not reply.ok:
        return redirect(back, "error", text=error_text(request, reply))
    warn = None
    upload = form.get("result_file")
    if action == "result_ready" and isinstance(upload, UploadFile) and upload.filename and code:
        warn = await _upload_result(
            request, reply.body or {}, upload, _text(form, "owner_id"), _text(form, "owner_phone")
        )
    return redirect(back, f"action_{action}", warn=warn)


async def _upload_result(
    request: Request, dossier: dict[str, Any], upload: UploadFile, owner_id: str, owner_phone: str
) -> str | None:
    content = await upload.read()
    if not content or not owner_id:
        return "upload"
    reply = await clients_of(request).call(
        "scan",
        "POST",
        f"/dossiers/{dossier['code']}/result/documents",
        token_of(request),
        files=[("files", (upload.filename or "ket-qua.pdf", content, upload.content_type or "application/pdf"))],
        data={
            "unit_path": ",".join(dossier.get("unit_path") or []),
            "owner_id": owner_id,
            "owner_phone": owner_phone,
            "procedure_code": dossier.get("procedure_code") or "",
        },
        timeout_s=60.0,
    )
    return None if reply.ok else "upload"


# ---- slips and documents (proxied: the browser never talks to the services or S3) ---------
@router.get("/ho-so/{dossier_id}/phieu/{form}.pdf", include_in_schema=False, response_model=None)
async def slip(request: Request, dossier_id: str, form: str) -> Response:
    if viewer_of(request) is None:
        return login_redirect(request)
    if form not in ("01", "02", "03", "04", "05"):
        return not_found(request, form)
    r = await clients_of(request).fetch("intake", f"/dossiers/{dossier_id}/slips/{form}.pdf", token_of(request))
    if r is None or r.status_code != 200:
        status = r.status_code if r is not None else 503
        return not_found(request, translator(request)("dossier.slip", form=form), status)
    return Response(
        r.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="mau-{form}-{dossier_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/tai-lieu/{document_id}", include_in_schema=False, response_model=None)
async def download(request: Request, document_id: str) -> Response:
    """A short-lived signed URL, issued (and audited) by scan for this officer; the browser follows it."""
    if viewer_of(request) is None:
        return login_redirect(request)
    reply = await clients_of(request).call(
        "scan", "POST", f"/documents/{document_id}/download-url", token_of(request), params={"variant": "document"}
    )
    if not reply.ok:
        return not_found(request, translator(request)("documents.document"), reply.status)
    return RedirectResponse(reply.body["url"], status_code=303)


@router.get("/tai-lieu/{document_id}/anh-nho", include_in_schema=False, response_model=None)
async def thumbnail(request: Request, document_id: str) -> Response:
    if viewer_of(request) is None:
        return Response(status_code=401)
    clients = clients_of(request)
    reply = await clients.call(
        "scan", "POST", f"/documents/{document_id}/download-url", token_of(request), params={"variant": "thumbnail"}
    )
    if not reply.ok:
        return Response(status_code=reply.status)
    r = await clients.fetch_url(reply.body["url"])
    if r is None or r.status_code != 200:
        return Response(status_code=502)
    return Response(r.content, media_type="image/png", headers={"Cache-Control": "private, max-age=240"})
