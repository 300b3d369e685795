"""The applicant registry line is derived from the dossier by the outbox relay, after the
dossier's own write, and only when there is something to derive.

Most events intake consumes (payments, documents, shipments) change nothing the registry
holds; rewriting the line for each was one database write per event for nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.registry import REGISTRY_COLLECTION
from services.intake.repository import DossierRepository
from services.kit.mongo import Document
from services.launcher.servers import Endpoints

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(servers: Endpoints) -> AsyncIterator[tuple[DossierRepository, AsyncDatabase[Document]]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, tz_aware=True)
    db = client[f"t_registry_{uuid.uuid4().hex[:8]}"]
    yield DossierRepository(client, db), db
    await client.drop_database(db.name)
    await client.close()


def _dossier() -> Document:
    return {
        "_id": "d1",
        "version": 1,
        "status": "received",
        "unit_path": ["91", "30307"],
        "received_at": datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
        "applicant": {"kind": "citizen", "name": "Nguyễn Văn An", "id_number": "089203004567", "phone": "0912345678"},
    }


async def relay_pass(dossiers: DossierRepository) -> list[Document]:
    """What the relay does with flagged dossiers (no events here to publish): derive, clear."""
    source = dossiers.embedded_outbox()
    docs = await source.pending(100)
    await source.settle(docs)
    return docs


async def test_a_consumed_event_rewrites_the_registry_line_only_when_it_changes(repo: Any) -> None:
    dossiers, db = repo
    await dossiers.insert_with_events(_dossier(), [])
    assert (await dossiers.get("d1") or {})["outbox_pending"] is True
    assert await db[REGISTRY_COLLECTION].find_one({"_id": "d1"}) is None  # not in the reception's write
    assert [d["_id"] for d in await relay_pass(dossiers)] == ["d1"]
    line = await db[REGISTRY_COLLECTION].find_one({"_id": "d1"})
    assert line is not None and line["key"] == "id:089203004567" and line["name_folded"] == "nguyen van an"
    assert (await dossiers.get("d1") or {})["outbox_pending"] is False

    async def paid(doc: Document) -> tuple[Document, list[Any]]:
        return {**doc, "status": "processing", "version": doc["version"] + 1}, []

    assert await dossiers.apply_consumed("test", "e1", {"_id": "d1"}, paid) == "applied"
    stored = await dossiers.get("d1") or {}
    assert stored["status"] == "processing" and stored["outbox_pending"] is False  # nothing to derive
    assert await relay_pass(dossiers) == []

    async def new_phone(doc: Document) -> tuple[Document, list[Any]]:
        applicant = {**doc["applicant"], "phone": "0987654321"}
        return {**doc, "applicant": applicant, "version": doc["version"] + 1}, []

    assert await dossiers.apply_consumed("test", "e2", {"_id": "d1"}, new_phone) == "applied"
    assert (await dossiers.get("d1") or {})["outbox_pending"] is True
    await relay_pass(dossiers)
    rewritten = await db[REGISTRY_COLLECTION].find_one({"_id": "d1"})
    assert rewritten is not None and rewritten["phone"] == "0987654321"


async def test_a_dossier_changed_while_the_relay_works_keeps_its_flag_and_is_derived_again(repo: Any) -> None:
    dossiers, db = repo
    await dossiers.insert_with_events(_dossier(), [])
    source = dossiers.embedded_outbox()
    read = await source.pending(100)  # the relay's read ...

    async def anonymised(doc: Document) -> tuple[Document, list[Any]]:
        return {**doc, "applicant": {"kind": "citizen", "name": "***"}, "version": doc["version"] + 1}, []

    assert await dossiers.apply_consumed("test", "e1", {"_id": "d1"}, anonymised) == "applied"
    await source.settle(read)  # ... settles what it read: a line from the old state
    assert (await db[REGISTRY_COLLECTION].find_one({"_id": "d1"}) or {}).get("phone") == "0912345678"
    assert (await dossiers.get("d1") or {})["outbox_pending"] is True  # changed meanwhile: kept
    await relay_pass(dossiers)
    assert await db[REGISTRY_COLLECTION].find_one({"_id": "d1"}) is None  # no identity: no line
    assert (await dossiers.get("d1") or {})["outbox_pending"] is False
