"""Intake's MongoDB persistence: dossiers, daily code sequences, and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import Event
from services.kit.mongo import Document, in_transaction
from services.kit.outbox import add_to_outbox


class DossierRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db
        self.dossiers = db["dossiers"]
        self.sequences = db["dossier_sequences"]

    async def ensure_indexes(self) -> None:
        await self.dossiers.create_index("code", unique=True, sparse=True)
        await self.dossiers.create_index([("office_id", ASCENDING), ("received_at", DESCENDING)])
        await self.dossiers.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.dossiers.create_index("applicant.id_number", sparse=True)

    async def next_sequence(self, office_id: str, day: str) -> int:
        """Atomically take the next daily number of an office (no repeats under concurrency).

        Taken outside the reception transaction on purpose: a counter inside the transaction
        turns every concurrent reception into a write conflict. A reception that then fails
        for an infrastructure reason leaves a gap, never a duplicate.
        """
        doc = await self.sequences.find_one_and_update(
            {"_id": f"{office_id}:{day}"},
            {"$inc": {"value": 1}, "$setOnInsert": {"created_at": datetime.now(UTC)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["value"])

    async def insert_with_events(self, dossier: Document, events: list[Event]) -> None:
        """The dossier and its events in one transaction: both or neither."""

        async def work(session: AsyncClientSession) -> None:
            await self.dossiers.insert_one(dossier, session=session)
            await add_to_outbox(self.db, events, session=session)

        await in_transaction(self.client, work)

    async def replace_with_events(self, dossier: Document, expected_version: int, events: list[Event]) -> bool:
        """Optimistic update: False when someone else changed the dossier first."""

        async def work(session: AsyncClientSession) -> bool:
            result = await self.dossiers.replace_one(
                {"_id": dossier["_id"], "version": expected_version}, dossier, session=session
            )
            if result.matched_count != 1:
                return False
            await add_to_outbox(self.db, events, session=session)
            return True

        return await in_transaction(self.client, work)

    async def get(self, dossier_id: str) -> Document | None:
        return await self.dossiers.find_one({"_id": dossier_id})

    async def get_by_code(self, code: str) -> Document | None:
        return await self.dossiers.find_one({"code": code})

    async def list(self, query: dict[str, Any], *, limit: int = 50, skip: int = 0) -> list[Document]:
        cursor = self.dossiers.find(query).sort("received_at", DESCENDING).skip(skip).limit(limit)
        return await cursor.to_list(length=limit)


class SlipRepository:
    """Generated slips (small PDFs) kept with the dossier's version."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.slips = db["slips"]

    async def get_slip(self, key: str) -> bytes | None:
        doc = await self.slips.find_one({"_id": key})
        return bytes(doc["pdf"]) if doc else None

    async def put_slip(self, key: str, dossier_id: str, form: str, pdf: bytes) -> None:
        await self.slips.replace_one(
            {"_id": key},
            {"_id": key, "dossier_id": dossier_id, "form": form, "pdf": pdf, "created_at": datetime.now(UTC)},
            upsert=True,
        )
