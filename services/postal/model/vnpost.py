"""The VNPost-style operator protocol, shared by the adapter and the local simulator. Pure.

REST with JSON in PascalCase, a `Token` header per customer, answers wrapped as
`{"Code": "00", "Message": …, "Data": …}` (00 success, 01 invalid data, 02 unauthorised,
04 not found, 05 not allowed in the item's state, 99 system error). Items carry UPU S10 codes.

    POST /api/v1/orders                       place an order (same OrderCode → same order)
    POST /api/v1/orders/{ItemCode}/cancel     before pickup only
    POST /api/v1/orders/{ItemCode}/redeliver  another attempt after a failed one
    POST /api/v1/orders/{ItemCode}/return     return to the sender
    GET  /api/v1/orders/{ItemCode}/tracking   status history

Status webhooks are POSTed to the customer's URL with `X-Postal-Timestamp` (unix seconds) and
`X-Postal-Signature` = hex HMAC-SHA256(secret, "<timestamp>.<raw body>") (see signatures.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.postal.model.status import ShipmentStatus

TIMESTAMP_HEADER = "x-postal-timestamp"
SIGNATURE_HEADER = "x-postal-signature"
TOKEN_HEADER = "Token"

OK = "00"
INVALID = "01"
UNAUTHORISED = "02"
NOT_FOUND = "04"
BAD_STATE = "05"
SYSTEM_ERROR = "99"

#: operator status code → our status
STATUS_CODES: dict[str, ShipmentStatus] = {
    "100": ShipmentStatus.CREATED,  # Tiếp nhận đơn hàng
    "200": ShipmentStatus.PICKED_UP,  # Đã nhận bưu gửi
    "300": ShipmentStatus.IN_TRANSIT,  # Đang vận chuyển
    "400": ShipmentStatus.OUT_FOR_DELIVERY,  # Đang phát
    "500": ShipmentStatus.DELIVERED,  # Phát thành công
    "550": ShipmentStatus.FAILED,  # Phát không thành công
    "600": ShipmentStatus.RETURNING,  # Đang chuyển hoàn
    "700": ShipmentStatus.RETURNED,  # Đã chuyển hoàn
    "800": ShipmentStatus.CANCELLED,  # Huỷ
    "900": ShipmentStatus.LOST,  # Thất lạc
}
CODE_FOR: dict[ShipmentStatus, str] = {v: k for k, v in STATUS_CODES.items()}
STATUS_NAMES_VI: dict[str, str] = {
    "100": "Tiếp nhận đơn hàng",
    "200": "Đã nhận bưu gửi",
    "300": "Đang vận chuyển",
    "400": "Đang phát",
    "500": "Phát thành công",
    "550": "Phát không thành công",
    "600": "Đang chuyển hoàn",
    "700": "Đã chuyển hoàn",
    "800": "Đã huỷ",
    "900": "Thất lạc",
}

#: operator reason code of a failed delivery → our reason code (tariff.CITIZEN_REASONS / OPERATOR_REASONS)
REASON_CODES: dict[str, str] = {
    "R01": "recipient_absent",
    "R02": "wrong_address",
    "R03": "refused",
    "R04": "phone_unreachable",
    "R05": "recipient_moved",
    "R11": "operator_delay",
    "R12": "damaged",
    "R13": "misrouted",
    "R14": "vehicle_breakdown",
}
REASON_FOR: dict[str, str] = {v: k for k, v in REASON_CODES.items()}


def party_fields(prefix: str, name: str, phone: str, address: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}Name": name,
        f"{prefix}Phone": phone,
        f"{prefix}ProvinceCode": address.get("province_code") or "",
        f"{prefix}Province": address.get("province") or "",
        f"{prefix}District": address.get("district") or "",
        f"{prefix}Commune": address.get("commune") or "",
        f"{prefix}Street": address.get("street") or "",
    }


def format_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("EventTime needs a time zone")
    return parsed


def read_event(data: dict[str, Any]) -> dict[str, Any]:
    """An operator event (webhook body or tracking row) as our fields; ValueError when unreadable."""
    try:
        code = str(data["StatusCode"])
        status = STATUS_CODES[code]
        reason = data.get("ReasonCode") or None
        return {
            "event_id": str(data["EventId"]),
            "tracking_number": str(data["ItemCode"]),
            "order_code": str(data["OrderCode"]) if data.get("OrderCode") else None,
            "client_ref": str(data["OrderCode"]) if data.get("OrderCode") else None,
            "status": status,
            "operator_status": code,
            "attempt": int(data.get("Attempt") or 0),
            "at": parse_time(str(data["EventTime"])),
            "reason_code": REASON_CODES.get(str(reason), str(reason)) if reason else None,
            "note": str(data.get("Note") or ""),
        }
    except (KeyError, TypeError) as exc:
        raise ValueError(f"missing or unknown field: {exc}") from exc
