"""The counter desk (quầy tiếp nhận), keyboard first.

Call the next ticket; receive a dossier — pick the procedure, see the checklist and the due
date before accepting, type the applicant's data (No-writing day: the officer types, the
applicant signs), upload or reuse scanned components, decide receive / supplement / refuse;
print the slip; take the fees in cash or show the VietQR / POS / online option; hand a pager
for a No-appointment dossier.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from services.portal.pages.common import (
    DESK_ROLES,
    Viewer,
    client_ip,
    clients_of,
    error_text,
    login_redirect,
    not_found,
    offices_in_scope,
    redirect,
    render,
    signed_in_as,
    token_of,
    translator,
    viewer_of,
)

router = APIRouter()

TICKET_ACTIONS = {"recall": "recall", "serve": "serve", "skip": "skip", "finish": "finish"}
PAY_CHANNELS = ("vietqr", "pos", "vnpay")
APPLICANT_FIELDS = ("full_name", "id_number", "birth_date", "phone", "email", "address")


def _desk_viewer(request: Request) -> Viewer | Response:
    return signed_in_as(request, DESK_ROLES)


# ---- choosing a counter ----------------------------------------------------------------------
@router.get("/quay", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def choose_counter(request: Request) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    offices = await offices_in_scope(request, viewer)
    return render(request, "desk_choose.html", offices=offices)


async def _counter(request: Request, counter_id: str) -> tuple[dict[str, Any] | None, str | None]:
    reply = await clients_of(request).call("intake", "GET", f"/queue/counters/{counter_id}", token_of(request))
    if not reply.ok:
        return None, error_text(request, reply)
    return reply.body, None


@router.get("/quay/{counter_id}", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def desk(request: Request, counter_id: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    view, error = await _counter(request, counter_id)
    if view is None:
        return render(request, "message.html", status_code=404, title=translator(request)("desk.title"), text=error)
    office_id = view["counter"]["office_id"]
    clients = clients_of(request)
    pagers = await clients.call("intake", "GET", f"/queue/offices/{office_id}/pagers", token_of(request))
    return render(
        request,
        "desk.html",
        counter=view["counter"],
        current=view.get("current"),
        waiting=view.get("waiting") or [],
        max_calls=view.get("max_calls"),
        pagers=[p for p in (pagers.body or []) if p.get("status") != "released"] if pagers.ok else [],
        office_id=office_id,
    )


@router.post("/quay/{counter_id}/goi-so", include_in_schema=False)
async def call_next(request: Request, counter_id: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    reply = await clients_of(request).call(
        "intake", "POST", f"/queue/counters/{counter_id}/call-next", token_of(request)
    )
    if not reply.ok:
        return redirect(f"/quay/{counter_id}", "error", text=error_text(request, reply))
    ticket = (reply.body or {}).get("ticket")
    if not ticket:
        return redirect(f"/quay/{counter_id}", "nobody_waiting")
    return redirect(f"/quay/{counter_id}", "called", number=ticket["number"])


@router.post("/quay/{counter_id}/ve/{ticket_id}/{action}", include_in_schema=False)
async def ticket_step(request: Request, counter_id: str, ticket_id: str, action: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    if action not in TICKET_ACTIONS:
        return not_found(request, action)
    form = await request.form()
    body = {"no_show": True} if action == "skip" and form.get("no_show") == "1" else None
    reply = await clients_of(request).call(
        "intake", "POST", f"/queue/tickets/{ticket_id}/{TICKET_ACTIONS[action]}", token_of(request), json=body
    )
    back = str(form.get("back") or f"/quay/{counter_id}")
    if not back.startswith("/"):
        back = f"/quay/{counter_id}"
    if not reply.ok:
        return redirect(back, "error", text=error_text(request, reply))
    done = "no_show" if body else action
    return redirect(back, f"ticket_{done}", number=(reply.body or {}).get("number", ""))


# ---- pagers ---------------------------------------------------------------------------------
@router.post("/quay/{counter_id}/the-rung/{pager_number}/{action}", include_in_schema=False)
async def pager_step(request: Request, counter_id: str, pager_number: str, action: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    form = await request.form()
    office_id = str(form.get("office_id") or "")
    if action not in ("call", "release") or not office_id:
        return not_found(request, action)
    body: dict[str, Any] | None = None
    if action == "call" and str(form.get("counter_number") or "").isdigit():
        body = {"counter_number": int(str(form.get("counter_number")))}
    reply = await clients_of(request).call(
        "intake", "POST", f"/queue/offices/{office_id}/pagers/{pager_number}/{action}", token_of(request), json=body
    )
    if not reply.ok:
        return redirect(f"/quay/{counter_id}", "error", text=error_text(request, reply))
    return redirect(f"/quay/{counter_id}", f"pager_{action}", pager=pager_number)


# ---- receiving a dossier -------------------------------------------------------------------
async def _reception_context(
    request: Request, counter_id: str, procedure_code: str | None, ticket_id: str | None
) -> dict[str, Any] | Response:
    t = translator(request)
    view, error = await _counter(request, counter_id)
    if view is None:
        return render(request, "message.html", status_code=404, title=t("desk.title"), text=error)
    counter = view["counter"]
    clients = clients_of(request)
    procedures = await clients.call("intake", "GET", "/procedures", params={"office_id": counter["office_id"]})
    items = list(procedures.body or []) if procedures.ok else []
    served = set(counter.get("fields") or [])
    items.sort(key=lambda p: (p["field_code"] not in served, p["field_code"], p["name"]))
    context: dict[str, Any] = {
        "counter": counter,
        "current": view.get("current"),
        "procedures": items,
        "procedure": None,
        "summary": None,
        "due": None,
        "due_error": None,
        "ticket_id": ticket_id or ((view.get("current") or {}).get("id")),
    }
    if procedure_code:
        detail = await clients.call("intake", "GET", f"/procedures/{procedure_code}")
        if detail.ok:
            context["procedure"] = detail.body
            context["summary"] = next((p for p in items if p["code"] == procedure_code), None)
            due = await clients.call(
                "intake",
                "GET",
                "/calendar/due",
                token_of(request),
                params={"office_id": counter["office_id"], "procedure_code": procedure_code},
            )
            if due.ok:
                context["due"] = due.body
            else:
                context["due_error"] = error_text(request, due)
    return context


@router.get("/quay/{counter_id}/tiep-nhan", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def reception_form(
    request: Request, counter_id: str, procedure: str | None = None, ticket: str | None = None
) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    context = await _reception_context(request, counter_id, procedure, ticket)
    if isinstance(context, Response):
        return context
    values: dict[str, Any] = {"decision": "receive", "return_channel": "counter", "confirmation": "signature"}
    if context["due"] and context["due"].get("no_writing_day"):
        values["no_writing"] = "on"
    if context["procedure"]:
        for c in context["procedure"]["components"]:
            if c.get("mandatory"):
                values[f"comp.{c['id']}.provided"] = "on"
    return render(request, "desk_reception.html", values=values, reusable=[], error=None, **context)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _form_values(form: FormData) -> dict[str, Any]:
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}


def _reception_body(form: FormData, procedure: dict[str, Any], office_id: str) -> dict[str, Any]:
    applicant: dict[str, Any] = {"kind": _text(form, "applicant.kind") or "individual"}
    for name in APPLICANT_FIELDS:
        value = _text(form, f"applicant.{name}")
        if value:
            applicant[name] = value
    applicant.setdefault("full_name", "")
    if applicant["kind"] == "organisation":
        applicant["organisation"] = {
            "name": _text(form, "org.name"),
            "tax_code": _text(form, "org.tax_code"),
            "representative": _text(form, "org.representative") or applicant["full_name"],
        }
    components = []
    for c in procedure["components"]:
        cid = c["id"]
        count = _text(form, f"comp.{cid}.count")
        components.append(
            {
                "component_id": cid,
                "provided": form.get(f"comp.{cid}.provided") == "on",
                "count": int(count) if count.isdigit() and 1 <= int(count) <= 100 else 1,
                "problem": _text(form, f"comp.{cid}.problem") or None,
                "document_id": _text(form, f"comp.{cid}.reuse") or None,
            }
        )
    form_data: dict[str, Any] = {}
    for f in procedure.get("form_fields") or []:
        key = f"form.{f['name']}"
        if f["type"] == "checkbox":
            form_data[f["name"]] = form.get(key) == "on"
            continue
        value = _text(form, key)
        if not value:
            continue
        form_data[f["name"]] = int(value) if f["type"] == "number" and value.isdigit() else value
    extra = []
    for line in _text(form, "extra_missing").splitlines():
        name, _, reason = line.partition(":")
        if name.strip():
            extra.append({"name": name.strip()[:300], "reason": (reason.strip() or "Chưa có")[:500]})
    decision = _text(form, "decision") or "receive"
    body: dict[str, Any] = {
        "office_id": office_id,
        "procedure_code": procedure["code"],
        "applicant": applicant,
        "components": components,
        "form_data": form_data,
        "decision": decision,
        "extra_missing": extra,
        "return_channel": "postal" if _text(form, "return_channel") == "postal" else "counter",
        "print_slip": form.get("print_slip") == "on",
    }
    if decision == "refuse":
        body["refusal_reason"] = _text(form, "refusal_reason")
    if form.get("no_writing") == "on":
        confirmation = "fingerprint" if _text(form, "confirmation") == "fingerprint" else "signature"
        body["no_writing"] = {"filled_by_officer": True, "applicant_confirmation": confirmation}
    return body


@router.post("/quay/{counter_id}/tiep-nhan", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def receive(request: Request, counter_id: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    form = await request.form()
    procedure_code = _text(form, "procedure")
    ticket_id = _text(form, "ticket_id") or None
    context = await _reception_context(request, counter_id, procedure_code, ticket_id)
    if isinstance(context, Response):
        return context
    procedure = context["procedure"]
    values = _form_values(form)
    if procedure is None:
        return render(
            request,
            "desk_reception.html",
            values=values,
            reusable=[],
            error=translator(request)("desk.pick_procedure_first"),
            **context,
        )
    clients = clients_of(request)
    token = token_of(request)
    owner_id = _text(form, "applicant.id_number") or _text(form, "org.tax_code")
    if _text(form, "op") == "search_reuse":
        reusable: list[dict[str, Any]] = []
        error = None
        if owner_id:
            found = await clients.call("scan", "POST", "/reusable-documents/search", token, json={"owner_id": owner_id})
            if found.ok:
                reusable = list(found.body or [])
            else:
                error = error_text(request, found)
        else:
            error = translator(request)("desk.reuse_needs_id")
        return render(
            request, "desk_reception.html", values=values, reusable=reusable, error=error, searched=True, **context
        )
    body = _reception_body(form, procedure, context["counter"]["office_id"])
    reply = await clients.call("intake", "POST", "/dossiers", token, json=body, client_ip=client_ip(request))
    if not reply.ok:
        return render(
            request,
            "desk_reception.html",
            status_code=422,
            values=values,
            reusable=[],
            error=error_text(request, reply),
            **context,
        )
    dossier = reply.body
    warnings = await _after_reception(request, form, procedure, dossier, owner_id, ticket_id)
    message = {"receive": "received", "supplement": "supplement_issued", "refuse": "refused"}.get(
        body["decision"], "received"
    )
    return redirect(
        f"/quay/{counter_id}/ho-so/{dossier['id']}",
        message,
        code=dossier.get("code") or dossier.get("reference"),
        ticket=ticket_id,
        warn=",".join(warnings),
    )


async def _after_reception(
    request: Request,
    form: FormData,
    procedure: dict[str, Any],
    dossier: dict[str, Any],
    owner_id: str,
    ticket_id: str | None,
) -> list[str]:
    """Scans (uploaded or reused), the ticket link, the pager. Failures become warnings."""
    clients = clients_of(request)
    token = token_of(request)
    warnings: list[str] = []
    code = dossier.get("code")
    unit_path = ",".join(dossier.get("unit_path") or [])
    if code:
        for c in procedure["components"]:
            cid = c["id"]
            upload = form.get(f"file.{cid}")
            if isinstance(upload, UploadFile) and upload.filename:
                content = await upload.read()
                if content:
                    reply = await clients.call(
                        "scan",
                        "POST",
                        f"/dossiers/{code}/components/{cid}/documents",
                        token,
                        files=[
                            ("files", (upload.filename, content, upload.content_type or "application/octet-stream"))
                        ],
                        data={
                            "unit_path": unit_path,
                            "owner_id": owner_id,
                            "owner_phone": _text(form, "applicant.phone"),
                            "procedure_code": procedure["code"],
                        },
                        timeout_s=60.0,
                    )
                    if not reply.ok:
                        warnings.append("upload")
            source = _text(form, f"comp.{cid}.reuse")
            if source and owner_id:
                reply = await clients.call(
                    "scan",
                    "POST",
                    f"/dossiers/{code}/components/{cid}/reuse",
                    token,
                    json={
                        "source_document_id": source,
                        "owner_id": owner_id,
                        "unit_path": dossier.get("unit_path") or [],
                        "procedure_code": procedure["code"],
                    },
                )
                if not reply.ok:
                    warnings.append("reuse")
    if ticket_id:
        reply = await clients.call(
            "intake",
            "POST",
            f"/queue/tickets/{ticket_id}/dossiers",
            token,
            json={"dossier_id": dossier["id"], "dossier_code": code},
        )
        if not reply.ok:
            warnings.append("ticket")
    pager = _text(form, "pager_number")
    if pager and code:
        reply = await clients.call(
            "intake",
            "POST",
            f"/queue/offices/{dossier['office_id']}/pagers",
            token,
            json={"pager_number": pager, "dossier_id": dossier["id"], "dossier_code": code, "ticket_id": ticket_id},
        )
        if not reply.ok:
            warnings.append("pager")
    return sorted(set(warnings))


# ---- after reception: slip, payment, pager -------------------------------------------------
@router.get(
    "/quay/{counter_id}/ho-so/{dossier_id}", response_class=HTMLResponse, include_in_schema=False, response_model=None
)
async def reception_result(request: Request, counter_id: str, dossier_id: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    clients = clients_of(request)
    token = token_of(request)
    reply = await clients.call("intake", "GET", f"/dossiers/{dossier_id}", token)
    if not reply.ok:
        return render(
            request,
            "message.html",
            status_code=reply.status,
            title=translator(request)("desk.title"),
            text=error_text(request, reply),
        )
    dossier = reply.body
    intents = await clients.call("payments", "GET", "/intents", token, params={"dossier_id": dossier_id})
    documents: list[dict[str, Any]] = []
    if dossier.get("code"):
        docs = await clients.call("scan", "GET", f"/dossiers/{dossier['code']}/documents", token)
        documents = list(docs.body or []) if docs.ok else []
    pagers = await clients.call("intake", "GET", f"/queue/offices/{dossier['office_id']}/pagers", token)
    pager = (
        next(
            (p for p in (pagers.body or []) if p.get("dossier_id") == dossier_id and p.get("status") != "released"),
            None,
        )
        if pagers.ok
        else None
    )
    q = request.query_params
    fees = sum(int(f.get("amount") or 0) for f in dossier.get("fees_due") or [])
    return render(
        request,
        "desk_result.html",
        counter_id=counter_id,
        dossier=dossier,
        intents=list(intents.body or []) if intents.ok else [],
        payments_error=None if intents.ok else error_text(request, intents),
        documents=documents,
        component_names={c["component_id"]: c["name"] for c in dossier.get("components") or []},
        pager=pager,
        fees=fees,
        ticket_id=q.get("ticket"),
        checkout={k: q.get(k) for k in ("checkout", "intent", "sale", "url")},
        warnings=[w for w in (q.get("warn") or "").split(",") if w],
    )


@router.post("/quay/{counter_id}/ho-so/{dossier_id}/the-rung", include_in_schema=False)
async def bind_pager(request: Request, counter_id: str, dossier_id: str) -> Response:
    viewer = _desk_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    form = await request.form()
    back = f"/quay/{counter_id}/ho-so/{dossier_id}"
    reply = await clients_of(request).call(
        "intake",
        "POST",
        f"/queue/offices/{_text(form, 'office_id')}/pagers",
        token_of(request),
        json={
            "pager_number": _text(form, "pager_number"),
            "dossier_id": dossier_id,
            "dossier_code": _text(form, "dossier_code") or None,
            "ticket_id": _text(form, "ticket_id") or None,
        },
    )
    if not reply.ok:
        return redirect(back, "error", text=error_text(request, reply), ticket=_text(form, "ticket_id"))
    return redirect(back, "pager_bound", pager=_text(form, "pager_number"), ticket=_text(form, "ticket_id"))


# ---- payments at the counter -------------------------------------------------------------
def _back(form: FormData, default: str = "/ho-so") -> str:
    back = _text(form, "back")
    return back if back.startswith("/") and not back.startswith("//") else default


@router.post("/thanh-toan/{intent_id}/tien-mat", include_in_schema=False, response_model=None)
async def pay_cash(request: Request, intent_id: str) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return login_redirect(request)
    form = await request.form()
    amount = _text(form, "amount")
    reply = await clients_of(request).call(
        "payments",
        "POST",
        f"/intents/{intent_id}/cash",
        token_of(request),
        json={"amount": int(amount) if amount.isdigit() else 0},
    )
    back = _back(form)
    if not reply.ok:
        return redirect(back, "error", text=error_text(request, reply))
    return redirect(back, "paid_cash")


@router.post("/thanh-toan/{intent_id}/kenh", include_in_schema=False, response_model=None)
async def checkout(request: Request, intent_id: str) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return login_redirect(request)
    form = await request.form()
    channel = _text(form, "channel")
    back = _back(form)
    if channel not in PAY_CHANNELS:
        return redirect(back, "error", text=translator(request)("errors.generic", status=400))
    reply = await clients_of(request).call(
        "payments",
        "POST",
        f"/intents/{intent_id}/checkout",
        token_of(request),
        json={"channel": channel},
        client_ip=client_ip(request),
    )
    if not reply.ok:
        return redirect(back, "error", text=error_text(request, reply))
    body = reply.body or {}
    return redirect(
        back,
        f"checkout_{channel}",
        checkout=channel,
        intent=intent_id,
        sale=body.get("sale_id"),
        url=body.get("payment_url") if channel == "vnpay" else None,
    )


@router.get("/thanh-toan/{intent_id}/vietqr.png", include_in_schema=False, response_model=None)
async def vietqr_png(request: Request, intent_id: str) -> Response:
    if viewer_of(request) is None:
        return Response(status_code=401)
    r = await clients_of(request).fetch("payments", f"/intents/{intent_id}/vietqr.png", token_of(request))
    if r is None or r.status_code != 200:
        return Response(status_code=r.status_code if r is not None else 503)
    return Response(r.content, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/thanh-toan/{intent_id}/bien-lai.pdf", include_in_schema=False, response_model=None)
async def receipt_pdf(request: Request, intent_id: str) -> Response:
    if viewer_of(request) is None:
        return login_redirect(request)
    r = await clients_of(request).fetch("payments", f"/intents/{intent_id}/receipt.pdf", token_of(request))
    if r is None or r.status_code != 200:
        return not_found(request, translator(request)("payments.receipt"), r.status_code if r is not None else 503)
    return Response(
        r.content,
        media_type="application/pdf",
        headers={"Content-Disposition": r.headers.get("content-disposition", "inline"), "Cache-Control": "no-store"},
    )
