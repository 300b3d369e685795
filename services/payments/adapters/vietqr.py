"""NAPAS VietQR bank transfer: a dynamic QR naming the amount and a note that identifies the
intent; the bank's signed transfer notification (webhook) marks the intent paid when the
amount and the note match. Points at the bank's API or the local simulator."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, datetime

import httpx

from services.payments.adapters.base import (
    CallbackInput,
    CallbackReply,
    ChannelAdapter,
    ChannelUnavailable,
    Checkout,
)
from services.payments.model import vietqr
from services.payments.model.callbacks import CallbackCode, ProviderResult
from services.payments.model.intent import Channel, PaymentIntent
from services.payments.model.signatures import sign_body, verify_body

SIGNATURE_HEADER = "x-bank-signature"
TIMESTAMP_HEADER = "x-bank-timestamp"


@dataclass(frozen=True)
class VietQRConfig:
    bank_bin: str
    account: str
    account_name: str
    webhook_secret: str
    api_url: str  # the bank's API (statement)


class VietQRAdapter(ChannelAdapter):
    channel = Channel.VIETQR

    def __init__(self, config: VietQRConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.config.bank_bin and self.config.account and self.config.webhook_secret)

    def _require(self) -> None:
        if not self.configured:
            raise ChannelUnavailable("VietQR is not configured (MOTCUA_VIETQR_*)")

    def qr_string(self, intent: PaymentIntent) -> str:
        self._require()
        return vietqr.build(self.config.bank_bin, self.config.account, amount=intent.amount,
                            note=vietqr.payment_note(intent.ref))

    async def start(self, intent: PaymentIntent, *, now: datetime, client_ip: str,
                    terminal_id: str | None = None) -> Checkout:
        return Checkout(
            self.channel, qr_string=self.qr_string(intent),
            instructions="Quét mã VietQR bằng ứng dụng ngân hàng; giữ nguyên số tiền và nội dung chuyển khoản",
            data={"bank_bin": self.config.bank_bin, "account": self.config.account,
                  "account_name": self.config.account_name, "note": vietqr.payment_note(intent.ref)},
        )

    def read_callback(self, callback: CallbackInput, *, now: datetime) -> ProviderResult:
        self._require()
        if not verify_body(self.config.webhook_secret, callback.headers.get(TIMESTAMP_HEADER), callback.body,
                           callback.headers.get(SIGNATURE_HEADER), now=now):
            return ProviderResult(authentic=False, reason="bad bank signature")
        try:
            data = json.loads(callback.body)
            amount = int(data["amount"])
            description = str(data.get("description") or "")
            account = str(data["account"])
            txn = str(data["transaction_id"])
        except (ValueError, KeyError, TypeError) as exc:
            return ProviderResult(authentic=True, reason=f"malformed notification: {exc}")
        kept = {"transaction_id": txn, "account": account, "amount": amount, "description": description[:200],
                "transferred_at": str(data.get("transferred_at") or ""), "payer_bank": data.get("payer_bank")}
        if account != self.config.account:
            return ProviderResult(authentic=True, ref=None, amount=amount, success=True, provider_txn=txn,
                                  data=kept, reason="transfer to another account")
        return ProviderResult(authentic=True, ref=vietqr.find_ref(description), amount=amount, success=True,
                              provider_txn=txn, data=kept)

    def reply(self, code: CallbackCode) -> CallbackReply:
        if code is CallbackCode.BAD_SIGNATURE:
            return CallbackReply(401, {"status": "rejected", "reason": code.value})
        # Anything authentic is acknowledged so the bank stops retrying; mismatches raise alerts here.
        return CallbackReply(200, {"status": "received", "result": code.value})

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        ts = int(time.time())
        return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign_body(self.config.webhook_secret, ts, body)}

    async def fetch_statement(self, day: date) -> str | None:
        self._require()
        path = f"/accounts/{self.config.account}/statement"
        query = f"date={day.isoformat()}"
        response = await self.http.get(f"{self.config.api_url}{path}?{query}",
                                       headers=self._signed_headers(f"{path}?{query}".encode()), timeout=20)
        response.raise_for_status()
        return response.text
