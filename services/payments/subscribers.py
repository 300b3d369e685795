"""Payments' NATS subscribers: thin — decode, call the service, let the broker ack."""

from __future__ import annotations

from collections.abc import Callable

from faststream.nats import NatsRouter

from services.contracts.events import DossierAnonymised, DossierReceived
from services.contracts.payments import PAYMENTS_DOSSIER_ANONYMISED, PAYMENTS_DOSSIER_RECEIVED
from services.kit.bus import durable_subscriber
from services.payments.service import PaymentsService


def build_router(service: Callable[[], PaymentsService], *, max_deliver: int) -> NatsRouter:
    """Subscribers resolve the service when a message arrives (it is built in the lifespan)."""
    router = NatsRouter()

    @durable_subscriber(router, PAYMENTS_DOSSIER_RECEIVED, max_deliver=max_deliver)
    async def dossier_received(event: DossierReceived) -> None:
        await service().on_dossier_received(event)

    @durable_subscriber(router, PAYMENTS_DOSSIER_ANONYMISED, max_deliver=max_deliver)
    async def dossier_anonymised(event: DossierAnonymised) -> None:
        await service().on_dossier_anonymised(event)

    return router
