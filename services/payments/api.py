"""Payments HTTP API, thin: validate, call the service, shape the response.

Officers authenticate with bearer tokens and each endpoint declares its roles; providers'
callbacks (VNPay IPN, the bank's transfer notification, the POS terminal's result) are
authenticated by their signatures instead.
"""

from __future__ import annotations

import io
from datetime import date
from html import escape
from typing import Annotated, Any

import openpyxl
import segno
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role, require_roles
from services.kit.callbacks import BrowserReturn, ServerCallback
from services.kit.errors import Invalid
from services.payments.adapters.base import CallbackInput
from services.payments.model.intent import Channel, Item, Payer, PaymentIntent, PaymentStatus
from services.payments.model.receipt import format_vnd
from services.payments.service import PaymentsService

COLLECT = (Role.CASHIER, Role.RECEPTION_OFFICER)
READ = (Role.CASHIER, Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR)
REFUND = (Role.CASHIER, Role.UNIT_ADMIN)
REPORT_RUN = (Role.CASHIER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
REPORT_READ = (Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR, Role.CASHIER)
ADMIN = (Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)

Collector = Annotated[Principal, Depends(require_roles(*COLLECT))]
Reader = Annotated[Principal, Depends(require_roles(*READ))]
Refunder = Annotated[Principal, Depends(require_roles(*REFUND))]
ReportRunner = Annotated[Principal, Depends(require_roles(*REPORT_RUN))]
ReportReader = Annotated[Principal, Depends(require_roles(*REPORT_READ))]
Admin = Annotated[Principal, Depends(require_roles(*ADMIN))]
SecurityReader = Annotated[Principal, Depends(require_roles(Role.PROVINCE_ADMIN, Role.INSPECTOR))]

router = APIRouter(tags=["payments"])
# Server-to-server callbacks: source allow-list and per-source rate limit (kit.callbacks), then
# each channel's signature and replay checks.
callbacks = APIRouter(prefix="/callbacks", tags=["provider callbacks"], dependencies=[ServerCallback])
# The return URL is not a callback: the gateway redirects the citizen's browser there, from any
# address, so no source allow-list applies; it is rate-limited per address and changes nothing.
returns = APIRouter(prefix="/callbacks", tags=["provider callbacks"], dependencies=[BrowserReturn])
reports = APIRouter(tags=["reconciliation and alerts"])


async def _service(request: Request) -> PaymentsService:
    service: PaymentsService = request.app.state.payments
    return service


Service = Annotated[PaymentsService, Depends(_service)]


def _view(service: PaymentsService, intent: PaymentIntent) -> dict[str, Any]:
    data = intent.model_dump(mode="json")
    data["receipt_url"] = service.receipt_url(intent)
    return data


def _client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "127.0.0.1"


# ---- intents --------------------------------------------------------------------------------
class CreateIntent(BaseModel):
    dossier_id: str = Field(min_length=1, max_length=64)
    dossier_code: str = Field(min_length=1, max_length=64)
    payer: Payer
    items: list[Item] = Field(min_length=1, max_length=50)
    unit_path: list[str] | None = Field(
        None, description="The dossier's unit and those above it; default the caller's unit")
    procedure_name: str | None = Field(None, max_length=500)
    no_appointment: bool = False


@router.post("/intents", status_code=201, operation_id="create_intent")
async def create_intent(body: CreateIntent, principal: Collector, service: Service) -> dict[str, Any]:
    intent = await service.create_intent(
        principal, dossier_id=body.dossier_id, dossier_code=body.dossier_code, payer=body.payer, items=body.items,
        unit_path=body.unit_path, procedure_name=body.procedure_name, no_appointment=body.no_appointment,
    )
    return _view(service, intent)


@router.get("/intents", operation_id="list_intents")
async def list_intents(
    principal: Reader, service: Service,
    dossier_id: Annotated[str | None, Query(max_length=64)] = None,
    dossier_code: Annotated[str | None, Query(max_length=64)] = None,
    status: PaymentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # beyond int64 the database refuses (was a 503)
) -> list[dict[str, Any]]:
    intents = await service.list_intents(principal, dossier_id=dossier_id, dossier_code=dossier_code,
                                 status=status.value if status else None, limit=limit, skip=skip)
    return [_view(service, i) for i in intents]


@router.get("/intents/{intent_id}", operation_id="get_intent")
async def get_intent(intent_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return _view(service, await service.get(principal, intent_id))


class CheckoutRequest(BaseModel):
    channel: Channel
    terminal_id: str | None = Field(None, max_length=64, description="POS terminal at the counter")


@router.post("/intents/{intent_id}/checkout", operation_id="start_checkout")
async def start_checkout(intent_id: str, body: CheckoutRequest, request: Request, principal: Collector,
                         service: Service) -> dict[str, Any]:
    intent, checkout = await service.checkout(principal, intent_id, body.channel, client_ip=_client_ip(request),
                                              terminal_id=body.terminal_id)
    out: dict[str, Any] = {
        "intent_id": intent.id, "ref": intent.ref, "amount": intent.amount, "channel": checkout.channel.value,
        "payment_url": checkout.payment_url, "qr_string": checkout.qr_string, "terminal_id": checkout.terminal_id,
        "sale_id": checkout.sale_id, "instructions": checkout.instructions, **checkout.data,
    }
    if checkout.qr_string:
        out["qr_png_url"] = f"/intents/{intent.id}/vietqr.png"
    return out


@router.get("/intents/{intent_id}/vietqr.png", operation_id="vietqr_png",
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def vietqr_png(intent_id: str, principal: Collector, service: Service,
                     scale: Annotated[int, Query(ge=2, le=20)] = 6) -> Response:
    qr_string = await service.vietqr_string(principal, intent_id)
    buffer = io.BytesIO()
    segno.make(qr_string, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return Response(buffer.getvalue(), media_type="image/png")


class CashPayment(BaseModel):
    amount: int = Field(gt=0, le=1_000_000_000_000, description="VND received for the fees (exactly the amount due)")


@router.post("/intents/{intent_id}/cash", operation_id="pay_cash")
async def pay_cash(intent_id: str, body: CashPayment, principal: Collector, service: Service) -> dict[str, Any]:
    return _view(service, await service.pay_cash(principal, intent_id, amount=body.amount))


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/intents/{intent_id}/cancel", operation_id="cancel_intent")
async def cancel_intent(intent_id: str, body: CancelRequest, principal: Collector,
                        service: Service) -> dict[str, Any]:
    return _view(service, await service.cancel(principal, intent_id, reason=body.reason))


@router.post("/intents/{intent_id}/reopen", status_code=201, operation_id="reopen_intent")
async def reopen_intent(intent_id: str, principal: Collector, service: Service) -> dict[str, Any]:
    return _view(service, await service.reopen(principal, intent_id))


class RefundRequest(BaseModel):
    amount: int = Field(gt=0, le=1_000_000_000_000, description="VND")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/intents/{intent_id}/refunds", operation_id="refund_intent")
async def refund_intent(intent_id: str, body: RefundRequest, principal: Refunder,
                        service: Service) -> dict[str, Any]:
    return _view(service, await service.refund(principal, intent_id, amount=body.amount, reason=body.reason))


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/intents/{intent_id}/receipt.pdf", operation_id="receipt_pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def receipt_pdf(intent_id: str, principal: Reader, service: Service) -> Response:
    intent = await service.get(principal, intent_id)
    pdf = service.receipt_pdf(intent)
    assert intent.receipt is not None
    return _pdf(pdf, f"bien-lai-{intent.receipt.code}")


@router.get("/receipts/{intent_id}.pdf", operation_id="receipt_by_link", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def receipt_by_link(intent_id: str, service: Service, expires: str | None = None,
                          sig: str | None = None) -> Response:
    """The payer's copy through the signed link sent with `payment.paid` (no login)."""
    intent = await service.receipt_by_link(intent_id, expires, sig)
    pdf = service.receipt_pdf(intent)
    assert intent.receipt is not None
    return _pdf(pdf, f"bien-lai-{intent.receipt.code}")


# ---- provider callbacks (authenticated by signature) ------------------------------------------
async def _callback_input(request: Request) -> CallbackInput:
    return CallbackInput(
        query={k: v for k, v in request.query_params.items()}, body=await request.body(),
        headers={k.lower(): v for k, v in request.headers.items()},
        remote_addr=_callback_source(request),
    )


def _callback_source(request: Request) -> str | None:
    """The caller the guard resolved (behind a trusted proxy: the forwarded address)."""
    source: str | None = getattr(request.state, "callback_source", None)
    return source or (request.client.host if request.client else None)


@callbacks.get("/vnpay/ipn", operation_id="vnpay_ipn")
async def vnpay_ipn(request: Request, service: Service) -> JSONResponse:
    """VNPay's Instant Payment Notification: the only thing that changes a gateway payment."""
    reply = await service.handle_callback(Channel.VNPAY, await _callback_input(request))
    return JSONResponse(reply.body, status_code=reply.status_code)


@returns.get("/vnpay/return", operation_id="vnpay_return", response_class=HTMLResponse)
async def vnpay_return(request: Request, service: Service) -> HTMLResponse:
    """Where the payer's browser lands after the gateway: shows our state, changes nothing."""
    authentic, intent = await service.return_page(dict(request.query_params))
    if not authentic:
        title, text = "Liên kết không hợp lệ", "Chữ ký của cổng thanh toán không đúng."
    elif intent is None:
        title, text = "Không tìm thấy giao dịch", "Không có yêu cầu thanh toán nào khớp mã giao dịch."
    elif intent.status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        title = "Thanh toán thành công"
        text = f"Hồ sơ {intent.dossier_code}: đã thanh toán {format_vnd(intent.amount)}."
    elif intent.status is PaymentStatus.PENDING:
        title = "Đang chờ xác nhận"
        text = f"Hồ sơ {intent.dossier_code}: đang chờ cổng thanh toán xác nhận. Vui lòng tải lại sau ít phút."
    else:
        title, text = "Thanh toán chưa thành công", f"Hồ sơ {intent.dossier_code}: {intent.status.value}."
    status = intent.status.value if intent else "unknown"
    html = (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<body data-status="{escape(status)}"><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>')
    return HTMLResponse(html)


@callbacks.post("/bank/vietqr", operation_id="bank_transfer_notification")
async def bank_notification(request: Request, service: Service) -> JSONResponse:
    """The bank's signed notification of an incoming transfer (VietQR)."""
    reply = await service.handle_callback(Channel.VIETQR, await _callback_input(request))
    return JSONResponse(reply.body, status_code=reply.status_code)


@callbacks.post("/pos", operation_id="pos_result")
async def pos_result(request: Request, service: Service) -> JSONResponse:
    """A POS terminal's signed sale result. Card data in it is dropped, never stored or logged."""
    reply = await service.handle_callback(Channel.POS, await _callback_input(request))
    return JSONResponse(reply.body, status_code=reply.status_code)


# ---- reconciliation, alerts ----------------------------------------------------------------
MAX_STATEMENT_BYTES = 20 * 1024 * 1024
@reports.post("/reconciliations", status_code=201, operation_id="run_reconciliation")
async def run_reconciliation(
    principal: ReportRunner, service: Service, channel: Channel, day: date,
    statement: Annotated[UploadFile | None, File(description="Provider settlement CSV; fetched when absent")] = None,
) -> dict[str, Any]:
    text = None
    if statement is not None:
        data = await statement.read(MAX_STATEMENT_BYTES + 1)
        if len(data) > MAX_STATEMENT_BYTES:
            raise Invalid("The settlement file is larger than 20 MB", code="statement_too_large")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # was an unhandled error (503)
            raise Invalid("The settlement file is not UTF-8 text (CSV)", code="bad_statement") from exc
    report = await service.reconcile(principal, channel, day, text)
    return _report_view(report)


def _report_view(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    out["id"] = out.pop("_id")
    out["created_at"] = out["created_at"].isoformat()
    return out


@reports.get("/reconciliations", operation_id="list_reconciliations")
async def list_reconciliations(principal: ReportReader, service: Service, channel: Channel | None = None,
                               day: date | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"unit_code": principal.unit_code}
    if channel:
        query["channel"] = channel.value
    if day:
        query["day"] = day.isoformat()
    return [_report_view(d) for d in await service.repo.list_reconciliations(query)]


@reports.get("/reconciliations/{report_id}", operation_id="get_reconciliation")
async def get_reconciliation(report_id: str, principal: ReportReader, service: Service) -> dict[str, Any]:
    return _report_view(await service.get_reconciliation(principal, report_id))


@reports.get("/reconciliations/{report_id}/xlsx", operation_id="reconciliation_xlsx", response_class=Response)
async def reconciliation_xlsx(report_id: str, principal: ReportReader, service: Service) -> Response:
    doc = await service.get_reconciliation(principal, report_id)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Đối soát"
    sheet.append(["Kênh", doc["channel"], "Ngày", doc["day"], "Đơn vị", doc["unit_code"]])
    sheet.append(["Số GD (hệ thống)", doc["our_count"], "Tổng (hệ thống)", doc["our_total"]])
    sheet.append(["Số GD (đối tác)", doc["their_count"], "Tổng (đối tác)", doc["their_total"]])
    sheet.append([])
    sheet.append(["Loại chênh lệch", "Mã thanh toán", "Số tiền hệ thống", "Số tiền đối tác", "Mã GD đối tác",
                  "Mã hồ sơ", "Ghi chú"])
    for m in doc["mismatches"]:
        sheet.append([m["kind"], m["ref"], m["our_amount"], m["their_amount"], m["provider_txn"], m["dossier_code"],
                      m["note"]])
    buffer = io.BytesIO()
    book.save(buffer)
    name = f"doi-soat-{doc['channel']}-{doc['day']}.xlsx"
    return Response(buffer.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@reports.get("/alerts", operation_id="list_alerts")
async def list_alerts(principal: ReportReader, service: Service,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return [_jsonable(a) for a in await service.alerts(principal, limit)]


@reports.get("/security-events", operation_id="list_security_events")
async def list_security_events(principal: SecurityReader, service: Service,
                               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return [_jsonable(e) for e in await service.repo.find_security_events(limit)]


@reports.post("/maintenance/sweep", operation_id="run_sweep")
async def run_sweep(principal: Admin, service: Service) -> dict[str, int]:
    """Expire abandoned intents and query the gateway about stale ones now (also runs periodically)."""
    return await service.sweep()


def _jsonable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in doc.items()}
