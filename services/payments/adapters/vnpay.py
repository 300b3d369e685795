"""VNPay-compatible payment gateway (cổng thanh toán): signed payment URL, IPN, status query,
refund and settlement file. Points at VNPay's sandbox/production or at the local simulator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import httpx

from services.payments.adapters.base import (
    CallbackInput,
    CallbackReply,
    ChannelAdapter,
    ChannelUnavailable,
    Checkout,
    ProviderStatus,
    RefundResult,
)
from services.payments.model import vnpay
from services.payments.model.callbacks import CallbackCode, ProviderResult
from services.payments.model.intent import Actor, Channel, PaymentIntent
from services.payments.model.vietqr import payment_note


@dataclass(frozen=True)
class VNPayConfig:
    pay_url: str  # the payment page, e.g. https://sandbox.vnpayment.vn/paymentv2/vpcpay.html
    api_url: str  # querydr / refund, e.g. https://sandbox.vnpayment.vn/merchant_webapi/api/transaction
    statement_url: str  # daily settlement CSV
    tmn_code: str
    secret: str
    return_url: str
    server_ip: str = "127.0.0.1"


def order_info(intent: PaymentIntent) -> str:
    """ASCII order description (VNPay recommends no diacritics)."""
    return f"Thanh toan phi ho so {intent.dossier_code} {payment_note(intent.ref)}"


class VNPayAdapter(ChannelAdapter):
    channel = Channel.VNPAY

    def __init__(self, config: VNPayConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.config.tmn_code and self.config.secret and self.config.pay_url)

    def _require(self) -> None:
        if not self.configured:
            raise ChannelUnavailable("The payment gateway is not configured (MOTCUA_VNPAY_*)")

    async def start(self, intent: PaymentIntent, *, now: datetime, client_ip: str,
                    terminal_id: str | None = None) -> Checkout:
        self._require()
        params = vnpay.payment_params(
            tmn_code=self.config.tmn_code, txn_ref=intent.ref, amount_vnd=intent.amount,
            order_info=order_info(intent), return_url=self.config.return_url, ip_addr=client_ip or "127.0.0.1",
            created_at=now, expires_at=intent.expires_at,
        )
        url = vnpay.payment_url(self.config.pay_url, params, self.config.secret)
        return Checkout(self.channel, payment_url=url, instructions="Quét mã hoặc mở liên kết để thanh toán trực tuyến",
                        data={"txn_ref": intent.ref, "create_date": params["vnp_CreateDate"]})

    def read_callback(self, callback: CallbackInput, *, now: datetime) -> ProviderResult:
        self._require()
        return vnpay.read_ipn(callback.query, self.config.secret)

    def reply(self, code: CallbackCode) -> CallbackReply:
        # VNPay expects HTTP 200 with the JSON code in every case, a bad signature included.
        return CallbackReply(200, vnpay.ipn_reply(vnpay.CODE_FOR[code]))

    async def query_status(self, intent: PaymentIntent, *, now: datetime) -> ProviderStatus | None:
        self._require()
        body = vnpay.query_request(
            tmn_code=self.config.tmn_code, secret=self.config.secret, request_id=uuid.uuid4().hex[:32],
            txn_ref=intent.ref, transaction_date=intent.created_at, now=now, ip_addr=self.config.server_ip,
            order_info=f"Truy van {intent.ref}",
        )
        response = await self.http.post(self.config.api_url, json=body, timeout=10)
        response.raise_for_status()
        data = {k: str(v) for k, v in response.json().items()}
        if not vnpay.verify_pipe_hash(data, vnpay.QUERY_RESPONSE_FIELDS, self.config.secret):
            raise ValueError("the gateway's status answer has a bad signature")
        if data.get("vnp_TxnRef") != intent.ref:
            raise ValueError("the gateway answered about another order")
        amount = vnpay.from_vnp_amount(data.get("vnp_Amount", ""))
        fields = vnpay.provider_fields(data)
        if data.get("vnp_ResponseCode") != "00":
            return ProviderStatus("unknown", amount, None, fields)
        status = data.get("vnp_TransactionStatus")
        state = {"00": "paid", "01": "pending"}.get(status or "", "failed")
        return ProviderStatus(state, amount, data.get("vnp_TransactionNo") or None, fields)

    async def refund(self, intent: PaymentIntent, amount: int, *, now: datetime, by: Actor) -> RefundResult:
        self._require()
        body = vnpay.refund_request(
            tmn_code=self.config.tmn_code, secret=self.config.secret, request_id=uuid.uuid4().hex[:32],
            txn_ref=intent.ref, amount_vnd=amount, whole=amount == intent.refundable,
            transaction_no=intent.provider_txn or "", transaction_date=intent.paid_at or intent.created_at,
            created_by=by.subject[:250], now=now, ip_addr=self.config.server_ip, order_info=f"Hoan tien {intent.ref}",
        )
        response = await self.http.post(self.config.api_url, json=body, timeout=10)
        response.raise_for_status()
        data = {k: str(v) for k, v in response.json().items()}
        if not vnpay.verify_pipe_hash(data, vnpay.REFUND_RESPONSE_FIELDS, self.config.secret):
            raise ValueError("the gateway's refund answer has a bad signature")
        ok = data.get("vnp_ResponseCode") == "00"
        return RefundResult(ok, data.get("vnp_TransactionNo") or None, data.get("vnp_Message", ""))

    async def fetch_statement(self, day: date) -> str | None:
        self._require()
        params = {"vnp_TmnCode": self.config.tmn_code, "date": day.strftime("%Y%m%d")}
        params["vnp_SecureHash"] = vnpay.pipe_hash(params, ("vnp_TmnCode", "date"), self.config.secret)
        response = await self.http.get(self.config.statement_url, params=params, timeout=20)
        response.raise_for_status()
        return response.text
