"""The VNPay-style gateway: pay page, IPN to the merchant, querydr/refund API, settlement CSV."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel

from services.payments.model import vnpay
from services.payments.model.intent import Channel
from services.payments.model.reconciliation import local_day, write_statement
from services.payments.simulators.state import (
    GatewayTxn,
    Merchant,
    SimState,
)


class MerchantIn(BaseModel):
    tmn_code: str
    secret: str
    ipn_url: str


def gateway_router(state: SimState, http: Callable[[], httpx.AsyncClient]) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/vnpay/merchants", status_code=201)
    async def add_merchant(body: MerchantIn) -> dict[str, str]:
        state.merchants[body.tmn_code] = Merchant(body.tmn_code, body.secret, body.ipn_url)
        return {"tmn_code": body.tmn_code}

    def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{escape(title)}</title>'
                            f"<body><h1>{escape(title)}</h1>{body}</body></html>", status_code=status)

    @router.get("/vnpay/paymentv2/vpcpay.html", response_class=HTMLResponse)
    async def pay_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        merchant = state.merchants.get(params.get("vnp_TmnCode", ""))
        if merchant is None:
            return _page("Website chưa được phê duyệt", "<p>Mã lỗi 02: TmnCode không tồn tại</p>", 400)
        if not vnpay.verify(params, merchant.secret):
            return _page("Sai chữ ký", "<p>Mã lỗi 70: sai chữ ký</p>", 400)
        if vnpay.parse_time(params["vnp_ExpireDate"]) < datetime.now(UTC):
            return _page("Giao dịch đã quá thời gian chờ thanh toán", "<p>Mã lỗi 11</p>", 400)
        key = (merchant.tmn_code, params["vnp_TxnRef"])
        txn = state.gateway_txns.get(key)
        amount = vnpay.from_vnp_amount(params["vnp_Amount"]) or 0
        if txn is None:
            txn = GatewayTxn(merchant.tmn_code, params["vnp_TxnRef"], amount, params.get("vnp_OrderInfo", ""),
                             params["vnp_ReturnUrl"], params["vnp_CreateDate"], params["vnp_ExpireDate"],
                             transaction_no=state.next_number())
            state.gateway_txns[key] = txn
        form = (f'<p>Đơn hàng {escape(txn.txn_ref)}: {txn.amount_vnd:,} VND — {escape(txn.order_info)}</p>'
                f'<form method="post" action="/vnpay/paymentv2/pay">'
                f'<input type="hidden" name="tmn_code" value="{escape(txn.tmn_code)}">'
                f'<input type="hidden" name="txn_ref" value="{escape(txn.txn_ref)}">'
                f'<button name="action" value="pay">Thanh toán</button>'
                f'<button name="action" value="cancel">Huỷ giao dịch</button></form>')
        return _page("Cổng thanh toán (mô phỏng)", form)

    def _result_params(txn: GatewayTxn, merchant: Merchant) -> dict[str, str]:
        params = {
            "vnp_Amount": vnpay.to_vnp_amount(txn.amount_vnd), "vnp_BankCode": txn.bank_code,
            "vnp_BankTranNo": f"VNP{txn.transaction_no}", "vnp_CardType": "ATM", "vnp_OrderInfo": txn.order_info,
            "vnp_PayDate": txn.pay_date, "vnp_ResponseCode": txn.response_code, "vnp_TmnCode": txn.tmn_code,
            "vnp_TransactionNo": txn.transaction_no,
            "vnp_TransactionStatus": "00" if txn.status == "paid" else "02", "vnp_TxnRef": txn.txn_ref,
        }
        params["vnp_SecureHash"] = vnpay.sign(params, merchant.secret)
        params["vnp_SecureHashType"] = "HmacSHA512"
        return params

    async def _send_ipn(txn: GatewayTxn, merchant: Merchant) -> dict[str, Any]:
        query = urlencode(_result_params(txn, merchant))
        try:
            response = await http().get(f"{merchant.ipn_url}?{query}")
            reply: dict[str, Any] = {"http_status": response.status_code, **response.json()}
        except Exception as exc:  # the merchant is down: recorded, the status query recovers it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        txn.ipn_replies.append(reply)
        return reply

    @router.post("/vnpay/paymentv2/pay")
    async def pay(tmn_code: Annotated[str, Form()], txn_ref: Annotated[str, Form()],
                  action: Annotated[str, Form()] = "pay", ipn: Annotated[str, Form()] = "send") -> Any:
        """The payer pressed a button on the pay page. `ipn=skip` simulates a lost IPN."""
        txn = state.gateway_txns.get((tmn_code, txn_ref))
        merchant = state.merchants.get(tmn_code)
        if txn is None or merchant is None:
            raise HTTPException(404, "no such transaction")
        if txn.status == "pending":
            txn.pay_date = vnpay.format_time(datetime.now(UTC))
            if action == "pay":
                txn.status, txn.response_code = "paid", "00"
            elif action == "fail":
                txn.status, txn.response_code = "failed", "51"  # insufficient funds
            else:
                txn.status, txn.response_code = "cancelled", "24"  # cancelled by the customer
        if ipn != "skip":
            await _send_ipn(txn, merchant)
        query = urlencode(_result_params(txn, merchant))
        return RedirectResponse(f"{txn.return_url}?{query}", status_code=302)

    @router.get("/admin/vnpay/transactions/{tmn_code}/{txn_ref}")
    async def gateway_txn(tmn_code: str, txn_ref: str) -> dict[str, Any]:
        txn = state.gateway_txns.get((tmn_code, txn_ref))
        if txn is None:
            raise HTTPException(404, "no such transaction")
        return {**txn.__dict__}

    @router.post("/admin/vnpay/transactions/{tmn_code}/{txn_ref}/ipn")
    async def resend_ipn(tmn_code: str, txn_ref: str) -> dict[str, Any]:
        """Deliver the IPN again (VNPay retries until it gets 00 or 02)."""
        txn = state.gateway_txns.get((tmn_code, txn_ref))
        merchant = state.merchants.get(tmn_code)
        if txn is None or merchant is None:
            raise HTTPException(404, "no such transaction")
        return await _send_ipn(txn, merchant)

    @router.post("/vnpay/merchant_webapi/api/transaction")
    async def transaction_api(request: Request) -> JSONResponse:
        body = {k: str(v) for k, v in (await request.json()).items()}
        merchant = state.merchants.get(body.get("vnp_TmnCode", ""))
        command = body.get("vnp_Command")
        fields = vnpay.QUERY_REQUEST_FIELDS if command == "querydr" else vnpay.REFUND_REQUEST_FIELDS
        out: dict[str, str] = {"vnp_ResponseId": secrets.token_hex(8), "vnp_Command": command or "",
                               "vnp_TmnCode": body.get("vnp_TmnCode", ""), "vnp_TxnRef": body.get("vnp_TxnRef", "")}
        if merchant is None:
            out.update(vnp_ResponseCode="02", vnp_Message="Merchant is not valid")
            return JSONResponse(out)
        response_fields = vnpay.QUERY_RESPONSE_FIELDS if command == "querydr" else vnpay.REFUND_RESPONSE_FIELDS
        if not vnpay.verify_pipe_hash(body, fields, merchant.secret):
            out.update(vnp_ResponseCode="97", vnp_Message="Invalid Checksum")
        else:
            txn = state.gateway_txns.get((merchant.tmn_code, body.get("vnp_TxnRef", "")))
            if txn is None:
                out.update(vnp_ResponseCode="91", vnp_Message="Transaction not found")
            elif command == "querydr":
                out.update(
                    vnp_ResponseCode="00", vnp_Message="QueryDR Success",
                    vnp_Amount=vnpay.to_vnp_amount(txn.amount_vnd), vnp_BankCode=txn.bank_code,
                    vnp_PayDate=txn.pay_date, vnp_TransactionNo=txn.transaction_no, vnp_TransactionType="01",
                    vnp_TransactionStatus={"paid": "00", "pending": "01"}.get(txn.status, "02"),
                    vnp_OrderInfo=txn.order_info,
                )
            elif command == "refund":
                amount = vnpay.from_vnp_amount(body.get("vnp_Amount", "")) or 0
                refunded = sum(r["amount"] for r in txn.refunds)
                if txn.status != "paid" or amount <= 0 or refunded + amount > txn.amount_vnd:
                    out.update(vnp_ResponseCode="94", vnp_Message="Refund amount is not valid")
                else:
                    txn.refunds.append({"amount": amount, "by": body.get("vnp_CreateBy")})
                    out.update(vnp_ResponseCode="00", vnp_Message="Refund success",
                               vnp_Amount=body.get("vnp_Amount", ""), vnp_BankCode=txn.bank_code,
                               vnp_PayDate=vnpay.format_time(datetime.now(UTC)),
                               vnp_TransactionNo=state.next_number(), vnp_TransactionType=body["vnp_TransactionType"],
                               vnp_TransactionStatus="05", vnp_OrderInfo=body.get("vnp_OrderInfo", ""))
            else:
                out.update(vnp_ResponseCode="99", vnp_Message="Unknown command")
        out["vnp_SecureHash"] = vnpay.pipe_hash(out, response_fields, merchant.secret)
        return JSONResponse(out)

    @router.get("/vnpay/settlement", response_class=PlainTextResponse)
    async def gateway_settlement(request: Request) -> PlainTextResponse:
        params = dict(request.query_params)
        merchant = state.merchants.get(params.get("vnp_TmnCode", ""))
        if merchant is None or not vnpay.verify_pipe_hash(params, ("vnp_TmnCode", "date"), merchant.secret):
            raise HTTPException(403, "bad signature")
        day = datetime.strptime(params["date"], "%Y%m%d").date()
        rows = [{"vnp_TxnRef": t.txn_ref, "vnp_TransactionNo": t.transaction_no,
                 "vnp_Amount": vnpay.to_vnp_amount(t.amount_vnd), "vnp_PayDate": t.pay_date,
                 "vnp_BankCode": t.bank_code, "vnp_TransactionStatus": "00"}
                for t in state.gateway_txns.values()
                if t.tmn_code == merchant.tmn_code and t.status == "paid"
                and local_day(vnpay.parse_time(t.pay_date)) == day]
        return PlainTextResponse(write_statement(Channel.VNPAY, rows), media_type="text/csv")

    return router
