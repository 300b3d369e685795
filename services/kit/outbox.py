"""Transactional outbox and its relay.

A state change and the events it causes are written in one MongoDB transaction: the
events land in the service's `outbox` collection. The relay publishes pending entries to
JetStream with `Nats-Msg-Id = event_id` (so a retry after a crash is dropped by the
stream's duplicate window) and only then marks them published. A crash between commit
and publish loses nothing: the entry is still pending at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import Event
from services.contracts.streams import stream_for_subject
from services.kit.mongo import Document, delete_some
from services.kit.telemetry import attach_carrier, current_trace_carrier, detach

log = logging.getLogger("motcua.outbox")

OUTBOX_COLLECTION = "outbox"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def outbox_entry(event: Event) -> Document:
    """The document stored for one event, with the trace context of the current request.

    `published_at` stays None: the relay deletes an entry once published (older versions set it
    instead, and the relay clears such leftovers)."""
    return {
        "_id": event.event_id,
        "subject": event.type,
        "body": event.model_dump(mode="json"),
        "trace": current_trace_carrier(),
        "created_at": datetime.now(UTC),
        "published_at": None,
    }


async def add_to_outbox(
    db: AsyncDatabase[Document], events: list[Event], *, session: AsyncClientSession | None
) -> None:
    """Write events in the caller's transaction (pass its session)."""
    if events:
        await db[OUTBOX_COLLECTION].insert_many([outbox_entry(e) for e in events], session=session)


async def ensure_outbox_indexes(db: AsyncDatabase[Document]) -> None:
    await db[OUTBOX_COLLECTION].create_index([("published_at", ASCENDING), ("created_at", ASCENDING)])


class Publisher:
    """What the relay needs from the bus (a protocol, so tests can pass a fake)."""

    async def publish(self, subject: str, body: dict[str, Any], headers: dict[str, str], stream: str) -> None:
        raise NotImplementedError


class OutboxRelay:
    """Publishes pending outbox entries; one task per service process."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: Publisher,
        *,
        poll_s: float = 0.5,
        idle_poll_max_s: float = 5.0,
        batch: int = 200,
    ) -> None:
        self.collection: AsyncCollection[Document] = db[OUTBOX_COLLECTION]
        self.publisher = publisher
        self.poll_s = poll_s
        self.idle_poll_max_s = max(poll_s, idle_poll_max_s)
        self.batch = batch
        self.passes = 0  # how many times the relay looked for pending entries
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0
        self._leftovers_purged = False

    def wake(self) -> None:
        """Called after a commit so events go out at once rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, flush_timeout_s: float = 3.0, stop_timeout_s: float = 5.0) -> None:
        """Stop relaying; first flush what was committed so a clean shutdown leaves nothing pending."""
        if self._task:
            # Asked, not cancelled: a cancellation landing inside a driver call or together with
            # the poll timeout could be swallowed on Python 3.11 and leave stop() waiting forever
            # (seen in the test suite). The loop ends after its current pass; cancelling is the
            # fallback, and shutdown never waits on the task for long.
            self._stopping = True
            self._wake.set()
            done, _ = await asyncio.wait({self._task}, timeout=stop_timeout_s)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=stop_timeout_s)
            self._task = None
        if flush_timeout_s <= 0:
            return
        try:
            await asyncio.wait_for(self._flush(), timeout=flush_timeout_s)
        except Exception as exc:  # whatever is left goes out at the next start
            log.warning("outbox flush at shutdown incomplete: %s", exc)

    async def _flush(self) -> None:
        while await self.publish_pending():
            pass

    async def _run(self) -> None:
        """Publish at each wake-up (every commit calls `wake`); poll in between for entries no
        wake-up announced (written before a crash, or by a code path that forgot to wake).

        An empty poll doubles the wait, up to `idle_poll_max_s`: on a quiet office five idle
        relays polling every 0.5 s were most of the database's work, and under load a relay
        whose service writes no events (scan, postal at the counter) polled as often as the
        busy ones. Anything found, a failure or a wake-up brings the wait back to `poll_s`.
        """
        wait_s = self.poll_s
        while not self._stopping:
            self._wake.clear()  # a wake-up during the publish below is kept for the wait
            try:
                sent = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying after a Mongo or NATS outage
                log.warning("outbox relay: %s: %s", type(exc).__name__, exc)
                sent = -1
                await asyncio.sleep(1.0)
            if sent >= self.batch:
                continue  # a full batch: more may be waiting
            wait_s = min(wait_s * 2, self.idle_poll_max_s) if sent == 0 else self.poll_s
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # lands with its timeout; stop() sets the wake-up, so the wait ends at once
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()
            if self._wake.is_set():
                wait_s = self.poll_s

    async def publish_pending(self) -> int:
        """Publish one batch of pending entries in creation order; returns how many.

        Entries are published one after the other (order per dossier matters) and deleted with
        one command for the whole batch; a crash in between only means a republish, which
        JetStream drops by `Nats-Msg-Id`. Deleted, not marked: the stream keeps the event (30
        days), and an outbox that kept every published entry grew with every reception and held
        a copy of each applicant's contact details that no retention rule reached. A delete
        also costs the embedded server less than an update, which rewrites every index entry.
        """
        self.passes += 1
        cursor = self.collection.find({"published_at": None}).sort("created_at", ASCENDING).limit(self.batch)
        entries = await cursor.to_list(length=self.batch)
        done: list[str] = []
        try:
            for entry in entries:
                await self._publish_one(entry)
                done.append(entry["_id"])
        finally:
            if done:
                await self.collection.delete_many({"_id": {"$in": done}})
                self.published += len(done)
        if not entries and not self._leftovers_purged:
            await self._purge_published_leftovers()
        return len(entries)

    async def _purge_published_leftovers(self) -> None:
        """Entries an older version marked published instead of deleting: removed in chunks
        while the relay is idle, until none is left."""
        published = {"published_at": {"$gte": _EPOCH}}  # a range on the index, not a scan
        self._leftovers_purged = await delete_some(self.collection, published, self.batch) < self.batch

    async def _publish_one(self, entry: Document) -> None:
        headers = {"Nats-Msg-Id": entry["_id"]}
        token = attach_carrier(entry.get("trace") or {})
        try:
            await self.publisher.publish(
                entry["subject"], entry["body"], headers, stream_for_subject(entry["subject"]).name
            )
        finally:
            detach(token)
