"""The dossier (hồ sơ) and its reception rules. Pure: no I/O, time comes in as an argument."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class DossierStatus(StrEnum):
    """Status codes seen in a provincial system (DOMAIN §3), with their national-portal string."""

    REGISTERED = "registered"  # 1 — đã đăng ký trực tuyến, chưa tiếp nhận
    RECEIVED = "received"  # 2 — đã tiếp nhận
    NOT_RECEIVED = "not_received"  # 3 — không tiếp nhận (từ chối / yêu cầu bổ sung tại quầy)
    PROCESSING = "processing"  # 4 — đang xử lý
    SUPPLEMENT_REQUESTED = "supplement_requested"  # 5 — yêu cầu bổ sung
    AWAITING_PAYMENT = "awaiting_payment"  # 6 — chờ thanh toán
    WITHDRAWN = "withdrawn"  # 7 — rút hồ sơ
    SUSPENDED = "suspended"  # 8 — tạm dừng
    RESOLVED = "resolved"  # 9 — đã giải quyết
    RETURNED = "returned"  # 10 — đã trả kết quả


class Channel(StrEnum):
    """Reception channel (kênh tiếp nhận); national-portal numbering 1/2/3."""

    COUNTER = "counter"
    ONLINE = "online"
    POSTAL = "postal"


_CODE_RE = re.compile(r"^(?P<unit>[0-9A-Z]+(?:\.[0-9A-Z]+)*)-(?P<date>\d{6})-(?P<seq>\d{4})$")


def format_dossier_code(receiving_unit_id: str, received_at: datetime, sequence: int) -> str:
    """`<receiving unit identifier>-<YYMMDD>-<NNNN>` (DOMAIN §4); the date is the local reception day."""
    if not 1 <= sequence <= 9999:
        raise ValueError(f"daily sequence {sequence} is outside 1..9999")
    return f"{receiving_unit_id}-{received_at:%y%m%d}-{sequence:04d}"


def parse_dossier_code(code: str) -> tuple[str, str, int] | None:
    m = _CODE_RE.match(code.strip().upper())
    if not m:
        return None
    return m.group("unit"), m.group("date"), int(m.group("seq"))


class StatusChange(BaseModel):
    """One line of the process control slip (phiếu kiểm soát quá trình, form 05)."""

    at: datetime
    from_status: DossierStatus | None
    to_status: DossierStatus
    actor: str
    role: str = ""
    unit_code: str = ""
    note: str = ""


class ApplicantContactInfo(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None
