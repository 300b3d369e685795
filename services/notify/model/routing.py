"""Which event notifies whom, about what, on which channels.

| event | applicant | others |
|---|---|---|
| dossier.received | receipt (essential: legal slip 01) | — |
| dossier.supplement_requested | supplement request (essential: slip 02) | — |
| dossier.late_apology | apology and new date (essential: slip 04) | — |
| dossier.result_ready | result ready | postal workers of the office, when the result goes back by post |
| dossier.returned | result returned | — |
| dossier.status_changed | only for configured statuses (default: suspended, withdrawn) | — |
| dossier.late | — | officers, through the daily reminders |
| payment.paid | receipt with the amount | — |
| shipment.* | status update, when the payload names the applicant | — |

Channels: an e-mail address gives an e-mail; a mobile number gives one phone message, by Zalo
ZNS first and SMS when Zalo fails (or is refused by consent). Staff choose their channels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from services.contracts.events import (
    DossierBecameLate,
    DossierLateApology,
    DossierReceived,
    DossierRef,
    DossierResultReady,
    DossierReturned,
    DossierStatusChanged,
    DossierSupplementRequested,
    Event,
)
from services.contracts.payments import PaymentPaid
from services.notify.model.common import Channel, Purpose, RecipientRole, normalize_email, normalize_phone

STATUS_LABELS_VI: dict[str, str] = {
    "registered": "Đã đăng ký trực tuyến",
    "received": "Đã tiếp nhận",
    "not_received": "Không tiếp nhận",
    "processing": "Đang xử lý",
    "supplement_requested": "Yêu cầu bổ sung",
    "awaiting_payment": "Chờ thanh toán",
    "withdrawn": "Đã rút hồ sơ",
    "suspended": "Tạm dừng",
    "resolved": "Đã giải quyết",
    "returned": "Đã trả kết quả",
}

SHIPMENT_LABELS_VI: dict[str, str] = {
    "created": "Đã tạo yêu cầu gửi",
    "pickup_scheduled": "Đã hẹn lấy hồ sơ",
    "picked_up": "Bưu điện đã nhận hồ sơ",
    "handed_over": "Đã bàn giao cho cơ quan giải quyết",
    "in_transit": "Đang vận chuyển",
    "out_for_delivery": "Đang phát",
    "delivered": "Đã phát thành công",
    "delivery_failed": "Phát không thành công",
    "failed": "Phát không thành công",
    "returned": "Đã chuyển hoàn",
    "cancelled": "Đã huỷ",
}


class Audience(StrEnum):
    APPLICANT = "applicant"
    POSTAL_WORKERS = "postal_workers"
    OFFICERS = "officers"


class Contact(BaseModel):
    """A person to notify. Staff list their channels; an applicant gets every usable one."""

    name: str = ""
    email: str | None = None
    phone: str | None = None
    channels: list[Channel] | None = None

    @property
    def email_address(self) -> str | None:
        return normalize_email(self.email)

    @property
    def phone_number(self) -> str | None:
        return normalize_phone(self.phone)


class StaffContact(BaseModel):
    """An officer or postal worker of an office, configured by an administrator."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=20)
    channels: list[Channel] = Field(default_factory=lambda: [Channel.EMAIL])
    active: bool = True

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value and normalize_phone(value) is None:
            raise ValueError("not a Vietnamese mobile number")
        return value

    def as_contact(self) -> Contact:
        return Contact(name=self.name, email=self.email, phone=self.phone, channels=list(self.channels))


class Notice(BaseModel):
    """One message to send, before channels and consent are applied."""

    template_key: str
    purpose: Purpose
    essential: bool = False
    audience: Audience
    role: RecipientRole
    contact: Contact | None = None  # the applicant; staff come from the office's contacts
    office_id: str | None = None
    dossier_code: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


DOSSIER_EVENTS: dict[str, type[Event]] = {
    cls.subject: cls
    for cls in (
        DossierReceived,
        DossierStatusChanged,
        DossierSupplementRequested,
        DossierLateApology,
        DossierResultReady,
        DossierReturned,
        DossierBecameLate,
    )
}


class LooseEvent(Event):
    """Any event read generically: the envelope is checked, the payload kept as it came."""

    model_config = ConfigDict(extra="ignore")
    payload: dict[str, Any] = Field(default_factory=dict)


def _dossier_variables(ref: DossierRef) -> dict[str, Any]:
    variables = ref.model_dump()
    variables.pop("applicant", None)
    variables.update(
        applicant_name=ref.applicant.name,
        recipient_name=ref.applicant.name,
        status_label=STATUS_LABELS_VI.get(ref.status, ref.status),
    )
    return variables


def _applicant(ref_applicant: Any) -> Contact:
    return Contact(name=ref_applicant.name, email=ref_applicant.email, phone=ref_applicant.phone)


def _applicant_notice(ref: Any, key: str, *, essential: bool, variables: dict[str, Any]) -> Notice:
    return Notice(
        template_key=key,
        purpose=Purpose.DOSSIER,
        essential=essential,
        audience=Audience.APPLICANT,
        role=RecipientRole.APPLICANT,
        contact=_applicant(ref.applicant),
        office_id=ref.office_id,
        dossier_code=ref.dossier_code,
        variables=variables,
    )


