"""Idempotent consumers on the hot path mark an event with one write, on the real server.

`claim_event` inserts the marker with no lookup first; a redelivery meets the duplicate key,
which ends its transaction: nothing the transaction wrote is kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.repository import DossierRepository
from services.kit.idempotency import (
    PROCESSED_COLLECTION,
    AlreadyProcessed,
    claim_event,
    ensure_marker_index,
    purge_markers,
)
from services.kit.mongo import Document, in_transaction
from services.kit.query_shapes import CommandStartedListener
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings
from services.launcher.servers import Endpoints
from services.payments.model.intent import Item, Payer, PaymentIntent
from services.payments.repository import PaymentsRepository
from tests.support import settings_for

pytestmark = pytest.mark.integration


class MarkerCommands(CommandStartedListener):
    """The commands sent to `processed_events` of one database."""

    def __init__(self, db_name: str) -> None:
        self.db_name = db_name
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.db_name and event.command.get(event.command_name) == PROCESSED_COLLECTION:
            self.names.append(event.command_name)


@pytest.fixture
async def watched(
    servers: Endpoints,
) -> AsyncIterator[tuple[AsyncMongoClient[Document], AsyncDatabase[Document], MarkerCommands]]:
    commands = MarkerCommands(f"t_claim_{uuid.uuid4().hex[:8]}")
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, event_listeners=[commands], tz_aware=True)
    yield client, client[commands.db_name], commands
    await client.drop_database(commands.db_name)
    await client.close()


async def test_a_claim_is_one_insert_and_a_redelivery_keeps_nothing_of_its_transaction(watched: Any) -> None:
    client, db, commands = watched

    def effect(name: str) -> Any:
        async def work(session: AsyncClientSession) -> None:
            await db["effects"].insert_one({"_id": name}, session=session)
            await claim_event(db, "tests-consumer", "event-1", session=session)

        return work

    await in_transaction(client, effect("first"))
    assert commands.names == ["insert"]
    with pytest.raises(AlreadyProcessed):
        await in_transaction(client, effect("redelivered"))
    assert [d["_id"] async for d in db["effects"].find({})] == ["first"]
    assert await db[PROCESSED_COLLECTION].count_documents({}) == 1


async def test_two_copies_of_an_event_at_once_are_applied_once(watched: Any) -> None:
    client, db, _ = watched

    async def apply(copy: int) -> None:
        async def work(session: AsyncClientSession) -> None:
            await claim_event(db, "tests-consumer", "event-2", session=session)
            await db["effects"].insert_one({"_id": f"copy-{copy}"}, session=session)

        await in_transaction(client, work)

    results = await asyncio.gather(*(apply(n) for n in range(4)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AlreadyProcessed) for r in results if r is not None), results
    assert await db["effects"].count_documents({}) == 1


async def test_intake_applies_a_consumed_event_once_without_looking_for_its_marker(watched: Any) -> None:
    client, db, commands = watched
    repo = DossierRepository(client, db)
    await db["dossiers"].insert_one({"_id": "d1", "version": 1, "code": None, "payment": None})

    async def paid(doc: Document) -> tuple[Document, list[Any]]:
        return {**doc, "version": doc["version"] + 1, "payment": {"status": "paid"}}, []

    assert await repo.apply_consumed("intake-payments", "pay-1", {"_id": "d1"}, paid) == "applied"
    assert await repo.apply_consumed("intake-payments", "pay-1", {"_id": "d1"}, paid) == "duplicate"
    stored = await db["dossiers"].find_one({"_id": "d1"})
    assert stored is not None and stored["version"] == 2 and stored["payment"] == {"status": "paid"}
    assert commands.names == ["insert", "insert"]  # the old look-first sent a find before each


async def test_payments_opens_one_intent_per_received_event_without_looking_for_its_marker(watched: Any) -> None:
    client, db, commands = watched
    repo = PaymentsRepository(client, db)
    await repo.ensure_indexes()

    def intent() -> PaymentIntent:
        return PaymentIntent.open(
            dossier_id="d1", dossier_code="000.00.12.H01-260302-0001", unit_code="30280",
            unit_path=["30280", "91"], payer=Payer(name="Trần Văn B"), now=datetime.now(UTC),
            ttl=timedelta(minutes=15), items=[Item(kind="fee", name="Phí thẩm định", amount=100_000)],
        )

    assert await repo.insert(intent(), [], processed=("payments-received", "recv-1")) is True
    assert await repo.insert(intent(), [], processed=("payments-received", "recv-1")) is False
    assert await db["intents"].count_documents({"dossier_id": "d1"}) == 1
    assert commands.names == ["insert", "insert"]


async def test_markers_older_than_the_retention_are_purged_in_chunks_and_newer_ones_kept(
    db: AsyncDatabase[Document],
) -> None:
    await ensure_marker_index(db)
    now = datetime.now(UTC)
    old = [{"_id": f"c:old-{i}", "at": now - timedelta(days=121 + i)} for i in range(7)]
    kept = [{"_id": f"c:new-{i}", "at": now - timedelta(days=i)} for i in range(3)]
    await db[PROCESSED_COLLECTION].insert_many(old + kept)
    assert await purge_markers(db, now - timedelta(days=120), chunk=3) == 7
    assert sorted([d["_id"] async for d in db[PROCESSED_COLLECTION].find({})]) == sorted(d["_id"] for d in kept)
    assert await purge_markers(db, now - timedelta(days=120)) == 0


def test_a_marker_cannot_be_kept_for_less_than_the_streams_keep_events() -> None:
    with pytest.raises(ValidationError):
        KitSettings(processed_marker_days=10)
    assert KitSettings().processed_marker_days > 30


async def test_a_service_runtime_purges_the_markers_older_than_its_setting(
    servers: Endpoints, mongo_client: AsyncMongoClient[Document]
) -> None:
    settings = settings_for(servers, KitSettings, service_name="tests-markers", processed_marker_days=45)
    runtime = ServiceRuntime(settings, relay=False)
    await runtime.start_clients()
    try:
        db = mongo_client[settings.mongo_db_name]
        now = datetime.now(UTC)
        await db[PROCESSED_COLLECTION].insert_many(
            [{"_id": "c:46-days", "at": now - timedelta(days=46)}, {"_id": "c:44-days", "at": now - timedelta(days=44)}]
        )
        assert await runtime.purge_old_markers() == 1
        assert [d["_id"] async for d in db[PROCESSED_COLLECTION].find({})] == ["c:44-days"]
    finally:
        await runtime.stop()
        await mongo_client.drop_database(settings.mongo_db_name)
