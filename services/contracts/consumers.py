"""Every durable consumer of the bus, gathered from each service's contracts module."""

from __future__ import annotations

from services.contracts.intake_consumers import INTAKE_CONSUMERS
from services.contracts.notify import NOTIFY_CONSUMERS
from services.contracts.payments import PAYMENTS_CONSUMERS
from services.contracts.postal import POSTAL_CONSUMERS
from services.contracts.queue import QUEUE_CONSUMERS
from services.contracts.scan import SCAN_DOSSIER_RECEIVED
from services.contracts.streams import ConsumerSpec

ALL_CONSUMERS: tuple[ConsumerSpec, ...] = (
    *INTAKE_CONSUMERS,
    *NOTIFY_CONSUMERS,
    SCAN_DOSSIER_RECEIVED,
    *PAYMENTS_CONSUMERS,
    *POSTAL_CONSUMERS,
    *QUEUE_CONSUMERS,
)
