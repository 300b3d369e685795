"""Numbering series, scan's object leases and the board's pager-call claims, on the real server,
without `findAndModify`.

The embedded server answers every `findAndModify` by reading the whole collection (400 ms at
20,000 documents, even by `_id`: bench/experiments/query_shapes.py). These paths used it on
collections that grow with the province: a queue counter per office, prefix and day; a stored
object per scanned page; a pager call per call. Each now takes what it needs with indexed
reads and conditional updates; the tests check that the guarantees held by `findAndModify`
still hold under concurrency.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.mongo import Document, in_transaction, next_in_series
from services.kit.query_shapes import CommandStartedListener
from services.launcher.servers import Endpoints
from services.notify.board.repository import CALLS, BoardRepository
from services.scan.model import Actor, DocumentKind, DocumentRecord, DocumentStatus, LegalHold
from services.scan.model.errors import Unavailable
from services.scan.repository import ScanRepository, to_doc

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


class CommandNames(CommandStartedListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)


async def test_concurrent_takers_get_each_number_once_in_order(
    servers: Endpoints, db: AsyncDatabase[Document]
) -> None:
    sent = CommandNames()
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, event_listeners=[sent], tz_aware=True)
    try:
        series = client[db.name]["series"]
        taken = await asyncio.gather(*(
            next_in_series(series, "ticket:A", on_insert={"office": "o1"}, also=lambda d: {"at": NOW})
            for _ in range(30)
        ))
        stored = await series.find_one({"_id": "ticket:A"})
    finally:
        await client.close()
    assert sorted(d["value"] for d in taken) == list(range(1, 31))
    assert stored == {"_id": "ticket:A", "value": 30, "office": "o1", "at": NOW}
    assert "findAndModify" not in sent.names
    assert {"find", "update"} <= set(sent.names)


async def test_a_transaction_that_aborts_gives_its_number_back(
    mongo_client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    series = db["receipts"]
    await series.insert_one({"_id": "warm", "value": 0})  # the collection exists before the transactions
    kept: list[int] = []

    async def pay(i: int) -> None:
        async def work(session: AsyncClientSession) -> None:
            doc = await next_in_series(series, "91:2026", session=session)
            if i % 3 == 0:
                raise RuntimeError("payment refused")  # aborts: the number goes back
            await db["payments"].insert_one({"_id": i, "number": doc["value"]}, session=session)

        try:
            await in_transaction(mongo_client, work)
        except RuntimeError:
            return
        kept.append(i)

    await asyncio.gather(*(pay(i) for i in range(1, 13)))
    numbers = sorted([d["number"] async for d in db["payments"].find({})])
    assert len(kept) == 8
    assert numbers == list(range(1, 9))  # gap-free
    assert (await series.find_one({"_id": "91:2026"}) or {})["value"] == 8


async def test_an_object_under_a_deletion_lease_refuses_new_records_until_the_lease_ends(
    mongo_client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    scan = ScanRepository(mongo_client, db)
    await scan.ensure_indexes()
    grace, lease = timedelta(minutes=10), timedelta(minutes=5)

    await scan.touch_object("k1", "k1.thumb", ["91001", "91"], NOW)
    first = await db["objects"].find_one({"_id": "k1"})
    assert first is not None and first["created_at"] == NOW and first["last_ref_at"] == NOW
    assert first["unit_path"] == ["91001", "91"]

    await db["objects"].update_one({"_id": "k1"}, {"$set": {"check_after": NOW}})
    assert await scan.acquire_delete_lease("k1", NOW + timedelta(minutes=5), grace, lease) is None  # just used
    later = NOW + timedelta(hours=1)
    until = await scan.acquire_delete_lease("k1", later, grace, lease)
    assert until == later + lease
    assert await scan.acquire_delete_lease("k1", later, grace, lease) is None  # already leased

    with pytest.raises(Unavailable) as refused:
        await scan.touch_object("k1", None, ["91001", "91"], later + timedelta(minutes=1))
    assert refused.value.code == "object_busy"
    held = await db["objects"].find_one({"_id": "k1"})
    assert held is not None and held["last_ref_at"] == NOW and held["thumbnail_key"] == "k1.thumb"  # untouched

    await scan.touch_object("k1", None, ["91001", "91"], until + timedelta(seconds=1))  # the lease ran out
    after = await db["objects"].find_one({"_id": "k1"})
    assert after is not None and after["last_ref_at"] == until + timedelta(seconds=1)
    assert after["created_at"] == NOW  # the same object, not a new one
    assert await db["objects"].count_documents({}) == 1


async def test_retention_picks_live_unheld_documents_past_their_date_oldest_first(
    mongo_client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    scan = ScanRepository(mongo_client, db)
    await scan.ensure_indexes()
    hold = LegalHold(reason="thanh tra", by=Actor(subject="admin"), at=NOW)

    def record(doc_id: str, days: int | None, **update: Any) -> Document:
        base = DocumentRecord(
            id=doc_id, dossier_code="000.00.12.H01-261124-0001", component_code=doc_id, kind=DocumentKind.COMPONENT,
            unit_code="91001", unit_path=["91001", "91"], owner_id_hash="h", object_key=f"obj/{doc_id}",
            sha256="0" * 64, size=10, pages=1, uploaded_by=Actor(subject="u"), uploaded_at=NOW,
            retention_until=None if days is None else NOW + timedelta(days=days),
        )
        return to_doc(base.model_copy(update=update))

    await db["documents"].insert_many([
        record("active-old", -30),
        record("superseded-older", -60, status=DocumentStatus.SUPERSEDED),
        record("active-recent", -1),
        record("deleted", -90, status=DocumentStatus.DELETED),
        record("held", -90, legal_hold=hold),
        record("future", 30),
        record("permanent", None),
    ])
    due = await scan.due_for_deletion(NOW, limit=10)
    assert [d.id for d in due] == ["superseded-older", "active-old", "active-recent"]
    assert [d.id for d in await scan.due_for_deletion(NOW, limit=2)] == ["superseded-older", "active-old"]


async def test_one_of_two_notify_processes_takes_a_due_pager_call(
    mongo_client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    board = BoardRepository(mongo_client, db)
    await board.ensure_indexes()

    def call(call_id: str, due: datetime) -> Document:
        return {"_id": call_id, "office_id": "o1", "status": "pending", "attempts": 0, "created_at": NOW,
                "next_attempt_at": due, "lease_until": None}

    await db[CALLS].insert_many([call("later", NOW + timedelta(minutes=5)), call("due", NOW)])
    claims = await asyncio.gather(*(board.claim_due(NOW, lease_s=30) for _ in range(4)))
    taken = [c for c in claims if c is not None]
    assert [c["_id"] for c in taken] == ["due"]
    assert taken[0]["status"] == "sending" and taken[0]["lease_until"] == NOW + timedelta(seconds=30)
    stored = await db[CALLS].find_one({"_id": "due"})
    assert stored is not None and stored["status"] == "sending" and stored["lease_until"] == NOW + timedelta(seconds=30)

    assert await board.claim_due(NOW + timedelta(seconds=10), lease_s=30) is None  # leased; the other not due
    again = await board.claim_due(NOW + timedelta(seconds=31), lease_s=30)  # the sender's lease ran out
    assert again is not None and again["_id"] == "due"
    assert again["lease_until"] == NOW + timedelta(seconds=61)
