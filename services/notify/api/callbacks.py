"""Delivery receipts from the providers (no bearer token: each provider signs its calls), after
the source allow-list and per-source rate limit (kit.callbacks)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from services.kit.callbacks import ServerCallback
from services.kit.errors import Invalid, NotFound, Unauthorized
from services.notify.api.deps import Parts
from services.notify.channels.sms import verify_receipt
from services.notify.channels.zalo import verify_webhook
from services.notify.model.delivery import ReceiptStatus

router = APIRouter(tags=["callbacks"], dependencies=[ServerCallback])


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Invalid("The body is not JSON", code="invalid_body") from exc
    if not isinstance(data, dict):
        raise Invalid("The body is not a JSON object", code="invalid_body")
    return data


@router.post("/callbacks/sms/{provider}", operation_id="sms_delivery_receipt")
async def sms_receipt(request: Request, parts: Parts, provider: str) -> dict[str, Any]:
    """Brand-name SMS delivery receipt, signed `X-Signature: hex(HMAC-SHA256(secret, body))`."""
    secret = parts.keys.sms.get(provider)
    if secret is None:
        raise NotFound("Unknown SMS provider", code="unknown_provider")
    raw = await request.body()
    if not verify_receipt(secret, raw, request.headers.get("x-signature")):
        raise Unauthorized("Bad signature", code="invalid_signature")
    data = _json(raw)
    try:
        status = ReceiptStatus(str(data.get("status", "")).upper())
    except ValueError as exc:
        raise Invalid("Unknown receipt status", code="invalid_status") from exc
    matched = await parts.dispatcher.on_receipt(
        provider=provider,
        request_id=data.get("request_id"),
        message_id=data.get("message_id"),
        status=status,
        detail=f"receipt {status.value.lower()} {data.get('error_code') or ''}".strip(),
    )
    return {"code": "00", "matched": matched}


@router.post("/callbacks/zalo", operation_id="zalo_webhook")
async def zalo_webhook(request: Request, parts: Parts) -> dict[str, Any]:
    """Zalo OA webhook: `user_received_message` marks a ZNS message delivered."""
    raw = await request.body()
    data = _json(raw)
    timestamp = str(data.get("timestamp", ""))
    header = request.headers.get("x-zevent-signature")
    if not parts.keys.zalo_oa_secret or not verify_webhook(
        parts.keys.zalo_app_id, parts.keys.zalo_oa_secret, raw, timestamp, header
    ):
        raise Unauthorized("Bad signature", code="invalid_signature")
    if data.get("event_name") != "user_received_message":
        return {"error": 0, "matched": False}
    message = data.get("message") or {}
    matched = await parts.dispatcher.on_receipt(
        provider="zalo",
        request_id=message.get("tracking_id"),
        message_id=message.get("msg_id"),
        status=ReceiptStatus.DELIVERED,
    )
    return {"error": 0, "matched": matched}
