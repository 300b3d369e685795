"""Outbox relay, idempotent consumers and dead letters against real MongoDB and NATS."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import fast_depends.utils
import pytest
from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.annotations import NatsMessage
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.contracts.streams import DEAD_LETTER, DOSSIER, ConsumerSpec
from services.kit.bus import BrokerPublisher, ConsumedMessage, durable_subscriber, make_broker
from services.kit.idempotency import mark_processed
from services.kit.mongo import Document, in_transaction
from services.kit.outbox import (
    OUTBOX_COLLECTION,
    OutboxRelay,
    Publisher,
    add_to_outbox,
    ensure_outbox_indexes,
    outbox_entry,
)
from services.launcher.deadletters import list_dead_letters, replay_dead_letters
from services.launcher.servers import Endpoints


@pytest.fixture
async def db(db: AsyncDatabase[Document]) -> AsyncDatabase[Document]:
    """The fresh database, with the outbox's indexes as every service creates them at start (the
    query audit flags the relay's reads otherwise, when this module runs on its own)."""
    await ensure_outbox_indexes(db)
    return db


def _event(code: str) -> DossierReceived:
    return DossierReceived(
        unit_code="91",
        payload=DossierReceivedPayload(
            dossier_id=code,
            dossier_code=code,
            procedure_code="1.001193",
            procedure_name="Đăng ký khai sinh",
            office_id="o1",
            channel="counter",
            applicant=ApplicantContact(name="Trần Thị B"),
            received_at=datetime.now(UTC),
        ),
    )


async def _count_in_stream(nc: NatsClient, event_id: str, subject: str = "dossier.received") -> int:
    """How many copies of one event the stream holds (an ephemeral consumer reads them all)."""
    js = nc.jetstream()
    sub = await js.subscribe(subject, stream=DOSSIER.name, ordered_consumer=True)
    seen = 0
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            if json.loads(msg.data)["event_id"] == event_id:
                seen += 1
    finally:
        await sub.unsubscribe()
    return seen


