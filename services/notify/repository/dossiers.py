"""The projection of open dossiers (from events), officers' reminders and their digests.

Restart safety: a reminder's `_id` is dossier × day, so it exists once whatever happens. A
digest is inserted *before* it claims reminders (`digest_id`), and marked dispatched only
after its deliveries are written; a digest left undispatched by a crash is finished by the
next tick of any notify process. Deliveries are keyed by digest × channel × officer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kit.mongo import Document, find_union
from services.notify.model.reminders import ACTIVE_STATUSES, DossierView


class DossierRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.dossiers = db["dossiers"]

    async def ensure_indexes(self) -> None:
        await self.dossiers.create_index([("status", ASCENDING), ("remind_at", ASCENDING)])
        await self.dossiers.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.dossiers.create_index("dossier_code")

    async def get(self, dossier_id: str) -> DossierView | None:
        doc = await self.dossiers.find_one({"_id": dossier_id})
        return DossierView.model_validate(doc) if doc else None

    async def save(self, view: DossierView) -> bool:
        """Write the view unless a newer event got there first (events may arrive out of order)."""
        doc = {**view.model_dump(), "active": view.active}
        try:
            result = await self.dossiers.update_one(
                # "not newer" (older, equal or absent), without a top-level $or: the embedded
                # server scans the whole collection for one, even beside an _id
                {"_id": view.dossier_id, "last_event_at": {"$not": {"$gt": view.last_event_at}}},
                {"$set": doc},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # a newer event is already recorded
        return result.matched_count == 1 or result.upserted_id is not None

    async def save_over_same_due(self, view: DossierView, *, keep_late_since: bool, keep_trace: bool) -> bool:
        """Write the view over a stored one with the same due moment, without reading it first.

        With the same `due_at`, the only things the projection takes from the stored view are
        its lateness and trace id, and only when the event brings none (`keep_…`): leaving
        those fields out of the `$set` keeps them. False when nothing matched — no stored
        view, a newer event recorded, or another due moment: the caller reads and merges.
        """
        doc = {**view.model_dump(), "active": view.active}
        if keep_late_since:
            doc.pop("late_since")
        if keep_trace:
            doc.pop("last_trace_id")
        result = await self.dossiers.update_one(
            {"_id": view.dossier_id, "last_event_at": {"$not": {"$gt": view.last_event_at}}, "due_at": view.due_at},
            {"$set": doc},
        )
        return result.matched_count == 1

    async def candidates(self, now: datetime, limit: int = 5000) -> list[DossierView]:
        """Active dossiers whose reminder moment or due moment has come."""
        queries = [
            {"status": status, moment: {"$lte": now}}
            for status in sorted(ACTIVE_STATUSES)
            for moment in ("remind_at", "due_at")
        ]
        docs = await find_union(self.dossiers, queries, sort="due_at", limit=limit)
        return [DossierView.model_validate(doc) for doc in docs]


class ReminderRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.reminders = db["reminders"]
        self.digests = db["reminder_digests"]

    async def ensure_indexes(self) -> None:
        await self.reminders.create_index([("office_id", ASCENDING), ("digest_id", ASCENDING)])
        await self.reminders.create_index([("unit_path", ASCENDING), ("day", ASCENDING)])
        await self.reminders.create_index("digest_id")
        await self.digests.create_index([("status", ASCENDING), ("created_at", ASCENDING)])

    async def add(self, row: Document) -> bool:
        """False when this dossier was already reminded today."""
        try:
            await self.reminders.insert_one(row)
            return True
        except DuplicateKeyError:
            return False

    async def offices_waiting(self) -> list[str]:
        return [str(o) for o in await self.reminders.distinct("office_id", {"digest_id": None})]

    async def start_digest(self, digest: Document) -> None:
        await self.digests.insert_one(digest)

    async def claim_for_digest(self, office_id: str, digest_id: str) -> int:
        result = await self.reminders.update_many(
            {"office_id": office_id, "digest_id": None}, {"$set": {"digest_id": digest_id}}
        )
        return result.modified_count

    async def rows_of(self, digest_id: str) -> list[Document]:
        return await self.reminders.find({"digest_id": digest_id}).to_list(length=None)

    async def finish_digest(self, digest_id: str, fields: dict[str, Any]) -> None:
        await self.digests.update_one({"_id": digest_id}, {"$set": {"status": "dispatched", **fields}})

    async def stale_digests(self, before: datetime, limit: int = 50) -> list[Document]:
        cursor = self.digests.find({"status": "open", "created_at": {"$lte": before}}).limit(limit)
        return await cursor.to_list(length=limit)

    async def list(self, query: dict[str, Any], limit: int = 200) -> list[Document]:
        cursor = self.reminders.find(query).sort([("day", -1), ("due_at", 1)]).limit(limit)
        return await cursor.to_list(length=limit)
