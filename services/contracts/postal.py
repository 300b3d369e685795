"""Postal on the bus: the `postal.*` and `shipment.*` events and the consumers postal runs.

Postal (bưu chính công ích, Decision 45/2016/QĐ-TTg) publishes through its outbox on the
SHIPMENT stream, which it owns (`shipment.>` and `postal.>`).

## `postal.handover_signed` — a dossier collected by the post counts as submitted

Published once per dossier listed on a hand-over record (biên bản giao nhận) at the moment
the record carries **both** signatures (the postal worker's and the office officer's). From
that signature the dossier counts as submitted (DOMAIN §6): intake creates the reception
from the payload alone, without calling postal back:

- `dossier_id`: id chosen by postal (32 hex). **Intake must use it as the new dossier's
  id**: a redelivered event then finds that dossier and creates nothing twice, and postal's
  later `shipment.*` events and intake's `dossier.result_ready` name the same dossier;
- `reception_id`: postal's pickup order id (support and audit);
- `office_id`, `procedure_code`, `procedure_name`: where and what (intake's catalogue codes,
  as given by the citizen or the officer);
- `channel`: `postal` (ReceptionRequest.channel);
- `return_channel`: `postal` when the citizen also asked for the result at home, else `counter`;
- `received_at`: **the reception time** — the moment the hand-over record was fully signed;
- `applicant`: `kind`, `full_name`, `id_number`, `birth_date`, `phone`, `email`, `address`;
- `components`: the checklist the postal worker checked against the published list
  (`component_id`, `name`, `count`, `provided`);
- `form_data`: the form fields as filled (possibly with the postal worker's help);
- `dispatch_slip_number`: the jointly signed dispatch slip (phiếu gửi), the operator's item code;
- `handover_record_id`, `handover_record_number`: the record that made it submitted;
- `postal_worker`, `office_officer`: who signed on each side (subject, name, role, unit, time);
- `charges_collected`: what the postal worker collected (carriage, fees on the agency's behalf);
- `return_address`, `return_contact`: where the result goes when `return_channel` is `postal`.

Intake maps it onto `ReceptionRequest(channel="postal", decision="receive", applicant=…,
components=…, form_data=…, return_channel=…)` with `received_at` as the reception moment.

## `postal.counter_reception_confirmed` — a postal agent received at a commune counter

Same payload (`PostalReceptionPayload`) with `channel="counter"`: a postal agent sitting at
a one-stop counter received a dossier for a procedure the province approved for postal staff,
and the counter's one-stop officer confirmed it (supervision, seed 001). `received_at` is the
moment the postal agent received it; `postal_worker` is the agent, `office_officer` the
supervising officer; there is no dispatch slip or hand-over record.

## `shipment.*` — every status change of a pickup or a delivery

`shipment.created | picked_up | in_transit | out_for_delivery | failed | delivered |
handed_over | returning | returned | cancelled | lost`, payload `ShipmentPayload`: the
shipment, its `kind` (`pickup` of papers from the citizen, `delivery` of a result), `status`,
`attempt`, the dossier (`dossier_id`, `dossier_code` once known), `office_id`, the applicant's
contact (`applicant`: name, phone, e-mail — notify tells the applicant), the operator's
`tracking_number`, and on failures the reason, who is at fault and the re-delivery charge.
Statuses only ever move forward (postal ranks them; late or repeated operator webhooks are
ignored), so consumers can keep "the latest" by `occurred_at`.

## Consumers postal runs

- `postal-result-ready` on `dossier.result_ready`: for dossiers with `return_channel ==
  "postal"` postal creates a delivery order with the operator;
- `postal-dossier-received` on `dossier.received`: links the dossier code intake assigned to
  postal's pickup order or counter reception (matched on `dossier_id`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from services.contracts.events import ApplicantContact, Event
from services.contracts.streams import DOSSIER, ConsumerSpec


class PostalApplicant(BaseModel):
    """The applicant as intake's reception needs it (personal data: never logged unmasked)."""

    kind: str = Field("individual", description="individual | organisation")
    full_name: str
    id_number: str | None = Field(None, description="CCCD (12 digits) or old ID card (9 digits)")
    birth_date: date | None = None
    phone: str | None = None
    email: str | None = None
    address: str = Field("", description="One line: street, commune, [district,] province")


class PostalAddress(BaseModel):
    province_code: str | None = None
    province: str
    district: str | None = None
    commune_code: str | None = None
    commune: str
    street: str
    line: str = Field("", description="The whole address on one line")


class PostalContact(BaseModel):
    name: str
    phone: str
    email: str | None = None


class PostalComponent(BaseModel):
    component_id: str
    name: str = ""
    count: int = 1
    provided: bool = True


class PostalCharge(BaseModel):
    kind: str = Field(description="carriage | return_carriage | redelivery | fee | duty | compensation")
    name: str
    amount: int = Field(ge=0, description="VND")
    payer: str = Field("citizen", description="citizen | operator | agency")


class StaffRef(BaseModel):
    subject: str
    name: str = ""
    role: str = ""
    unit_code: str = ""
    at: datetime | None = Field(None, description="When this person signed / confirmed")


class PostalReceptionPayload(BaseModel):
    """Everything intake needs to create the reception (see the module docstring)."""

    reception_id: str
    dossier_id: str = Field(description="Use as the dossier's id (idempotent reception)")
    office_id: str
    procedure_code: str
    procedure_name: str = ""
    channel: str = Field("postal", description="postal (hand-over record) | counter (postal agent at a counter)")
    return_channel: str = Field("counter", description="counter | postal")
    received_at: datetime = Field(description="Reception moment: the hand-over record's signature")
    applicant: PostalApplicant
    components: list[PostalComponent] = Field(default_factory=list)
    form_data: dict[str, Any] = Field(default_factory=dict)
    dispatch_slip_number: str | None = None
    handover_record_id: str | None = None
    handover_record_number: str | None = None
    postal_worker: StaffRef
    office_officer: StaffRef | None = None
    charges_collected: list[PostalCharge] = Field(default_factory=list)
    return_address: PostalAddress | None = None
    return_contact: PostalContact | None = None


