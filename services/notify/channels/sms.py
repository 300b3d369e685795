"""Brand-name SMS (tin nhắn thương hiệu) through a gateway's HTTP API, with delivery receipts.

The protocol, modelled on the REST APIs of Vietnamese brand-name gateways and spoken by the
local simulator (`python -m services.notify.simulators`); production points `base_url` at
the contracted gateway:

    POST {base_url}/api/v1/sms/send          Authorization: Bearer <api_key>
    {"brandname": "UBND-AG", "phone": "84987654321", "message": "...",
     "request_id": "<delivery id>", "callback_url": "https://…/callbacks/sms/<provider>"}
    200 {"code": "00", "message_id": "...", "segments": 1}     accepted (same request_id → same answer)
    400 {"code": "12"}  invalid phone          → permanent
    429 / 503 {"code": "29" | "98"} busy       → temporary (Retry-After honoured)
    401, 5xx, timeouts                         → technical (counts against the gateway)

The gateway then POSTs a delivery receipt to `callback_url`, signed with the shared secret:
`X-Signature: hex(HMAC-SHA256(callback_secret, raw body))`,
`{"message_id", "request_id", "status": "DELIVERED|FAILED|REJECTED|EXPIRED", "error_code", "done_at"}`.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from pydantic import BaseModel, SecretStr

from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, OutcomeKind, SendOutcome


class SmsGatewayConfig(BaseModel):
    name: str
    base_url: str
    api_key: SecretStr = SecretStr("")
    callback_secret: SecretStr = SecretStr("")
    brandname: str = "MOTCUA"
    rate_per_s: float = 20.0
    burst: int = 20


def sign_receipt(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_receipt(secret: str, body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(sign_receipt(secret, body), (signature or "").lower())


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


class BrandnameSmsAdapter:
    def __init__(
        self, config: SmsGatewayConfig, http: httpx.AsyncClient, *, callback_url: str, timeout_s: float
    ) -> None:
        self.config = config
        self.http = http
        self.callback_url = callback_url
        self.timeout_s = timeout_s

    @property
    def channel(self) -> Channel:
        return Channel.SMS

    @property
    def provider(self) -> str:
        return self.config.name

    async def send(self, message: OutboundMessage) -> SendOutcome:
        try:
            response = await self.http.post(
                f"{self.config.base_url.rstrip('/')}/api/v1/sms/send",
                json={
                    "brandname": self.config.brandname,
                    "phone": message.to,
                    "message": message.body,
                    "request_id": message.delivery_id,
                    "callback_url": self.callback_url,
                },
                headers={"Authorization": f"Bearer {self.config.api_key.get_secret_value()}"},
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"timeout after {self.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"{type(exc).__name__}: {exc}"[:300])
        try:
            data = response.json()
        except ValueError:
            data = {}
        code = str(data.get("code", "")) if isinstance(data, dict) else ""
        detail = f"HTTP {response.status_code} code {code or '-'}: {data.get('message', '') if data else ''}"[:300]
        if response.status_code == 200 and code == "00" and data.get("message_id"):
            return SendOutcome(kind=OutcomeKind.ACCEPTED, provider_message_id=str(data["message_id"]), detail="")
        if response.status_code in (429, 503):
            return SendOutcome(kind=OutcomeKind.TEMPORARY, detail=detail, retry_after_s=_retry_after(response))
        if response.status_code == 400 and code in ("12", "14"):  # invalid / blacklisted number
            return SendOutcome(kind=OutcomeKind.PERMANENT, detail=detail)
        return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=detail)
