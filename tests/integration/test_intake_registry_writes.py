"""The applicant registry line is written with the dossier, and rewritten only when it changes.

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


async def test_a_consumed_event_rewrites_the_registry_line_only_when_it_changes(repo: Any) -> None:
    dossiers, db = repo
    await dossiers.insert_with_events(_dossier(), [])
    line = await db[REGISTRY_COLLECTION].find_one({"_id": "d1"})
    assert line is not None and line["key"] == "id:089203004567" and line["name_folded"] == "nguyen van an"
    await db[REGISTRY_COLLECTION].update_one({"_id": "d1"}, {"$set": {"probe": True}})

    async def paid(doc: Document) -> tuple[Document, list[Any]]:
        return {**doc, "status": "processing", "version": doc["version"] + 1}, []

    assert await dossiers.apply_consumed("test", "e1", {"_id": "d1"}, paid) == "applied"
    assert (await dossiers.get("d1") or {}).get("status") == "processing"
    untouched = await db[REGISTRY_COLLECTION].find_one({"_id": "d1"})
    assert untouched is not None and untouched.get("probe") is True  # not rewritten

    async def new_phone(doc: Document) -> tuple[Document, list[Any]]:
        applicant = {**doc["applicant"], "phone": "0987654321"}
        return {**doc, "applicant": applicant, "version": doc["version"] + 1}, []

    assert await dossiers.apply_consumed("test", "e2", {"_id": "d1"}, new_phone) == "applied"
    rewritten = await db[REGISTRY_COLLECTION].find_one({"_id": "d1"})
    assert rewritten is not None and rewritten["phone"] == "0987654321" and "probe" not in rewritten
