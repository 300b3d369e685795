"""The dispatcher writes an event's records in one command, in chunks no larger than its
sending slots (service layer, with an in-memory repository)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from services.kit.mongo import Document
from services.notify.model.common import Channel, DeliveryStatus
from services.notify.model.delivery import OutboundMessage, OutcomeKind, SendOutcome
from services.notify.service.dispatcher import DispatchConfig, Dispatcher

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


class MemoryDeliveries:
    def __init__(self) -> None:
        self.by_id: dict[str, Document] = {}
        self.batches: list[int] = []

    async def insert_many(self, records: list[Document]) -> dict[str, Document]:
        self.batches.append(len(records))
        taken = {}
        for r in records:
            before = next((d for d in self.by_id.values() if d["key"] == r["key"]), None)
            if before is None:
                self.by_id[r["_id"]] = dict(r)
            else:
                taken[r["key"]] = before
        return taken

    async def compare_and_set(
        self, delivery_id: str, *, expect_status: str, expect_next: Any = ..., set_fields: dict[str, Any], **_: Any
    ) -> bool:
        doc = self.by_id[delivery_id]
        if doc["status"] != expect_status or (expect_next is not ... and doc["next_attempt_at"] != expect_next):
            return False
        doc.update(set_fields)
        return True

    async def set_fields(self, delivery_id: str, fields: dict[str, Any]) -> None:
        self.by_id[delivery_id].update(fields)


class SlowMail:
    """Holds each send until released, so sending slots stay taken."""

    channel = Channel.EMAIL
    provider = "smtp"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.go = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendOutcome:
        await self.go.wait()
        self.sent.append(message.to)
        return SendOutcome(kind=OutcomeKind.ACCEPTED)


def _record(n: int, event: str = "ev-1") -> Document:
    key = f"{event}:email:o{n}@x.vn"
    return {
        "_id": key, "key": key, "event_id": event, "channel": "email", "recipient": f"o{n}@x.vn", "essential": True,
        "purpose": "work", "role": "officer", "subject": "s", "body": "b", "status": "scheduled",
        "next_attempt_at": NOW, "attempts": 0, "history": [], "fallback": [],
    }


def _dispatcher(repo: MemoryDeliveries, mail: SlowMail, slots: int) -> Dispatcher:
    return Dispatcher(
        repo,  # type: ignore[arg-type]
        preferences=None,  # type: ignore[arg-type]  # essential notices read no consent
        adapters={Channel.EMAIL: [mail]},
        limits={},
        config=DispatchConfig(concurrency=slots),
        clock=lambda: NOW,
    )


async def test_an_event_with_more_records_than_slots_is_written_in_chunks_and_all_sent() -> None:
    repo, mail = MemoryDeliveries(), SlowMail()
    dispatcher = _dispatcher(repo, mail, slots=2)
    submitting = asyncio.create_task(dispatcher.submit([_record(n) for n in range(5)]))
    await asyncio.sleep(0.05)
    assert repo.batches == [2] and not submitting.done()  # both slots taken: it waits, holding nothing else
    mail.go.set()
    await asyncio.wait_for(submitting, timeout=2)
    await asyncio.wait_for(asyncio.gather(*dispatcher._background), timeout=2)
    assert repo.batches == [2, 2, 1]
    assert sorted(mail.sent) == [f"o{n}@x.vn" for n in range(5)]
    assert {d["status"] for d in repo.by_id.values()} == {DeliveryStatus.SENT.value}


async def test_two_events_waiting_for_slots_at_once_both_finish() -> None:
    repo, mail = MemoryDeliveries(), SlowMail()
    dispatcher = _dispatcher(repo, mail, slots=3)
    first = asyncio.create_task(dispatcher.submit([_record(n, "ev-a") for n in range(2)]))
    second = asyncio.create_task(dispatcher.submit([_record(n, "ev-b") for n in range(2)]))
    await asyncio.sleep(0.05)
    mail.go.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=2)
    await asyncio.wait_for(asyncio.gather(*dispatcher._background), timeout=2)
    assert len(mail.sent) == 4 and repo.batches == [2, 2]


async def test_a_redelivered_event_writes_nothing_new_and_sends_nothing_again() -> None:
    repo, mail = MemoryDeliveries(), SlowMail()
    mail.go.set()
    dispatcher = _dispatcher(repo, mail, slots=4)
    records = [_record(n) for n in range(2)]
    await dispatcher.submit(records)
    await asyncio.gather(*dispatcher._background)
    await dispatcher.submit(records)
    await asyncio.gather(*dispatcher._background)
    assert len(mail.sent) == 2 and len(repo.by_id) == 2
    assert dispatcher._slots._value == 4  # every slot taken for the copy was given back
    assert all(d["attempts"] == 1 for d in repo.by_id.values())
