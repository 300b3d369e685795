"""A VNPost-style postal operator over REST (see `model/vnpost.py` for the protocol).

Points at the operator's API in production, or at the local simulator in dev and tests.
Network errors and 5xx answers raise OperatorUnavailable (the caller retries later); a
refusal (Code ≠ 00) raises OperatorRejected. Webhooks are verified with the shared secret in
constant time; a timestamp outside the tolerance is refused as a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from services.postal.adapters.base import (
    OperatorAdapter,
    OperatorOrder,
    OperatorRejected,
    OperatorUnavailable,
    OrderRequest,
    Party,
    TrackingEvent,
    WebhookRejected,
)
from services.postal.model import vnpost
from services.postal.model.signatures import DEFAULT_TOLERANCE_S, Verdict, verify_body


@dataclass(frozen=True)
class VNPostConfig:
    api_url: str  # e.g. https://api.vnpost.example/ or the simulator's base URL
    customer_code: str
    token: str
    webhook_secret: str
    tolerance_s: int = DEFAULT_TOLERANCE_S
    timeout_s: float = 10.0


class VNPostAdapter(OperatorAdapter):
    name = "vnpost"

    def __init__(self, config: VNPostConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.config.api_url and self.config.customer_code and self.config.token)

    def _url(self, path: str) -> str:
        return f"{self.config.api_url.rstrip('/')}/api/v1/{path}"

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if not self.configured:
            raise OperatorUnavailable("The postal operator is not configured (MOTCUA_POSTAL_OPERATOR_*)")
        try:
            response = await self.http.request(
                method,
                self._url(path),
                json={"CustomerCode": self.config.customer_code, **(body or {})} if method != "GET" else None,
                params={"CustomerCode": self.config.customer_code} if method == "GET" else None,
                headers={vnpost.TOKEN_HEADER: self.config.token},
                timeout=self.config.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise OperatorUnavailable(f"postal operator unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise OperatorUnavailable(f"postal operator answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise OperatorUnavailable("postal operator answered something that is not JSON") from exc
        code = str(answer.get("Code"))
        if code == vnpost.SYSTEM_ERROR:
            raise OperatorUnavailable(f"postal operator error: {answer.get('Message')}")
        if code != vnpost.OK:
            raise OperatorRejected(f"postal operator refused ({code}): {answer.get('Message')}")
        return answer.get("Data")

    @staticmethod
    def _party(prefix: str, party: Party) -> dict[str, Any]:
        return vnpost.party_fields(prefix, party.name, party.phone, party.address.model_dump())

    async def create_order(self, order: OrderRequest) -> OperatorOrder:
        body = {
            "OrderCode": order.client_ref,
            "ServiceCode": "HCC",  # dịch vụ bưu chính công ích (hành chính công)
            "OrderType": order.kind.upper(),
            **self._party("Sender", order.sender),
            **self._party("Receiver", order.receiver),
            "Content": order.content,
            "Weight": order.weight_g,
            "CodAmount": order.cod_amount,
            "Note": order.note,
        }
        data = await self._call("POST", "orders", body)
        return OperatorOrder(
            order_code=str(data["OrderCode"]),
            tracking_number=str(data["ItemCode"]),
            fee=int(data["TotalFee"]) if data.get("TotalFee") is not None else None,
            status=vnpost.STATUS_CODES.get(str(data.get("StatusCode")), "created"),
        )

    async def cancel(self, tracking_number: str, reason: str) -> None:
        await self._call("POST", f"orders/{tracking_number}/cancel", {"Reason": reason})

    async def redeliver(self, tracking_number: str, note: str) -> None:
        await self._call("POST", f"orders/{tracking_number}/redeliver", {"Note": note})

    async def return_to_sender(self, tracking_number: str, reason: str) -> None:
        await self._call("POST", f"orders/{tracking_number}/return", {"Reason": reason})

    async def track(self, tracking_number: str) -> list[TrackingEvent]:
        rows = await self._call("GET", f"orders/{tracking_number}/tracking")
        return [self._event(row) for row in rows or []]

    @staticmethod
    def _event(data: dict[str, Any]) -> TrackingEvent:
        return TrackingEvent(**vnpost.read_event(data), raw=data)

    def read_webhook(self, body: bytes, headers: dict[str, str], *, now: datetime) -> TrackingEvent:
        verdict = verify_body(
            self.config.webhook_secret,
            headers.get(vnpost.TIMESTAMP_HEADER),
            body,
            headers.get(vnpost.SIGNATURE_HEADER),
            now=now,
            tolerance_s=self.config.tolerance_s,
        )
        if verdict is not Verdict.OK:
            raise WebhookRejected(verdict.value)
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            if data.get("CustomerCode") not in (None, self.config.customer_code):
                raise WebhookRejected("wrong_customer", str(data.get("CustomerCode")))
            return self._event(data)
        except (ValueError, TypeError) as exc:
            raise WebhookRejected("unreadable", str(exc)) from exc
