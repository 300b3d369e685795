"""Delivery records: one per event × channel × recipient (`key`; the `_id` is derived from it).

A record is written before anything is sent and carries the rendered message, so sending is
restartable: the retry scheduler reads due records (`next_attempt_at` reached) and sends
them. Status changes are compare-and-set on (status, next_attempt_at), so two schedulers —
or a scheduler and a redelivered event — never send the same attempt twice.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from services.contracts.events import Event
from services.kit.mongo import Document, find_then_filter, find_union, matches
from services.kit.outbox import add_to_outbox
from services.notify.model.common import RETRYABLE_STATUSES
from services.notify.model.delivery import erasure_of

HISTORY_MAX = 30
DUPLICATE_KEY = 11000
#: Where the retention pass left off (`erase_created_before`): one small document.
RETENTION_MARKS = "retention_marks"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What model.delivery.erasure_of reads of a record (and the retention pass's position in time).
_ERASURE_FIELDS = {"_id": 1, "role": 1, "status": 1, "event_id": 1, "channel": 1, "created_at": 1, "anonymised_at": 1}


class DeliveryRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries = db["deliveries"]
        self.marks = db[RETENTION_MARKS]

    async def ensure_indexes(self) -> None:
        await self.deliveries.create_index("dossier_code")
        await self.deliveries.create_index("dossier_codes", sparse=True)  # a digest's dossiers
        await self.deliveries.create_index("event_id")
        await self.deliveries.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        await self.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        # Earlier versions also kept `next_attempt_at` alone; no query uses it (`due` reads by
        # status first) and every write paid for it. The same for a unique index on `key`:
        # the `_id` is a hash of the key (`model.common.delivery_id`), already unique.
        # Lists read by unit in time order from one compound index, not two single ones.
        for unused in ("next_attempt_at_1", "key_1", "unit_path_1", "created_at_-1"):
            with contextlib.suppress(OperationFailure):
                await self.deliveries.drop_index(unused)
        await self.deliveries.create_index([("provider", ASCENDING), ("provider_message_id", ASCENDING)], sparse=True)
        await self.deliveries.create_index("created_at")  # the retention pass, oldest first

    async def insert(self, record: Document) -> Document | None:
        """Insert a new record; returns the existing one when the key was taken."""
        return (await self.insert_many([record])).get(record["key"])

    async def insert_many(self, records: list[Document]) -> dict[str, Document]:
        """Insert new records in one command; returns the stored record of every key that was
        taken already (a redelivered event), by key."""
        if not records:
            return {}
        try:
            await self.deliveries.insert_many(records, ordered=False)
            return {}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            taken = [records[e["index"]] for e in errors]
        existing = {}
        for record in taken:  # rare: one read each
            doc = await self.deliveries.find_one({"_id": record["_id"]})
            if doc is not None:
                existing[record["key"]] = doc
        return existing

    async def get(self, delivery_id: str) -> Document | None:
        return await self.deliveries.find_one({"_id": delivery_id})

    async def by_provider_message(self, provider: str, message_id: str) -> Document | None:
        return await self.deliveries.find_one({"provider": provider, "provider_message_id": message_id})

    async def compare_and_set(
        self,
        delivery_id: str,
        *,
        expect_status: str,
        expect_next: datetime | object | None = ...,
        set_fields: dict[str, Any],
        history: dict[str, Any] | None = None,
        inc_attempts: bool = False,
    ) -> bool:
        """Change a record only if it is still in the expected state; True when it was changed."""
        query: Document = {"_id": delivery_id, "status": expect_status}
        if expect_next is not ...:
            query["next_attempt_at"] = expect_next
        update: Document = {"$set": set_fields}
        if history is not None:
            update["$push"] = {"history": {"$each": [history], "$slice": -HISTORY_MAX}}
        if inc_attempts:
            update["$inc"] = {"attempts": 1}
        result = await self.deliveries.update_one(query, update)
        return result.modified_count == 1

    async def erase_dossier(self, dossier_code: str, now: datetime) -> int:
        """Erase the personal data of every delivery record of the dossier (model.delivery.
        erasure_of); returns how many were erased. Each write expects the status it read, so a
        send finishing meanwhile is read again, not overwritten."""
        erased = 0
        for _ in range(5):
            records = await self.deliveries.find(
                {"dossier_code": dossier_code, "anonymised_at": None}, _ERASURE_FIELDS
            ).to_list(length=None)
            if not records:
                break
            for record in records:
                erased += await self._erase(record, now)
        return erased

    async def _erase(self, record: Document, now: datetime) -> bool:
        """One record, if its status is still the one read; False when it changed meanwhile."""
        fields, history = erasure_of(record, now)
        return await self.compare_and_set(
            record["_id"], expect_status=record["status"], set_fields=fields, history=history
        )

    async def erase_created_before(self, cutoff: datetime, now: datetime, *, batch: int = 500) -> int:
        """Erase the personal data of the records created before `cutoff` (model.delivery.
        erasure_of), oldest first; returns how many were erased.

        Each pass starts where the last one left off (a mark in `retention_marks`): everything
        before the mark is erased, so a pass reads what it erases, not the years done before. A
        record whose status changed under the write stops the pass; the next one reads it again.
        """
        mark = await self.marks.find_one({"_id": "deliveries"})
        since: datetime = mark["erased_until"] if mark else _EPOCH
        erased = 0
        while True:
            records = await self.deliveries.find(
                {"created_at": {"$gte": since, "$lt": cutoff}}, _ERASURE_FIELDS
            ).sort("created_at", ASCENDING).limit(batch).to_list(length=batch)
            done_until, interrupted = since, False
            for record in records:
                if record.get("anonymised_at") is None:
                    if not await self._erase(record, now):
                        interrupted = True
                        break
                    erased += 1
                done_until = record["created_at"]
            if done_until > since:
                await self.marks.update_one({"_id": "deliveries"}, {"$max": {"erased_until": done_until}}, upsert=True)
            if interrupted or len(records) < batch or done_until == since:
                return erased
            since = done_until

    async def queue_events(self, events: list[Event]) -> None:
        """Events for the outbox relay (notify's own confirmations)."""
        await add_to_outbox(self.deliveries.database, events, session=None)  # on its own: see NotifyService.erase

    async def set_fields(self, delivery_id: str, fields: dict[str, Any]) -> None:
        await self.deliveries.update_one({"_id": delivery_id}, {"$set": fields})

    async def due(self, now: datetime, limit: int = 100) -> list[Document]:
        """Records whose next attempt has come: scheduled, retrying, or a sending lease that ran out."""
        queries = [{"status": s.value, "next_attempt_at": {"$lte": now}} for s in RETRYABLE_STATUSES]
        return await find_union(self.deliveries, queries, sort="next_attempt_at", limit=limit)

    async def listing(
        self,
        unit_code: str,
        *,
        dossier_code: str | None = None,
        event_id: str | None = None,
        filters: dict[str, Any] | None = None,
        limit: int = 100,
    ) -> list[Document]:
        """A unit's deliveries (its own and those of units below it), newest first.

        Each read has one predicate, on an index: the dossier (its deliveries and the digests
        that list it), the event, or else the unit in time order. The unit and `filters` (exact
        values) are checked here: the embedded server scans the whole collection for a query
        whose predicates are not all on one index, as `{unit_path, dossier_code}` was.
        """
        wanted = {"unit_path": unit_code, **(filters or {})}
        if dossier_code is not None:
            if event_id is not None:
                wanted["event_id"] = event_id
            queries = [{"dossier_code": dossier_code}, {"dossier_codes": dossier_code}]  # a digest lists several
            return await find_union(
                self.deliveries, queries, sort="created_at", descending=True, limit=limit,
                keep=lambda doc: matches(doc, wanted),
            )
        indexed = {"event_id": event_id} if event_id is not None else {"unit_path": unit_code}
        return await find_then_filter(self.deliveries, indexed, wanted, sort="created_at", limit=limit)
