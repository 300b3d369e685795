"""The board's durable consumers (thin): `queue.>`, `dossier.result_ready`, `dossier.returned`.

Specs live in `services/contracts/queue.py`. With a consumer suffix (notify's
`bus_consumer_suffix`: staging, tests) each copy runs durables of its own that start at new
messages, as notify's other consumers do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsRouter, PullSub
from nats.js.api import DeliverPolicy

from services.contracts.queue import NOTIFY_BOARD_QUEUE, NOTIFY_BOARD_RESULT_READY, NOTIFY_BOARD_RETURNED
from services.contracts.streams import ConsumerSpec
from services.kit.bus import ConsumedMessage, consumer_options, durable_subscriber
from services.notify.board.service import BoardService


def _subscriber(router: NatsRouter, spec: ConsumerSpec, *, max_deliver: int, suffix: str) -> Any:
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


def build_board_router(
    service: Callable[[], Awaitable[BoardService]], *, max_deliver: int, consumer_suffix: str = ""
) -> NatsRouter:
    """Handlers resolve the service when a message arrives (it needs the started MongoDB client)."""
    router = NatsRouter()

    @_subscriber(router, NOTIFY_BOARD_QUEUE, max_deliver=max_deliver, suffix=consumer_suffix)
    async def queue_events(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await (await service()).handle(msg.raw_message.subject, body)

    @_subscriber(router, NOTIFY_BOARD_RESULT_READY, max_deliver=max_deliver, suffix=consumer_suffix)
    async def results_ready(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await (await service()).handle(msg.raw_message.subject, body)

    @_subscriber(router, NOTIFY_BOARD_RETURNED, max_deliver=max_deliver, suffix=consumer_suffix)
    async def results_returned(body: dict[str, Any], msg: ConsumedMessage) -> None:
        await (await service()).handle(msg.raw_message.subject, body)

    return router