class PostalHandoverSigned(Event):
    """A dossier on a fully signed hand-over record counts as submitted (intake receives it)."""

    subject: ClassVar[str] = "postal.handover_signed"
    payload: PostalReceptionPayload


class PostalCounterReceptionConfirmed(Event):
    """A postal agent's reception at a commune counter was confirmed by the one-stop officer."""

    subject: ClassVar[str] = "postal.counter_reception_confirmed"
    payload: PostalReceptionPayload


class ShipmentPayload(BaseModel):
    shipment_id: str
    kind: str = Field(description="pickup (papers to the office) | delivery (result to the citizen)")
    status: str
    previous_status: str | None = None
    attempt: int = Field(0, description="Delivery attempt the status belongs to (0 before the first)")
    max_attempts: int | None = None
    dossier_id: str | None = None
    dossier_code: str | None = None
    procedure_code: str | None = None
    procedure_name: str | None = None
    office_id: str | None = None
    applicant: ApplicantContact | None = Field(None, description="Who notify tells about it")
    operator: str | None = None
    order_code: str | None = None
    tracking_number: str | None = None
    address: str | None = Field(None, description="Destination address on one line")
    reason_code: str | None = None
    reason: str | None = None
    fault: str | None = Field(None, description="citizen | operator, for a failed attempt or a loss")
    charge: PostalCharge | None = Field(None, description="Charge this status caused (re-delivery, compensation)")
    at: datetime = Field(description="When the status happened (operator time for webhooks)")


class ShipmentCreated(Event):
    """A pickup or delivery order was placed with the postal operator."""

    subject: ClassVar[str] = "shipment.created"
    payload: ShipmentPayload


class ShipmentPickedUp(Event):
    """The postal worker collected the papers (dispatch slip signed) or the result at the office."""

    subject: ClassVar[str] = "shipment.picked_up"
    payload: ShipmentPayload


class ShipmentInTransit(Event):
    subject: ClassVar[str] = "shipment.in_transit"
    payload: ShipmentPayload


class ShipmentOutForDelivery(Event):
    subject: ClassVar[str] = "shipment.out_for_delivery"
    payload: ShipmentPayload


class ShipmentFailed(Event):
    """A delivery attempt failed; the payload says who is at fault and what happens next."""

    subject: ClassVar[str] = "shipment.failed"
    payload: ShipmentPayload


class ShipmentDelivered(Event):
    """The result was delivered to the citizen."""

    subject: ClassVar[str] = "shipment.delivered"
    payload: ShipmentPayload


class ShipmentHandedOver(Event):
    """Collected papers were handed to the office under a signed hand-over record."""

    subject: ClassVar[str] = "shipment.handed_over"
    payload: ShipmentPayload


class ShipmentReturning(Event):
    subject: ClassVar[str] = "shipment.returning"
    payload: ShipmentPayload


class ShipmentReturned(Event):
    """After the last failed attempt the result was returned to the office."""

    subject: ClassVar[str] = "shipment.returned"
    payload: ShipmentPayload


class ShipmentCancelled(Event):
    subject: ClassVar[str] = "shipment.cancelled"
    payload: ShipmentPayload


class ShipmentLost(Event):
    """The operator lost the item; its liability (compensation) is recorded."""

    subject: ClassVar[str] = "shipment.lost"
    payload: ShipmentPayload


SHIPMENT_EVENTS: tuple[type[Event], ...] = (
    ShipmentCreated,
    ShipmentPickedUp,
    ShipmentInTransit,
    ShipmentOutForDelivery,
    ShipmentFailed,
    ShipmentDelivered,
    ShipmentHandedOver,
    ShipmentReturning,
    ShipmentReturned,
    ShipmentCancelled,
    ShipmentLost,
)

#: status → event class (`shipment.<status>`)
SHIPMENT_EVENT_FOR: dict[str, type[Event]] = {cls.subject.split(".", 1)[1]: cls for cls in SHIPMENT_EVENTS}

POSTAL_EVENTS: tuple[type[Event], ...] = (PostalHandoverSigned, PostalCounterReceptionConfirmed, *SHIPMENT_EVENTS)

POSTAL_RESULT_READY = ConsumerSpec(
    durable="postal-result-ready",
    stream=DOSSIER.name,
    subjects=("dossier.result_ready",),
    service="postal",
    description="postal creates a delivery order for results going back by post",
)

POSTAL_DOSSIER_RECEIVED = ConsumerSpec(
    durable="postal-dossier-received",
    stream=DOSSIER.name,
    subjects=("dossier.received",),
    service="postal",
    description="postal links intake's dossier code to its pickup orders and counter receptions",
)

POSTAL_DOSSIER_ANONYMISED = ConsumerSpec(
    durable="postal-dossier-anonymised",
    stream=DOSSIER.name,
    subjects=("dossier.anonymised",),
    service="postal",
    description="postal erases names, addresses and contacts from a dossier's pickups and deliveries "
    "after a deletion request",
)

POSTAL_CONSUMERS: tuple[ConsumerSpec, ...] = (POSTAL_RESULT_READY, POSTAL_DOSSIER_RECEIVED, POSTAL_DOSSIER_ANONYMISED)
