"""The durable consumers intake runs on other services' streams (the bus API, read side).

Intake keeps, on each dossier, what the other services report: its payment status (and lets a
dossier awaiting payment proceed once `payment.paid` arrives — at once for a No-appointment
dossier), the digitisation of its components and result (`document.component_digitised`,
`document.result_digitised`, national indicators), and its latest postal shipment status
(`shipment.*`, read generically: the postal payloads are not fixed yet), and the other
services' confirmations that they erased an anonymised dossier's data. Every consumer is
idempotent: the `event_id` is marked processed in the same transaction as the dossier update.
"""

from __future__ import annotations

from services.contracts.streams import DOCUMENT, ERASURE, PAYMENT, SHIPMENT, ConsumerSpec

INTAKE_PAYMENT_EVENTS = ConsumerSpec(
    durable="intake-payment-events",
    stream=PAYMENT.name,
    subjects=("payment.>",),
    service="intake",
    description="intake records each dossier's payment status; paid dossiers awaiting payment proceed",
    workers=4,
)

INTAKE_DOCUMENT_EVENTS = ConsumerSpec(
    durable="intake-document-events",
    stream=DOCUMENT.name,
    subjects=("document.>",),
    service="intake",
    description="intake marks dossier components and results digitised (and reused)",
)

INTAKE_POSTAL_RECEPTIONS = ConsumerSpec(
    durable="intake-postal-receptions",
    stream=SHIPMENT.name,
    subjects=("postal.>",),
    service="intake",
    description="dossiers submitted through the post (hand-over record signed) or by a postal agent at a counter",
)

INTAKE_SHIPMENT_EVENTS = ConsumerSpec(
    durable="intake-shipment-events",
    stream=SHIPMENT.name,
    subjects=("shipment.>",),
    service="intake",
    description="intake keeps the latest postal shipment status of each dossier",
)

INTAKE_ERASURES = ConsumerSpec(
    durable="intake-erasures",
    stream=ERASURE.name,
    subjects=("privacy.erased.>",),
    service="intake",
    description="intake shows, with each deletion request's decision, which services confirmed the erasure",
)

INTAKE_CONSUMERS: tuple[ConsumerSpec, ...] = (
    INTAKE_PAYMENT_EVENTS,
    INTAKE_DOCUMENT_EVENTS,
    INTAKE_POSTAL_RECEPTIONS,
    INTAKE_SHIPMENT_EVENTS,
    INTAKE_ERASURES,
)
