"""Postal's NATS subscribers: thin — decode, call the service, let the broker ack."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from faststream.nats import NatsRouter

from services.contracts.events import DossierAnonymised, DossierReceived, DossierResultReady
from services.contracts.postal import POSTAL_DOSSIER_ANONYMISED, POSTAL_DOSSIER_RECEIVED, POSTAL_RESULT_READY
from services.contracts.streams import ConsumerSpec
from services.kit.bus import durable_subscriber
from services.postal.service import PostalService


def _named(spec: ConsumerSpec, suffix: str) -> ConsumerSpec:
    return dataclasses.replace(spec, durable=spec.durable + suffix) if suffix else spec


def build_router(service: Callable[[], PostalService], *, max_deliver: int, durable_suffix: str = "") -> NatsRouter:
    """Subscribers resolve the service when a message arrives (it is built in the lifespan).

    `durable_suffix` lets tests run several postal instances on one NATS server."""
    router = NatsRouter()

    @durable_subscriber(router, _named(POSTAL_RESULT_READY, durable_suffix), max_deliver=max_deliver)
    async def result_ready(event: DossierResultReady) -> None:
        await service().on_result_ready(event)

    @durable_subscriber(router, _named(POSTAL_DOSSIER_RECEIVED, durable_suffix), max_deliver=max_deliver)
    async def dossier_received(event: DossierReceived) -> None:
        await service().on_dossier_received(event)

    @durable_subscriber(router, _named(POSTAL_DOSSIER_ANONYMISED, durable_suffix), max_deliver=max_deliver)
    async def dossier_anonymised(event: DossierAnonymised) -> None:
        await service().on_dossier_anonymised(event)

    return router
