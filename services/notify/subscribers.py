"""Notify's NATS subscribers: thin — decode, call the service, let the broker ack.

One durable per subject family (services/contracts/notify.py). A handler raises only when a
delivery record could not be written (MongoDB down, malformed event): the message is then
redelivered with back-off and dead-lettered after `max_deliver`. Provider failures never
reach the bus: they are recorded on the delivery and retried by the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsRouter, PullSub
from nats.js.api import DeliverPolicy

from services.contracts.notify import NOTIFY_DOSSIER_EVENTS, NOTIFY_PAYMENT_EVENTS, NOTIFY_SHIPMENT_EVENTS
from services.contracts.streams import ConsumerSpec
from services.kit.bus import ConsumedMessage, consumer_options, durable_subscriber
from services.kit.telemetry import current_trace_id
from services.notify.service import NotifyService


def _subscriber(router: NatsRouter, spec: ConsumerSpec, *, max_deliver: int, suffix: str) -> Any:
    """The shared durable, or — with a suffix — a durable of this copy's own that starts at new messages."""
    if not suffix:
        return durable_subscriber(router, spec, max_deliver=max_deliver)
    return router.subscriber(
        spec.subjects[0],
        stream=JStream(spec.stream, declare=False),
        durable=f"{spec.durable}-{suffix}",
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        config=ConsumerConfig(max_deliver=max_deliver + 2, ack_wait=spec.ack_wait_s, deliver_policy=DeliverPolicy.NEW),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description=spec.description,
        **consumer_options(spec),
    )


def build_router(service: Callable[[], NotifyService], *, max_deliver: int, consumer_suffix: str = "") -> NatsRouter:
    """Subscribers resolve the service when a message arrives (it is built in the lifespan)."""
    router = NatsRouter()

    @_subscriber(router, NOTIFY_DOSSIER_EVENTS, max_deliver=max_deliver, suffix=consumer_suffix)
    async def dossier_events(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await service().handle(msg.raw_message.subject, body, current_trace_id())

    @_subscriber(router, NOTIFY_PAYMENT_EVENTS, max_deliver=max_deliver, suffix=consumer_suffix)
    async def payment_events(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await service().handle(msg.raw_message.subject, body, current_trace_id())

    @_subscriber(router, NOTIFY_SHIPMENT_EVENTS, max_deliver=max_deliver, suffix=consumer_suffix)
    async def shipment_events(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await service().handle(msg.raw_message.subject, body, current_trace_id())

    return router
