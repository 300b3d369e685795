"""Zalo Notification Service (ZNS): template messages to a phone number through Zalo's HTTP API.

Modelled on Zalo's "send ZNS by phone number" API, spoken by the local simulator; production
points `base_url` at `https://business.openapi.zalo.me`:

    POST {base_url}/message/template         access_token: <OA access token>
    {"phone": "84987654321", "template_id": "...", "template_data": {...}, "tracking_id": "<delivery id>"}
    200 {"error": 0, "message": "Success", "data": {"msg_id": "...", "sent_time": "..."}}
    200 {"error": -118 | -108, ...}  no Zalo account / invalid phone → permanent (fall back to SMS)
    200 {"error": -124 | -1xx, ...}  bad token / template / quota      → technical
    200 {"error": -32 | -1, ...}     rate limit, unknown error           → temporary
    5xx, timeouts                                                       → technical

Receipts arrive on the OA's webhook as `user_received_message` events, signed
`X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA secret key)`.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from pydantic import BaseModel, SecretStr

from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, OutcomeKind, SendOutcome

PERMANENT_ERRORS = frozenset({-108, -118, -119, -139})  # invalid phone, no account, cannot receive, refused
TEMPORARY_ERRORS = frozenset({-1, -32, -201})  # unknown error, rate limit, busy


class ZaloConfig(BaseModel):
    base_url: str
    access_token: SecretStr = SecretStr("")
    app_id: str = ""
    oa_secret: SecretStr = SecretStr("")
    rate_per_s: float = 20.0
    burst: int = 20
    name: str = "zalo"


def webhook_mac(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode()).hexdigest()


def verify_webhook(app_id: str, oa_secret: str, body: bytes, timestamp: str, header: str | None) -> bool:
    if not header:
        return False
    given = header.split("=", 1)[1] if header.startswith("mac=") else header
    return hmac.compare_digest(webhook_mac(app_id, body, timestamp, oa_secret), given.lower())


class ZaloZnsAdapter:
    def __init__(self, config: ZaloConfig, http: httpx.AsyncClient, *, timeout_s: float) -> None:
        self.config = config
        self.http = http
        self.timeout_s = timeout_s

    @property
    def channel(self) -> Channel:
        return Channel.ZALO

    @property
    def provider(self) -> str:
        return self.config.name

    async def send(self, message: OutboundMessage) -> SendOutcome:
        try:
            response = await self.http.post(
                f"{self.config.base_url.rstrip('/')}/message/template",
                json={
                    "phone": message.to,
                    "template_id": message.zns_template_id,
                    "template_data": message.params,
                    "tracking_id": message.delivery_id,
                },
                headers={"access_token": self.config.access_token.get_secret_value()},
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"timeout after {self.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"{type(exc).__name__}: {exc}"[:300])
        if response.status_code >= 400:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"HTTP {response.status_code}")
        try:
            data = response.json()
            error = int(data.get("error", -1))
        except (ValueError, TypeError, AttributeError):
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail="unreadable answer")
        detail = f"ZNS error {error}: {data.get('message', '')}"[:300]
        if error == 0 and isinstance(data.get("data"), dict) and data["data"].get("msg_id"):
            return SendOutcome(kind=OutcomeKind.ACCEPTED, provider_message_id=str(data["data"]["msg_id"]))
        if error in PERMANENT_ERRORS:
            return SendOutcome(kind=OutcomeKind.PERMANENT, detail=detail)
        if error in TEMPORARY_ERRORS:
            return SendOutcome(kind=OutcomeKind.TEMPORARY, detail=detail)
        return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=detail)
