"""Intake's NATS subscribers: thin — hand the decoded message to the inbound handlers.

Durable names come from `services.contracts.intake_consumers`; `durable_suffix` (settings)
lets tests run several intake instances on one NATS server without sharing a consumer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from faststream.nats import NatsRouter

from services.contracts.events import DossierErased
from services.contracts.intake_consumers import (
    INTAKE_DOCUMENT_EVENTS,
    INTAKE_ERASURES,
    INTAKE_PAYMENT_EVENTS,
    INTAKE_POSTAL_RECEPTIONS,
    INTAKE_SHIPMENT_EVENTS,
)
from services.contracts.streams import ConsumerSpec
from services.intake.inbound import InboundEvents
from services.intake.postal_inbound import receive_from_postal
from services.intake.privacy.service import PrivacyService
from services.intake.service import IntakeService
from services.kit.bus import durable_subscriber


def _named(spec: ConsumerSpec, suffix: str) -> ConsumerSpec:
    return dataclasses.replace(spec, durable=spec.durable + suffix) if suffix else spec


def build_router(
    inbound: Callable[[], InboundEvents],
    *,
    max_deliver: int,
    durable_suffix: str = "",
    intake: Callable[[], IntakeService] | None = None,
    privacy: Callable[[], PrivacyService] | None = None,
) -> NatsRouter:
    """Subscribers resolve the handlers when a message arrives (they are built in the lifespan)."""
    router = NatsRouter()
    payments = _named(INTAKE_PAYMENT_EVENTS, durable_suffix)
    documents = _named(INTAKE_DOCUMENT_EVENTS, durable_suffix)
    shipments = _named(INTAKE_SHIPMENT_EVENTS, durable_suffix)

    @durable_subscriber(router, payments, max_deliver=max_deliver, new_only=bool(durable_suffix))
    async def payment_events(body: dict[str, Any]) -> None:
        await inbound().on_payment_event(payments.durable, body)

    @durable_subscriber(router, documents, max_deliver=max_deliver, new_only=bool(durable_suffix))
    async def document_events(body: dict[str, Any]) -> None:
        await inbound().on_document_event(documents.durable, body)

    @durable_subscriber(router, shipments, max_deliver=max_deliver, new_only=bool(durable_suffix))
    async def shipment_events(body: dict[str, Any]) -> None:
        await inbound().on_shipment_event(shipments.durable, body)

    if intake is not None:
        postal = _named(INTAKE_POSTAL_RECEPTIONS, durable_suffix)
        service = intake

        @durable_subscriber(router, postal, max_deliver=max_deliver, new_only=bool(durable_suffix))
        async def postal_receptions(body: dict[str, Any]) -> None:
            await receive_from_postal(service(), body)

    if privacy is not None:
        erasures, privacy_service = _named(INTAKE_ERASURES, durable_suffix), privacy

        @durable_subscriber(router, erasures, max_deliver=max_deliver, new_only=bool(durable_suffix))
        async def erasure_confirmations(event: DossierErased) -> None:
            await privacy_service().on_erased(event)

    return router