class CrashAfterPublish(Publisher):
    """Publishes, then 'crashes' before the relay can mark the entry published."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner
        self.calls = 0

    async def publish(self, subject: str, body: dict[str, Any], headers: dict[str, str], stream: str) -> None:
        self.calls += 1
        await self.inner.publish(subject, body, headers, stream)
        raise ConnectionError("process killed between publish and mark")


async def test_relay_publishes_committed_events_once_even_after_a_crash(
    servers: Endpoints, db: AsyncDatabase[Document], mongo_client: Any, nc: NatsClient
) -> None:
    broker = make_broker(servers.nats_url, service="test-relay")
    await broker.connect()
    event = _event(f"X-{uuid.uuid4().hex[:8]}")

    async def commit(session: Any) -> None:
        await db.dossiers.insert_one({"_id": event.payload.dossier_id}, session=session)
        await add_to_outbox(db, [event], session=session)

    await in_transaction(mongo_client, commit)  # committed, relay not running: nothing published yet
    assert await _count_in_stream(nc, event.event_id) == 0

    crashing = CrashAfterPublish(BrokerPublisher(broker))
    relay = OutboxRelay(db, crashing)
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    entry = await db[OUTBOX_COLLECTION].find_one({"_id": event.event_id})
    assert entry is not None and entry["published_at"] is None  # still pending after the crash

    restarted = OutboxRelay(db, BrokerPublisher(broker))
    assert await restarted.publish_pending() == 1
    # published, so deleted: the stream keeps the event, the outbox no copy of it
    assert await db[OUTBOX_COLLECTION].find_one({"_id": event.event_id}) is None
    # Published twice by the relay, stored once: Nats-Msg-Id = event_id is deduplicated.
    assert await _count_in_stream(nc, event.event_id) == 1
    await broker.stop()


async def test_entries_an_older_version_marked_published_are_cleared_when_the_relay_is_idle(
    servers: Endpoints, db: AsyncDatabase[Document], nc: NatsClient
) -> None:
    broker = make_broker(servers.nats_url, service="test-relay-leftovers")
    await broker.connect()
    marked = [{**outbox_entry(_event(f"L-{i}-{uuid.uuid4().hex[:6]}")), "published_at": datetime.now(UTC)}
              for i in range(5)]
    await db[OUTBOX_COLLECTION].insert_many(marked)
    pending = _event(f"P-{uuid.uuid4().hex[:8]}")
    await add_to_outbox(db, [pending], session=None)
    relay = OutboxRelay(db, BrokerPublisher(broker), batch=2)
    assert await relay.publish_pending() == 1  # the pending one first; leftovers only when idle
    assert await db[OUTBOX_COLLECTION].count_documents({}) == 5
    while await relay.publish_pending() == 0 and await db[OUTBOX_COLLECTION].count_documents({}):
        pass  # two leftovers per idle pass, then one more pass finds fewer than a batch
    assert await db[OUTBOX_COLLECTION].count_documents({}) == 0
    assert relay.published == 1
    assert await _count_in_stream(nc, pending.event_id) == 1
    assert [await _count_in_stream(nc, e["_id"]) for e in marked] == [0] * 5  # not published again
    await broker.stop()


async def test_relay_task_publishes_soon_after_wake(
    servers: Endpoints, db: AsyncDatabase[Document], nc: NatsClient
) -> None:
    broker = make_broker(servers.nats_url, service="test-relay-task")
    await broker.connect()
    relay = OutboxRelay(db, BrokerPublisher(broker), poll_s=5.0)
    relay.start()
    event = _event(f"Y-{uuid.uuid4().hex[:8]}")
    await add_to_outbox(db, [event], session=None)
    relay.wake()
    for _ in range(50):
        if await db[OUTBOX_COLLECTION].count_documents({"published_at": None}) == 0:
            break
        await asyncio.sleep(0.05)
    await relay.stop()
    assert relay.published == 1
    assert await _count_in_stream(nc, event.event_id) == 1
    await broker.stop()


async def test_an_idle_relay_polls_less_and_less_yet_still_finds_what_no_wake_up_announced(
    servers: Endpoints, db: AsyncDatabase[Document], nc: NatsClient
) -> None:
    broker = make_broker(servers.nats_url, service="test-relay-idle")
    await broker.connect()
    relay = OutboxRelay(db, BrokerPublisher(broker), poll_s=0.05, idle_poll_max_s=0.8)
    relay.start()
    await asyncio.sleep(2.0)
    idle_passes = relay.passes
    # at a fixed 0.05 s it would be about 40; doubling up to 0.8 s: 0.1+0.2+0.4+0.8 → about 5
    assert 2 <= idle_passes <= 12, idle_passes
    event = _event(f"Q-{uuid.uuid4().hex[:8]}")
    await add_to_outbox(db, [event], session=None)  # no wake-up: only the slow poll can find it
    for _ in range(100):
        if relay.published == 1:
            break
        await asyncio.sleep(0.05)
    assert relay.published == 1
    # a wake-up brings the quick polling back: passes at once, after 0.1 s and 0.3 s (the idle
    # wait it replaced would have been 0.8 s: one pass in that time)
    await asyncio.sleep(1.0)
    before = relay.passes
    relay.wake()
    await asyncio.sleep(0.5)
    assert relay.passes - before >= 2, relay.passes - before
    await relay.stop()
    assert await _count_in_stream(nc, event.event_id) == 1
    await broker.stop()


async def _run_consumer(servers: Endpoints, spec: ConsumerSpec, handler: Any, *, max_deliver: int = 3) -> NatsBroker:
    broker = make_broker(servers.nats_url, service=spec.service, max_deliver=max_deliver, backoff_s=(0.05,))
    router = NatsRouter()
    durable_subscriber(router, spec, max_deliver=max_deliver)(handler)
    broker.include_router(router)
    await broker.start()
    return broker


async def test_failing_consumer_dead_letters_with_error_and_replay_is_idempotent(
    servers: Endpoints, db: AsyncDatabase[Document], nc: NatsClient
) -> None:
    suffix = uuid.uuid4().hex[:6]
    subject = f"dossier.test{suffix}"
    spec = ConsumerSpec(f"test-dlq-{suffix}", DOSSIER.name, (subject,), "tests")
    attempts: list[str] = []
    handled: list[str] = []
    fixed = asyncio.Event()

    async def handler(event: DossierReceived) -> None:
        attempts.append(event.event_id)
        if not fixed.is_set():
            raise ValueError("template 'received' is missing")
        if await mark_processed(db, spec.durable, event.event_id):
            handled.append(event.event_id)

    broker = await _run_consumer(servers, spec, handler)
    event = _event(f"Z-{suffix}")
    await nc.jetstream().publish(subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id})

    letters: list[Any] = []
    for _ in range(100):
        letters = [d for d in await list_dead_letters(servers.nats_url) if d.consumer == spec.durable]
        if letters:
            break
        await asyncio.sleep(0.1)
    assert len(letters) == 1, "the message must land in the dead-letter stream"
    assert attempts == [event.event_id] * 3
    assert "template 'received' is missing" in letters[0].error and letters[0].subject == subject

    fixed.set()
    assert await replay_dead_letters(servers.nats_url, [letters[0].seq]) == 1
    # replaying the same dead letter again finds nothing; publishing the same event again is deduped
    assert await replay_dead_letters(servers.nats_url, [letters[0].seq]) == 0
    await nc.jetstream().publish(subject, event.model_dump_json().encode())
    for _ in range(100):
        if handled and len(attempts) >= 5:
            break
        await asyncio.sleep(0.05)
    await broker.stop()
    assert handled == [event.event_id]
    remaining = [d for d in await list_dead_letters(servers.nats_url) if d.consumer == spec.durable]
    assert remaining == []
    info = await nc.jetstream().stream_info(DEAD_LETTER.name)
    assert info.config.name == "DEADLETTER"


async def test_a_handler_reads_its_message_without_a_worker_thread(
    servers: Endpoints, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ConsumedMessage` gives the handler the message on the event loop; FastStream's own
    `NatsMessage` resolves it in a worker thread, once per message."""
    hops: list[str] = []
    threaded = fast_depends.utils.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await threaded(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)
    suffix = uuid.uuid4().hex[:6]
    seen: dict[str, list[str]] = {"own": [], "faststream": []}

    async def own(body: dict[str, Any], msg: ConsumedMessage) -> None:
        seen["own"].append(msg.raw_message.subject)

    async def faststreams(body: dict[str, Any], msg: NatsMessage) -> None:
        seen["faststream"].append(msg.raw_message.subject)

    counts = {}
    for name, handler in (("own", own), ("faststream", faststreams)):
        subject = f"dossier.ctx{name}{suffix}"
        spec = ConsumerSpec(f"test-ctx-{name}-{suffix}", DOSSIER.name, (subject,), "tests")
        broker = await _run_consumer(servers, spec, handler)
        before = len(hops)
        for _ in range(3):
            event = _event(f"C-{uuid.uuid4().hex[:6]}")
            await nc.jetstream().publish(subject, event.model_dump_json().encode())
        for _ in range(100):
            if len(seen[name]) == 3:
                break
            await asyncio.sleep(0.05)
        await broker.stop()
        assert seen[name] == [subject] * 3
        counts[name] = len(hops) - before
    assert counts == {"own": 0, "faststream": 3}


async def test_relay_stop_flushes_what_was_committed(
    servers: Endpoints, db: AsyncDatabase[Document], nc: NatsClient
) -> None:
    """A clean shutdown publishes committed events before it closes (no wait for the next start)."""
    broker = make_broker(servers.nats_url, service="test-relay-flush")
    await broker.connect()
    relay = OutboxRelay(db, BrokerPublisher(broker), poll_s=60.0)
    relay.start()
    await asyncio.sleep(0.1)  # the loop is idle, waiting for a wake-up that never comes
    events = [_event(f"F-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    await add_to_outbox(db, events, session=None)
    await relay.stop()
    assert await db[OUTBOX_COLLECTION].count_documents({"published_at": None}) == 0
    for event in events:
        assert await _count_in_stream(nc, event.event_id) == 1
    await broker.stop()
