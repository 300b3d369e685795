"""Value objects shared by the postal aggregates. Pure."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

_PHONE = re.compile(r"^(0|\+84)(3|5|7|8|9)\d{8}$")  # DOMAIN §9 [check]
_ID = re.compile(r"^(\d{12}|\d{9})$")


class PostalError(Exception):
    """A rule of the postal domain was broken; `code` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_phone(value: str) -> str:
    """`0912345678` form; `+84…` and spaces/dots accepted."""
    raw = re.sub(r"[\s.\-()]", "", value)
    if not _PHONE.match(raw):
        raise ValueError("số điện thoại di động không hợp lệ (10 số, bắt đầu 03/05/07/08/09)")
    return "0" + raw[3:] if raw.startswith("+84") else raw


class Actor(BaseModel):
    """A member of staff acting (or signing) in the system."""

    subject: str
    name: str = ""
    role: str = ""
    unit_code: str = ""


class SignatureMethod(StrEnum):
    SIGNATURE = "signature"  # ký tay / ký số
    FINGERPRINT = "fingerprint"  # điểm chỉ


class Signature(BaseModel):
    """Who signed, in what capacity, when (the legal weight of slips and records)."""

    name: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(None, description="Staff subject; None for a citizen")
    role: str = Field(description="sender | postal_worker | office_officer")
    method: SignatureMethod = SignatureMethod.SIGNATURE
    at: datetime


class Address(BaseModel):
    """A Vietnamese postal address: province, [district,] commune, street (house number, hamlet)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    province_code: str | None = Field(None, pattern=r"^\d{2}$", description="Province code (e.g. 91)")
    province: str = Field(min_length=1, max_length=100)
    district: str | None = Field(None, max_length=100, description="Three-tier deployments only")
    commune_code: str | None = Field(None, pattern=r"^\d{4,6}$")
    commune: str = Field(min_length=1, max_length=100)
    street: str = Field(min_length=1, max_length=300, description="House number, street, hamlet (ấp, thôn)")

    def line(self) -> str:
        parts = [self.street, self.commune, self.district or "", self.province]
        return ", ".join(p for p in parts if p)


#: Validation context of records read back from the database (repository.from_doc): they may
#: hold what a deletion request erased, which input never may (an empty contact phone).
STORED: dict[str, bool] = {"stored": True}
ERASED_PHONE = ""


class Contact(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    phone: str
    email: str | None = Field(None, max_length=200)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        if value == ERASED_PHONE and info.context == STORED:
            return value
        return normalize_phone(value)


class Applicant(BaseModel):
    """Người nộp hồ sơ, as intake's reception needs it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    kind: str = Field("individual", pattern="^(individual|organisation)$")
    full_name: str = Field(min_length=1, max_length=200)
    id_number: str | None = None
    birth_date: date | None = None
    phone: str | None = None
    email: str | None = Field(None, max_length=200)
    address: str = Field("", max_length=500)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("id_number")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _ID.match(value.strip()):
            raise ValueError("số CCCD (12 số) hoặc CMND (9 số) không hợp lệ")
        return value.strip()


class Component(BaseModel):
    """One paper of the dossier, as listed from the published catalogue (intake's data)."""

    component_id: str = Field(min_length=1, max_length=100)
    name: str = Field("", max_length=300)
    count: int = Field(1, ge=1, le=100, description="Copies (bản)")
    required: bool = True


class ComponentCheck(BaseModel):
    """The postal worker's check of one listed paper."""

    component_id: str
    present: bool
    count: int = Field(1, ge=0, le=100)
    note: str = Field("", max_length=500)


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    by: str = Field("", description="Actor subject, `operator:<name>` or `system`")
    note: str = ""


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-3:]}" if phone and len(phone) >= 7 else ""