def dossier_notices(event: Event, *, notify_statuses: frozenset[str] = frozenset()) -> list[Notice]:
    """The notices a dossier event causes (staff audiences are expanded by the service)."""
    if isinstance(event, DossierReceived):
        p = event.payload
        variables = p.model_dump()
        variables.pop("applicant", None)
        fees = [fee.model_dump() for fee in p.fees_due]
        variables.update(
            applicant_name=p.applicant.name,
            recipient_name=p.applicant.name,
            status="received",
            status_label=STATUS_LABELS_VI["received"],
            return_channel="counter",
            unit_code=event.unit_code,
            fees=fees,
            fees_total=sum(fee["amount"] for fee in fees),
        )
        return [_applicant_notice(p, "dossier_received", essential=True, variables=variables)]
    if isinstance(event, DossierSupplementRequested):
        variables = _dossier_variables(event.payload)
        variables["missing"] = [item.model_dump() for item in event.payload.missing]
        return [_applicant_notice(event.payload, "supplement_requested", essential=True, variables=variables)]
    if isinstance(event, DossierLateApology):
        variables = _dossier_variables(event.payload)
        return [_applicant_notice(event.payload, "late_apology", essential=True, variables=variables)]
    if isinstance(event, DossierResultReady):
        ready = event.payload
        notices = [_applicant_notice(ready, "result_ready", essential=False, variables=_dossier_variables(ready))]
        if ready.return_channel == "postal":
            staff_vars = {**_dossier_variables(ready), "applicant_phone": ready.applicant.phone or ""}
            staff_vars.pop("recipient_name", None)
            notices.append(
                Notice(
                    template_key="postal_result_ready",
                    purpose=Purpose.WORK,
                    audience=Audience.POSTAL_WORKERS,
                    role=RecipientRole.POSTAL_WORKER,
                    office_id=ready.office_id,
                    dossier_code=ready.dossier_code,
                    variables=staff_vars,
                )
            )
        return notices
    if isinstance(event, DossierReturned):
        return [
            _applicant_notice(event.payload, "returned", essential=False, variables=_dossier_variables(event.payload))
        ]
    if isinstance(event, DossierStatusChanged):
        change = event.payload
        if change.status not in notify_statuses:
            return []
        variables = _dossier_variables(change)
        variables["from_status_label"] = STATUS_LABELS_VI.get(change.from_status or "", change.from_status or "")
        return [_applicant_notice(change, "status_changed", essential=False, variables=variables)]
    return []


def payment_notices(event: PaymentPaid) -> list[Notice]:
    p = event.payload
    if p.payer is None:
        return []
    variables = p.model_dump(exclude={"payer"})
    variables.update(recipient_name=p.payer.name, payment_channel=p.channel or "")
    return [
        Notice(
            template_key="payment_receipt",
            purpose=Purpose.PAYMENT,
            audience=Audience.APPLICANT,
            role=RecipientRole.APPLICANT,
            contact=_applicant(p.payer),
            dossier_code=p.dossier_code,
            variables=variables,
        )
    ]


_CONTACT_KEYS = ("applicant", "recipient", "receiver", "addressee", "contact", "customer", "sender")
_TRACKING_KEYS = ("tracking_code", "tracking_number", "tracking_no", "waybill", "item_code", "order_code")


def _first(payload: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if payload.get(key):
            return payload[key]
    return None


def shipment_notices(event: LooseEvent) -> list[Notice]:
    """A shipment update for the applicant; any payload with a usable contact will do."""
    payload = event.payload
    contact: Contact | None = None
    for key in _CONTACT_KEYS:
        candidate = payload.get(key)
        if isinstance(candidate, dict):
            try:
                found = Contact(
                    name=str(candidate.get("name") or candidate.get("full_name") or ""),
                    email=candidate.get("email"),
                    phone=candidate.get("phone") or candidate.get("phone_number"),
                )
            except ValidationError:
                continue
            if found.email_address or found.phone_number:
                contact = found
                break
    if contact is None:
        return []
    status = str(payload.get("status") or event.type.rsplit(".", 1)[-1])
    scalars = {k: v for k, v in payload.items() if isinstance(v, str | int | float | bool) or v is None}
    variables = {
        "recipient_name": contact.name,
        "dossier_code": payload.get("dossier_code"),
        "shipment_status": status,
        "shipment_status_label": SHIPMENT_LABELS_VI.get(status, status.replace("_", " ")),
        "tracking_code": _first(payload, _TRACKING_KEYS),
        "event_at": payload.get("occurred_at") or payload.get("at") or event.occurred_at,
        "shipment": scalars,
    }
    return [
        Notice(
            template_key="shipment_update",
            purpose=Purpose.SHIPMENT,
            audience=Audience.APPLICANT,
            role=RecipientRole.APPLICANT,
            contact=contact,
            office_id=payload.get("office_id"),
            dossier_code=payload.get("dossier_code"),
            variables=variables,
        )
    ]


def routes(contact: Contact, role: RecipientRole, enabled: frozenset[Channel]) -> list[list[Channel]]:
    """The channel routes for one person: each route is sent once, falling back along it."""
    wanted = contact.channels if contact.channels is not None and role is not RecipientRole.APPLICANT else None
    found: list[list[Channel]] = []
    if contact.email_address and Channel.EMAIL in enabled and (wanted is None or Channel.EMAIL in wanted):
        found.append([Channel.EMAIL])
    if contact.phone_number:
        if wanted is None:
            phone_route = [Channel.ZALO, Channel.SMS]
        elif Channel.ZALO in wanted:
            phone_route = [Channel.ZALO, Channel.SMS] if Channel.SMS in wanted else [Channel.ZALO]
        else:
            phone_route = [Channel.SMS] if Channel.SMS in wanted else []
        phone_route = [channel for channel in phone_route if channel in enabled]
        if phone_route:
            found.append(phone_route)
    return found


def address_for(contact: Contact, channel: Channel) -> str | None:
    return contact.email_address if channel is Channel.EMAIL else contact.phone_number
