"""Notify on the bus: the durable consumers the notify service runs.

Notify consumes every other service's events — one durable per subject family, so a slow
family (a provider outage while sending payment receipts) never holds back another:

- `dossier.>` (intake): the applicant's notices (received, supplement requested, late apology,
  result ready, returned, selected status changes), the postal worker's "processing ended"
  notice for postal-return dossiers, and notify's own small projection of open dossiers
  (due_at / remind_at) that drives the officers' reminders; on `dossier.anonymised` it erases
  the applicant's addresses and the messages' text from the dossier's delivery records;
- `payment.>` (payments): the receipt notice on `payment.paid`;
- `shipment.>` (postal): shipment status updates to the applicant, read generically (only the
  envelope and an applicant contact are required; unknown fields are ignored).

Notify publishes nothing yet on NOTIFICATION (`notify.delivered` is reserved in events.py).
The old `notify-dossier-received` durable (streams.NOTIFY_DOSSIER_RECEIVED) is superseded by
`notify-dossier`; deliveries are idempotent per event × channel × recipient, so replaying the
DOSSIER stream into the new durable sends nothing twice.
"""

from __future__ import annotations

from services.contracts.streams import DOSSIER, PAYMENT, SHIPMENT, ConsumerSpec

NOTIFY_DOSSIER_EVENTS = ConsumerSpec(
    durable="notify-dossier",
    stream=DOSSIER.name,
    subjects=("dossier.>",),
    service="notify",
    description="notify tells applicants and postal workers about dossier steps and tracks due dates for reminders",
    workers=8,
)

NOTIFY_PAYMENT_EVENTS = ConsumerSpec(
    durable="notify-payment",
    stream=PAYMENT.name,
    subjects=("payment.>",),
    service="notify",
    description="notify sends the payer the receipt (biên lai) when fees are paid",
    workers=4,
)

NOTIFY_SHIPMENT_EVENTS = ConsumerSpec(
    durable="notify-shipment",
    stream=SHIPMENT.name,
    subjects=("shipment.>",),
    service="notify",
    description="notify tells the applicant about postal pickups and deliveries of their dossier",
)

NOTIFY_CONSUMERS: tuple[ConsumerSpec, ...] = (NOTIFY_DOSSIER_EVENTS, NOTIFY_PAYMENT_EVENTS, NOTIFY_SHIPMENT_EVENTS)
