"""NATS JetStream plumbing: the FastStream broker, streams, consumers, dead letters.

Consumers ack explicitly (`AckPolicy.NACK_ON_ERROR`; FastStream's default would drop a
failing message), are redelivered with back-off, and after `max_deliver` attempts the
message is copied to the dead-letter stream together with the error — never dropped
silently. `motcua deadletters` lists and replays them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from faststream import AckPolicy
from faststream._internal.context import Context as ContextField  # the class behind faststream.Context()
from faststream.middlewares import BaseMiddleware
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.message import NatsMessage
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry.trace import TracerProvider

from services.contracts.events import DossierErased
from services.contracts.streams import ALL_STREAMS, DEAD_LETTER, ConsumerSpec, StreamSpec
from services.kit.outbox import Publisher

log = logging.getLogger("motcua.bus")

DEFAULT_BACKOFF_S: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0, 30.0)


class _ThreadlessContext(ContextField):
    """FastStream's `Context`, resolved on the event loop. fast_depends runs a custom field's
    synchronous `use` in a worker thread, and `Context.use` is synchronous: a thread hop for
    every message that asks for it (about 8 % of notify's CPU)."""

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return super().use(**kwargs)


# A handler's parameter for the consumed message (its subject, headers, metadata), as
# `faststream.nats.annotations.NatsMessage` but without the worker thread.
ConsumedMessage = Annotated[NatsMessage, _ThreadlessContext("message")]


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=spec.duplicate_window_s,
        max_age=spec.max_age_days * 86400,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create or update every stream of the bus API (idempotent, any start order)."""
    for spec in ALL_STREAMS:
        config = stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config=config)
        else:
            await js.update_stream(config=config)


def dead_letter_subject(durable: str, subject: str) -> str:
    return f"deadletter.{durable}.{subject}"


class DeadLetterMiddleware(BaseMiddleware):
    """Redeliver failures with back-off; after the last attempt, dead-letter with the error."""

    max_deliver = 6
    backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S

    async def consume_scope(self, call_next: Callable[..., Any], msg: Any) -> Any:
        try:
            return await call_next(msg)
        except Exception as exc:
            raw = msg.raw_message
            metadata = getattr(raw, "metadata", None)
            if metadata is None:  # core NATS message: nothing to redeliver
                raise
            delivered = metadata.num_delivered or 1
            consumer = metadata.consumer or "unknown"
            if delivered >= self.max_deliver:
                await self._dead_letter(raw, consumer, exc, delivered)
                await msg.ack()
                log.error("dead-lettered %s from %s after %d attempts: %s", raw.subject, consumer, delivered, exc)
                return None
            delay = self.backoff_s[min(delivered - 1, len(self.backoff_s) - 1)]
            log.warning(
                "handler failed (%s attempt %d/%d), retry in %.1fs: %s: %s",
                raw.subject,
                delivered,
                self.max_deliver,
                delay,
                type(exc).__name__,
                exc,
            )
            await msg.nack(delay=delay)
            return None

    async def _dead_letter(self, raw: Any, consumer: str, exc: Exception, delivered: int) -> None:
        headers = dict(raw.headers or {})
        headers.pop("Nats-Msg-Id", None)
        headers.update(
            {
                "Motcua-Dlq-Consumer": consumer,
                "Motcua-Dlq-Subject": raw.subject,
                "Motcua-Dlq-Error": f"{type(exc).__name__}: {exc}"[:1000],
                "Motcua-Dlq-Attempts": str(delivered),
                "Motcua-Dlq-At": datetime.now(UTC).isoformat(),
                "Motcua-Dlq-Stream-Seq": str(raw.metadata.sequence.stream),
            }
        )
        js = raw._client.jetstream()
        await js.publish(dead_letter_subject(consumer, raw.subject), raw.data, headers=headers, stream=DEAD_LETTER.name)


def inbox_prefix(service: str) -> str:
    """Each service's own reply subjects (`_INBOX_<service>.…`), so NATS permissions can let a
    service read only its own replies and pulled messages (launcher/nats_accounts.py)."""
    return f"_INBOX_{service}"


def make_broker(
    nats_url: str | list[str],
    *,
    service: str,
    tracer_provider: TracerProvider | None = None,
    max_deliver: int = 6,
    backoff_s: tuple[float, ...] = DEFAULT_BACKOFF_S,
) -> NatsBroker:
    """The service's broker, with tracing and dead-lettering on every subscriber."""
    dead_letters = type(
        "ServiceDeadLetterMiddleware",
        (DeadLetterMiddleware,),
        {"max_deliver": max_deliver, "backoff_s": backoff_s},
    )
    servers = nats_url.split(",") if isinstance(nats_url, str) else nats_url
    return NatsBroker(
        servers,
        name=f"motcua-{service}",
        inbox_prefix=inbox_prefix(service),
        middlewares=[NatsTelemetryMiddleware(tracer_provider=tracer_provider), dead_letters],  # type: ignore[list-item]
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=3,
        graceful_timeout=5.0,
        logger=logging.getLogger(f"motcua.{service}.bus"),
    )


def durable_subscriber(
    router: NatsRouter | NatsBroker,
    spec: ConsumerSpec,
    *,
    subject: str | None = None,
    description: str | None = None,
    max_deliver: int = 6,
    new_only: bool = False,
) -> Any:
    """A durable pull consumer with explicit acks and bounded redelivery.

    The broker's DeadLetterMiddleware dead-letters at `max_deliver` (configured per service);
    the server-side limit sits a little higher so JetStream itself never drops a message.
    `new_only` starts a new durable at new messages (a test instance beside a running stack).
    `spec.workers` above 1 handles that many messages at once (FastStream's `max_workers`).
    """
    return router.subscriber(
        subject or spec.subjects[0],
        stream=JStream(spec.stream, declare=False),
        durable=spec.durable,
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        config=ConsumerConfig(
            max_deliver=max_deliver + 2,
            ack_wait=spec.ack_wait_s,
            deliver_policy=DeliverPolicy.NEW if new_only else DeliverPolicy.ALL,
        ),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        description=description or spec.description,
        **consumer_options(spec),
    )


def consumer_options(spec: ConsumerSpec) -> dict[str, Any]:
    """Subscriber options every durable of a spec shares: the consuming service's inbox for
    pulled messages, and several messages at once where the spec allows it."""
    options: dict[str, Any] = {"inbox_prefix": f"{inbox_prefix(spec.service)}.".encode()}
    if spec.workers > 1:
        options["max_workers"] = spec.workers
    return options


class BrokerPublisher(Publisher):
    """Relay adapter: publish through the broker so the telemetry middleware adds trace headers."""

    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker

    async def publish(self, subject: str, body: dict[str, Any], headers: dict[str, str], stream: str) -> None:
        await self.broker.publish(
            json.dumps(body, ensure_ascii=False).encode(),
            subject,
            headers={**headers, "content-type": "application/json"},
            stream=stream,
            timeout=5.0,
        )


def document_publishers(broker: NatsBroker, events: list[type[Any]]) -> None:
    """Declare the events a service publishes (through its outbox) so AsyncAPI lists them."""
    for event in events:
        _document(broker, event.subject, event)


def document_erasure_confirmations(broker: NatsBroker, service: str) -> None:
    """Declare the service's `privacy.erased.<service>` confirmations so AsyncAPI lists them."""
    _document(broker, f"{DossierErased.subject}.{service}", DossierErased)


def _document(broker: NatsBroker, subject: str, event: type[Any]) -> None:
    broker.publisher(
        subject,
        schema=event,
        title=f"{subject}:{event.__name__}",
        description=(event.__doc__ or "").strip().splitlines()[0] if event.__doc__ else None,
    )


def commune_stream_name(stream: str, domain: str) -> str:
    """The province-side copy of a commune's stream, e.g. DOSSIER_FROM_COMMUNE_30307."""
    return f"{stream}_FROM_{domain.upper().replace('-', '_').replace('.', '_')}"


async def ensure_commune_sources(js: JetStreamContext, domains: list[str], streams: tuple[str, ...] = ("DOSSIER",)
                                 ) -> list[str]:
    """At the province: source each commune leaf's streams across JetStream domains.

    A commune office's leaf node keeps its own streams while the WAN link is down; when the
    link returns JetStream copies what it missed, in order and without repeats (the source
    tracks its position), into these province streams.
    """
    from nats.js.api import ExternalStream, StreamSource

    names = []
    for domain in domains:
        for stream in streams:
            name = commune_stream_name(stream, domain)
            config = StreamConfig(
                name=name,
                description=f"{stream} of the commune office in JetStream domain {domain}",
                sources=[StreamSource(name=stream, external=ExternalStream(api=f"$JS.{domain}.API"))],
                storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS,
                max_age=30 * 86400,
            )
            try:
                await js.stream_info(name)
            except NotFoundError:
                await js.add_stream(config=config)
            names.append(name)
    return names
