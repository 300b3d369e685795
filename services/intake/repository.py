"""Intake's MongoDB persistence: dossiers, daily code sequences, and the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.contracts.events import Event
from services.intake.model.dossier import DossierCodeTaken
from services.intake.registry import REGISTRY_COLLECTION, registry_entry
from services.kit.idempotency import AlreadyProcessed, claim_event
from services.kit.mongo import Document, create_unique_where_set, find_union, in_transaction
from services.kit.outbox import add_to_outbox

# A consumer's change to one dossier: the new document and its events, or None (nothing to do).
Mutation = Callable[[Document], Awaitable[tuple[Document, list[Event]] | None]]


_NUMBERING_PREFIXES_KEPT = 2000  # receiving units numbered today by this process, at most


def _code_taken(exc: DuplicateKeyError, dossier: Document) -> DossierCodeTaken | DuplicateKeyError:
    """A clash on the code index is a numbering race (number again); any other (e.g. the same
    `_id` from a redelivered postal hand-over) is left to the caller."""
    pattern = (exc.details or {}).get("keyPattern") or {}
    if "code" in pattern and dossier.get("code"):
        return DossierCodeTaken(dossier["code"])
    return exc


class _Concurrent(Exception):
    """The dossier changed between read and write inside a consumer transaction."""


NATIONAL_SYNC_COLLECTION = "national_sync"


async def mark_for_national_sync(db: AsyncDatabase[Document], dossier: Document, session: AsyncClientSession) -> None:
    """Mark a dossier (with a code) for the national portal's synchronisation, in the caller's
    transaction: the portal then gets the dossier as it is now (model.national_portal)."""
    now = datetime.now(UTC)
    await db[NATIONAL_SYNC_COLLECTION].update_one(
        {"_id": dossier["_id"]},
        {
            "$set": {
                "pending": True,
                "version": dossier.get("version", 1),
                "code": dossier["code"],
                "unit_path": dossier.get("unit_path", []),
                "changed_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            },
            "$setOnInsert": {"first_pending_at": now},
        },
        upsert=True,
        session=session,
    )


class DossierRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db
        self.dossiers = db["dossiers"]
        self.national_sync = db[NATIONAL_SYNC_COLLECTION]
        # Set by the wiring when a national-portal endpoint is configured: every write of a
        # dossier with a code then marks it for synchronisation, in the same transaction.
        self.sync_enabled = False
        self._next_number: dict[str, int] = {}  # code prefix → next daily number (next_sequence)

    async def ensure_indexes(self) -> None:
        # Dossiers that were not received have code null: unique among real codes only (a sparse
        # index would still count every null). Replaces the sparse index of earlier versions.
        existing = await self.dossiers.index_information()
        if "code_1" in existing:
            await self.dossiers.drop_index("code_1")
        await create_unique_where_set(self.dossiers, "code", name="code_unique")
        await self.dossiers.create_index([("office_id", ASCENDING), ("received_at", DESCENDING)])
        await self.dossiers.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.dossiers.create_index("applicant.id_number", sparse=True)
        await self.dossiers.create_index([("unit_path", ASCENDING), ("created_at", DESCENDING)])
        await self.dossiers.create_index([("handling.unit_path", ASCENDING), ("status", ASCENDING)])
        await self.dossiers.create_index([("late", ASCENDING), ("status", ASCENDING), ("statutory_due_at", ASCENDING)])
        await self.dossiers.create_index(
            [("status", ASCENDING), ("steps.status", ASCENDING), ("steps.due_at", ASCENDING)]
        )
        await self.national_sync.create_index([("pending", ASCENDING), ("next_attempt_at", ASCENDING)])

    async def next_sequence(self, code_prefix: str) -> int:
        """The next daily number for a code prefix (`<receiving unit>-<YYMMDD>-`, DOMAIN §4).

        Handed out in process: after the first of the day, numbering costs no database round
        trip (it was a `findAndModify` per reception). The unique index on `code` keeps numbers
        from repeating across processes: a number another process stored first makes the write
        raise `DossierCodeTaken`, and `skip_taken` moves this process past it. A reception that
        fails for another reason leaves a gap, never a duplicate.
        """
        if code_prefix not in self._next_number:
            highest = await self._highest_number(code_prefix)
            self._next_number.setdefault(code_prefix, highest + 1)
            while len(self._next_number) > _NUMBERING_PREFIXES_KEPT:  # yesterday's prefixes
                self._next_number.pop(next(iter(self._next_number)))
        sequence = self._next_number[code_prefix]
        self._next_number[code_prefix] = sequence + 1
        return sequence

    async def skip_taken(self, code_prefix: str, sequence: int) -> None:
        """After `DossierCodeTaken`: continue above the highest number stored for the prefix."""
        highest = await self._highest_number(code_prefix)
        self._next_number[code_prefix] = max(self._next_number.get(code_prefix, 1), highest + 1, sequence + 1)

    async def _highest_number(self, code_prefix: str) -> int:
        cursor = (
            self.dossiers.find({"code": {"$gte": f"{code_prefix}0000", "$lte": f"{code_prefix}9999"}}, {"code": 1})
            .sort("code", DESCENDING)
            .limit(1)
        )
        latest = await cursor.to_list(length=1)
        return int(latest[0]["code"][-4:]) if latest else 0

    async def insert_with_events(self, dossier: Document, events: list[Event]) -> None:
        """The dossier and its events in one transaction: both or neither."""

        async def work(session: AsyncClientSession) -> None:
            await self.dossiers.insert_one(dossier, session=session)
            await add_to_outbox(self.db, events, session=session)
            await self._side_writes(dossier, session)

        try:
            await in_transaction(self.client, work)
        except DuplicateKeyError as exc:
            raise _code_taken(exc, dossier) from exc

    async def _side_writes(
        self, dossier: Document, session: AsyncClientSession, previous: Document | None = None
    ) -> None:
        """Applicant registry and national-portal sync marker, in the dossier's transaction.

        The registry line is rewritten only when it changed from `previous` (when known): most
        consumed events (payments, documents, shipments) change nothing in it.
        """
        entry = registry_entry(dossier)
        if entry is not None and (previous is None or entry != registry_entry(previous)):
            await self.db[REGISTRY_COLLECTION].replace_one({"_id": entry["_id"]}, entry, upsert=True, session=session)
        if self.sync_enabled and dossier.get("code"):
            await mark_for_national_sync(self.db, dossier, session)

    async def replace_with_events(self, dossier: Document, expected_version: int, events: list[Event]) -> bool:
        """Optimistic update: False when someone else changed the dossier first."""

        async def work(session: AsyncClientSession) -> bool:
            result = await self.dossiers.replace_one(
                {"_id": dossier["_id"], "version": expected_version}, dossier, session=session
            )
            if result.matched_count != 1:
                return False
            await add_to_outbox(self.db, events, session=session)
            await self._side_writes(dossier, session)
            return True

        try:
            return await in_transaction(self.client, work)
        except DuplicateKeyError as exc:
            raise _code_taken(exc, dossier) from exc

    async def apply_consumed(self, consumer: str, event_id: str, query: dict[str, Any], mutate: Mutation) -> str:
        """Idempotent consumer write: mark `event_id` processed and change the dossier in one
        transaction. Returns "applied", "unchanged", "unknown_dossier" or "duplicate"."""

        async def work(session: AsyncClientSession) -> str:
            await claim_event(self.db, consumer, event_id, session=session)
            doc = await self.dossiers.find_one(query, session=session)
            if doc is None:
                return "unknown_dossier"
            if doc.get("replica_of"):
                return "replica"
            change = await mutate(doc)
            if change is None:
                return "unchanged"
            new_doc, events = change
            result = await self.dossiers.replace_one(
                {"_id": doc["_id"], "version": doc["version"]}, new_doc, session=session
            )
            if result.matched_count != 1:
                raise _Concurrent
            await add_to_outbox(self.db, events, session=session)
            await self._side_writes(new_doc, session, previous=doc)
            return "applied"

        for _ in range(5):
            try:
                return await in_transaction(self.client, work)
            except AlreadyProcessed:
                return "duplicate"
            except _Concurrent:
                continue
        raise RuntimeError(f"dossier kept changing while applying event {event_id}")

    async def late_candidates(self, now: datetime, limit: int = 200) -> list[Document]:
        """Open dossiers past their legal due moment and not yet flagged, or with a late step.

        Index-friendly queries (kit.mongo.find_union) select small projections; the rule itself
        is checked here, then the chosen dossiers are read whole.
        """
        queries: list[dict[str, Any]] = []
        for status in _OPEN_STATUSES:
            queries.append({"late": False, "status": status, "statutory_due_at": {"$lt": now}})
            queries.append({"late": False, "status": status, "statutory_due_at": None})
        queries.append({"status": "processing", "steps.status": "active", "steps.due_at": {"$lt": now}})
        fields = {"replica_of": 1, "late": 1, "status": 1, "statutory_due_at": 1, "due_at": 1, "steps": 1}
        found = await find_union(self.dossiers, queries, sort="due_at", limit=20 * limit, projection=fields)
        chosen = [d["_id"] for d in found if _is_late_candidate(d, now)][:limit]
        if not chosen:
            return []
        return await self.dossiers.find({"_id": {"$in": chosen}}).to_list(length=limit)

    async def late_open_by_unit(self) -> dict[str, float]:
        """Unfinished dossiers flagged late, per receiving unit (this office's own, not replicas)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"late": True, "status": {"$in": _OPEN_STATUSES}, "replica_of": {"$exists": False}}},
            {"$group": {"_id": "$unit_code", "n": {"$sum": 1}}},
        ]
        cursor = await self.dossiers.aggregate(pipeline)
        return {str(doc["_id"]): float(doc["n"]) async for doc in cursor}

    async def get(self, dossier_id: str) -> Document | None:
        return await self.dossiers.find_one({"_id": dossier_id})

    async def get_by_code(self, code: str) -> Document | None:
        return await self.dossiers.find_one({"code": code})

    async def list_any(
        self,
        queries: list[dict[str, Any]],
        *,
        keep: Callable[[Document], bool] | None = None,
        limit: int = 50,
        skip: int = 0,
    ) -> list[Document]:
        """Dossiers matching any of `queries` and `keep`, newest received first (one indexed read
        each; `keep` holds what no index of the query has, checked while reading)."""
        return await find_union(
            self.dossiers, queries, sort="received_at", descending=True, limit=limit, skip=skip, keep=keep
        )


_OPEN_STATUSES = ["received", "transferred", "processing", "supplement_requested", "awaiting_payment", "suspended"]


def _before(moment: Any, now: datetime) -> bool:
    if not isinstance(moment, datetime):
        return False
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) < now


def _is_late_candidate(doc: Document, now: datetime) -> bool:
    """Open, not a province copy, and past its due moment unflagged — or with an active step past due."""
    if "replica_of" in doc or doc.get("status") not in _OPEN_STATUSES:
        return False
    if doc.get("late") is not True:
        due = doc.get("statutory_due_at") if doc.get("statutory_due_at") is not None else doc.get("due_at")
        if _before(due, now):
            return True
    return doc.get("status") == "processing" and any(
        step.get("status") == "active" and _before(step.get("due_at"), now) and step.get("late_flagged_at") is None
        for step in doc.get("steps") or []
    )


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
