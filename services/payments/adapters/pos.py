"""Card payments on a POS terminal at the counter (máy POS): the sale is pushed to the
terminal, the terminal posts its result signed with a shared secret. Card data is stripped
before anything is stored or logged."""

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
    RefundResult,
)
from services.payments.model import pos
from services.payments.model.callbacks import CallbackCode, ProviderResult
from services.payments.model.intent import Actor, Channel, PaymentIntent
from services.payments.model.signatures import sign_body, verify_body

SIGNATURE_HEADER = "x-pos-signature"
TIMESTAMP_HEADER = "x-pos-timestamp"


@dataclass(frozen=True)
class PosConfig:
    api_url: str  # the terminal management host (acquirer) or the simulator
    secret: str
    default_terminal: str


class PosAdapter(ChannelAdapter):
    channel = Channel.POS

    def __init__(self, config: PosConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.config.secret and self.config.api_url)

    def _require(self) -> None:
        if not self.configured:
            raise ChannelUnavailable("The POS terminals are not configured (MOTCUA_POS_*)")

    def _signed(self, body: bytes) -> dict[str, str]:
        ts = int(time.time())
        return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign_body(self.config.secret, ts, body),
                "content-type": "application/json"}

    async def _post(self, path: str, payload: dict[str, object]) -> dict[str, object]:
        body = json.dumps(payload).encode()
        response = await self.http.post(f"{self.config.api_url}{path}", content=body, headers=self._signed(body),
                                        timeout=10)
        if response.status_code >= 400:
            raise ChannelUnavailable(f"The POS terminal refused the request ({response.status_code})")
        data: dict[str, object] = response.json()
        return data

    async def start(self, intent: PaymentIntent, *, now: datetime, client_ip: str,
                    terminal_id: str | None = None) -> Checkout:
        self._require()
        terminal = terminal_id or self.config.default_terminal
        sale = await self._post(f"/terminals/{terminal}/sales",
                                {"ref": intent.ref, "amount": intent.amount, "description": intent.dossier_code})
        return Checkout(self.channel, terminal_id=terminal, sale_id=str(sale.get("sale_id")),
                        instructions="Mời người nộp quẹt/chạm thẻ trên máy POS")

    def read_callback(self, callback: CallbackInput, *, now: datetime) -> ProviderResult:
        self._require()
        if not verify_body(self.config.secret, callback.headers.get(TIMESTAMP_HEADER), callback.body,
                           callback.headers.get(SIGNATURE_HEADER), now=now):
            return ProviderResult(authentic=False, reason="bad terminal signature")
        try:
            payload = json.loads(callback.body)
            result = pos.parse_result(payload)
        except (ValueError, pos.PosPayloadError) as exc:
            reason = f"malformed terminal result: {pos.mask_card_numbers(str(exc))}"
            return ProviderResult(authentic=True, reason=reason)
        return ProviderResult(authentic=True, ref=result.ref, amount=result.amount, success=result.approved,
                              provider_txn=result.provider_txn, data=result.stored(),
                              reason="" if result.approved else f"declined {result.response_code or ''}".strip())

    def reply(self, code: CallbackCode) -> CallbackReply:
        if code is CallbackCode.BAD_SIGNATURE:
            return CallbackReply(401, {"ack": False, "result": code.value})
        return CallbackReply(200, {"ack": True, "result": code.value})

    async def refund(self, intent: PaymentIntent, amount: int, *, now: datetime, by: Actor) -> RefundResult:
        self._require()
        terminal = str(intent.provider_data.get("terminal_id") or self.config.default_terminal)
        answer = await self._post(f"/terminals/{terminal}/refunds",
                                  {"ref": intent.ref, "rrn": intent.provider_data.get("rrn"), "amount": amount})
        return RefundResult(bool(answer.get("approved")), str(answer.get("refund_id") or "") or None,
                            str(answer.get("message") or ""))

    async def fetch_statement(self, day: date) -> str | None:
        self._require()
        path = f"/settlements?date={day.isoformat()}"
        response = await self.http.get(f"{self.config.api_url}{path}", headers=self._signed(path.encode()),
                                       timeout=20)
        response.raise_for_status()
        return response.text
