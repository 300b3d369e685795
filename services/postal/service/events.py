"""The events postal publishes, built from its aggregates (the bus API in contracts/postal.py)."""

from __future__ import annotations

from datetime import datetime

from services.contracts.events import ApplicantContact, Event
from services.contracts.postal import (
    SHIPMENT_EVENT_FOR,
    PostalAddress,
    PostalApplicant,
    PostalCharge,
    PostalComponent,
    PostalContact,
    PostalCounterReceptionConfirmed,
    PostalHandoverSigned,
    PostalReceptionPayload,
    ShipmentPayload,
    StaffRef,
)
from services.postal.model.common import Actor, Address, Applicant, Component, Contact
from services.postal.model.counter import CounterReception
from services.postal.model.delivery import Delivery
from services.postal.model.handover import HandoverRecord, HandoverSignature
from services.postal.model.pickup import PickupOrder
from services.postal.model.status import ShipmentStatus
from services.postal.model.tariff import Charge


def _charge(c: Charge) -> PostalCharge:
    return PostalCharge(kind=c.kind.value, name=c.name, amount=c.amount, payer=c.payer.value)


def _address(a: Address | None) -> PostalAddress | None:
    if a is None:
        return None
    return PostalAddress(**a.model_dump(), line=a.line())


def _contact(c: Contact | None) -> PostalContact | None:
    return PostalContact(**c.model_dump()) if c else None


def _applicant(a: Applicant) -> PostalApplicant:
    return PostalApplicant(**a.model_dump())


def _components(items: list[Component], provided: dict[str, bool] | None = None) -> list[PostalComponent]:
    return [
        PostalComponent(
            component_id=c.component_id,
            name=c.name,
            count=c.count,
            provided=(provided or {}).get(c.component_id, True),
        )
        for c in items
    ]


def _staff(actor: Actor | HandoverSignature, at: datetime | None = None) -> StaffRef:
    if isinstance(actor, HandoverSignature):
        return StaffRef(subject=actor.subject or "", name=actor.name, role=actor.role, at=actor.at)
    return StaffRef(subject=actor.subject, name=actor.name, role=actor.role, unit_code=actor.unit_code, at=at)


def handover_signed(pickup: PickupOrder, record: HandoverRecord) -> PostalHandoverSigned:
    assert record.signed_at and record.postal_signature and record.office_signature and pickup.dossier_id
    provided = {i.component_id: i.present for i in pickup.check.items} if pickup.check else None
    payload = PostalReceptionPayload(
        reception_id=pickup.id,
        dossier_id=pickup.dossier_id,
        office_id=pickup.office_id,
        procedure_code=pickup.procedure_code,
        procedure_name=pickup.procedure_name,
        channel="postal",
        return_channel="postal" if pickup.option.returns else "counter",
        received_at=record.signed_at,
        applicant=_applicant(pickup.applicant),
        components=_components(pickup.components, provided),
        form_data=pickup.form_data,
        dispatch_slip_number=pickup.tracking_number,
        handover_record_id=record.id,
        handover_record_number=record.number,
        postal_worker=_staff(record.postal_signature),
        office_officer=_staff(record.office_signature),
        charges_collected=[_charge(c) for c in pickup.slip.charges] if pickup.slip else [],
        return_address=_address(pickup.return_address),
        return_contact=_contact(pickup.return_contact),
    )
    return PostalHandoverSigned(unit_code=record.unit_code, unit_path=record.unit_path, payload=payload)


def counter_confirmed(reception: CounterReception) -> PostalCounterReceptionConfirmed:
    assert reception.supervision is not None
    payload = PostalReceptionPayload(
        reception_id=reception.id,
        dossier_id=reception.dossier_id,
        office_id=reception.office_id,
        procedure_code=reception.procedure_code,
        procedure_name=reception.procedure_name,
        channel="counter",
        return_channel=reception.return_channel,
        received_at=reception.received_at,
        applicant=_applicant(reception.applicant),
        components=_components(reception.components),
        form_data=reception.form_data,
        postal_worker=_staff(reception.received_by, reception.received_at),
        office_officer=_staff(reception.supervision.officer, reception.supervision.at),
        return_address=_address(reception.return_address),
        return_contact=_contact(reception.return_contact),
    )
    return PostalCounterReceptionConfirmed(
        unit_code=reception.unit_code, unit_path=reception.unit_path, payload=payload
    )


def pickup_shipment(
    pickup: PickupOrder, status: ShipmentStatus, previous: ShipmentStatus | None, *, reason: str | None = None
) -> Event:
    payload = ShipmentPayload(
        shipment_id=pickup.id,
        kind="pickup",
        status=status.value,
        previous_status=previous.value if previous else None,
        attempt=pickup.attempt,
        dossier_id=pickup.dossier_id,
        dossier_code=pickup.dossier_code,
        procedure_code=pickup.procedure_code,
        procedure_name=pickup.procedure_name,
        office_id=pickup.office_id,
        applicant=ApplicantContact(
            name=pickup.contact.name, phone=pickup.contact.phone, email=pickup.contact.email or pickup.applicant.email
        ),
        operator=pickup.operator,
        order_code=pickup.order_code,
        tracking_number=pickup.tracking_number,
        address=pickup.pickup_address.line() if pickup.pickup_address else None,
        reason=reason,
        at=pickup.status_at or pickup.updated_at,
    )
    cls = SHIPMENT_EVENT_FOR[status.value]
    return cls(unit_code=pickup.unit_code, unit_path=pickup.unit_path, payload=payload)


def delivery_shipment(
    delivery: Delivery,
    status: ShipmentStatus,
    previous: ShipmentStatus | None,
    *,
    reason_code: str | None = None,
    reason: str | None = None,
    fault: str | None = None,
    charge: Charge | None = None,
) -> Event:
    contact = delivery.contact
    payload = ShipmentPayload(
        shipment_id=delivery.id,
        kind="delivery",
        status=status.value,
        previous_status=previous.value if previous else None,
        attempt=delivery.attempt,
        max_attempts=delivery.max_attempts,
        dossier_id=delivery.dossier_id,
        dossier_code=delivery.dossier_code,
        procedure_code=delivery.procedure_code,
        procedure_name=delivery.procedure_name,
        office_id=delivery.office_id,
        applicant=ApplicantContact(
            name=contact.name if contact else delivery.recipient.name,
            phone=contact.phone if contact else delivery.recipient.phone,
            email=(contact.email if contact else None) or delivery.recipient.email,
        ),
        operator=delivery.operator,
        order_code=delivery.order_code,
        tracking_number=delivery.tracking_number,
        address=delivery.address.line() if delivery.address else None,
        reason_code=reason_code,
        reason=reason,
        fault=fault,
        charge=_charge(charge) if charge else None,
        at=delivery.status_at or delivery.updated_at,
    )
    cls = SHIPMENT_EVENT_FOR[status.value]
    return cls(unit_code=delivery.unit_code, unit_path=delivery.unit_path, payload=payload)


#: local statuses that are not announced on the bus
UNANNOUNCED: frozenset[ShipmentStatus] = frozenset({ShipmentStatus.AWAITING_ADDRESS, ShipmentStatus.PENDING_ORDER})
