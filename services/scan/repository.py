"""Scan's MongoDB persistence: documents, component slots, stored objects, audit, retention.

Collections:

* `documents` — one record per document of a dossier component (or result);
* `components` — one slot per (dossier, kind, component) naming its current document; every
  upload writes it in its transaction, so two concurrent uploads of one component conflict
  and one is retried instead of both staying active;
* `objects` — one entry per stored S3 object: the last time a record started to use it and
  the deletion lease of the retention job (see `touch_object` / `acquire_delete_lease`);
* `access_audit` — signed URLs handed out and other reads of personal data;
* `retention_log` — what retention deleted;
* `dossiers` — dossiers announced by intake (`dossier.received`), to refuse unknown ones;
* `public_attempts` — failed second factors of the public lookup (rate limit).

State changes and their events are written in one transaction with the outbox.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.contracts.events import Event
from services.kit.mongo import Document, find_then_filter, find_union, in_transaction, matches
from services.kit.outbox import add_to_outbox
from services.scan.model import (
    AccessRecord,
    DocumentKind,
    DocumentRecord,
    DocumentStatus,
    LegalHold,
    Unavailable,
)


def _plain(value: Any) -> Any:
    """BSON-friendly values: enums as their value, dates as ISO strings (datetimes stay)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_doc(record: DocumentRecord) -> Document:
    doc: Document = _plain(record.model_dump())
    doc["_id"] = doc.pop("id")
    return doc


def from_doc(doc: Document) -> DocumentRecord:
    data = dict(doc)
    data["id"] = data.pop("_id")
    return DocumentRecord.model_validate(data)


def _slot_id(dossier_code: str, kind: DocumentKind, component_code: str) -> str:
    return f"{dossier_code}/{kind.value}/{component_code}"


class ScanRepository:
    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db
        self.documents = db["documents"]
        self.components = db["components"]
        self.objects = db["objects"]
        self.audit = db["access_audit"]
        self.retention_log = db["retention_log"]
        self.dossiers = db["dossiers"]
        self.public_attempts = db["public_attempts"]

    async def ensure_indexes(self) -> None:
        await self.documents.create_index([("dossier_code", ASCENDING), ("kind", ASCENDING),
                                           ("component_code", ASCENDING)])
        await self.documents.create_index([("owner_id_hash", ASCENDING), ("uploaded_at", DESCENDING)])
        await self.documents.create_index([("status", ASCENDING), ("retention_until", ASCENDING)])
        await self.documents.create_index("object_key")
        await self.objects.create_index("check_after")
        await self.audit.create_index([("at", DESCENDING)])
        await self.audit.create_index([("dossier_code", ASCENDING), ("at", DESCENDING)])
        await self.audit.create_index([("document_id", ASCENDING), ("at", DESCENDING)])
        await self.retention_log.create_index([("at", DESCENDING)])
        await self.retention_log.create_index([("unit_path", ASCENDING), ("at", DESCENDING)])  # an auditor's list
        await self.public_attempts.create_index([("dossier_code", ASCENDING), ("at", DESCENDING)])

    # ---- documents ------------------------------------------------------------------------
    async def get(self, document_id: str) -> DocumentRecord | None:
        doc = await self.documents.find_one({"_id": document_id})
        return from_doc(doc) if doc else None

    async def find_active_same_content(self, dossier_code: str, kind: DocumentKind, component_code: str,
                                       sha256: str, session: AsyncClientSession | None = None
                                       ) -> DocumentRecord | None:
        doc = await self.documents.find_one(
            {"dossier_code": dossier_code, "kind": kind.value, "component_code": component_code,
             "sha256": sha256, "status": DocumentStatus.ACTIVE.value},
            session=session,
        )
        return from_doc(doc) if doc else None

    async def save_document(self, record: DocumentRecord, events: list[Event]) -> tuple[DocumentRecord, bool]:
        """Store a new current document of its component (superseding the previous one) with its
        events; returns (the record, True) — or (the already active identical record, False)."""

        async def work(session: AsyncClientSession) -> tuple[DocumentRecord, bool]:
            same = await self.find_active_same_content(record.dossier_code, record.kind, record.component_code,
                                                       record.sha256, session)
            if same is not None:
                return same, False
            await self.components.update_one(
                {"_id": _slot_id(record.dossier_code, record.kind, record.component_code)},
                {"$set": {"current_document_id": record.id, "updated_at": record.uploaded_at,
                          "reused": record.reused},
                 "$inc": {"versions": 1}},
                upsert=True, session=session,
            )
            await self.documents.update_many(
                {"dossier_code": record.dossier_code, "kind": record.kind.value,
                 "component_code": record.component_code, "status": DocumentStatus.ACTIVE.value},
                {"$set": {"status": DocumentStatus.SUPERSEDED.value, "superseded_by": record.id}},
                session=session,
            )
            await self.documents.insert_one(to_doc(record), session=session)
            await add_to_outbox(self.db, events, session=session)
            return record, True

        return await in_transaction(self.client, work)

    async def list_for_dossier(self, dossier_code: str, unit_code: str, *, include_inactive: bool
                               ) -> list[DocumentRecord]:
        # The dossier alone goes to the database (the prefix of its index); the unit and the status
        # are checked here: the embedded server scans the collection for predicates off the index.
        wanted: dict[str, Any] = {"unit_path": unit_code}
        if not include_inactive:
            wanted["status"] = DocumentStatus.ACTIVE.value
        cursor = self.documents.find({"dossier_code": dossier_code}).sort(
            [("kind", ASCENDING), ("component_code", ASCENDING), ("uploaded_at", DESCENDING)])
        return [from_doc(d) for d in await cursor.to_list(length=1000) if matches(d, wanted)]

    async def results_for_dossier(self, dossier_code: str) -> list[DocumentRecord]:
        cursor = self.documents.find({"dossier_code": dossier_code, "kind": DocumentKind.RESULT.value})
        active = {"status": DocumentStatus.ACTIVE.value}  # checked here: off the index
        return [from_doc(d) for d in await cursor.to_list(length=100) if matches(d, active)]

    async def list_by_owner(self, owner_id_hash: str, unit_code: str, today: date, limit: int = 200
                            ) -> list[DocumentRecord]:
        """The owner's live documents visible to the unit and still valid (kho dữ liệu)."""
        cursor = self.documents.find({
            "owner_id_hash": owner_id_hash,
            "unit_path": unit_code,
            "status": {"$ne": DocumentStatus.DELETED.value},
            "valid_until": {"$not": {"$lt": today.isoformat()}},  # none, or not yet passed (no top-level $or)
        }).sort("uploaded_at", DESCENDING).limit(limit)
        return [from_doc(d) for d in await cursor.to_list(length=limit)]

    async def set_legal_hold(self, document_id: str, hold: LegalHold | None) -> None:
        value = _plain(hold.model_dump()) if hold else None
        await self.documents.update_one({"_id": document_id}, {"$set": {"legal_hold": value}})

    # ---- stored objects -------------------------------------------------------------------
    async def touch_object(self, key: str, thumbnail_key: str | None, unit_path: list[str], now: datetime
                           ) -> None:
        """Record that a record is about to use `key`; refuse while retention is deleting it.

        One upsert that matches only an object without a live deletion lease: while the lease
        holds, the upsert's insert collides with the object's `_id` and that is the refusal.
        (Not a `findAndModify`, which the embedded server answers by reading every object.)
        """
        try:
            await self.objects.update_one(
                {"_id": key, "lease_until": {"$not": {"$gt": now}}},  # none, or expired
                {"$set": {"last_ref_at": now, "thumbnail_key": thumbnail_key},
                 "$setOnInsert": {"created_at": now, "unit_path": unit_path}},
                upsert=True,
            )
        except DuplicateKeyError:
            raise Unavailable("This document's stored copy is being deleted by retention; try again shortly",
                              code="object_busy") from None

    async def live_refs(self, key: str) -> int:
        return await self.documents.count_documents(
            {"object_key": key, "status": {"$ne": DocumentStatus.DELETED.value}})

    async def objects_to_check(self, now: datetime, limit: int) -> list[Document]:
        cursor = self.objects.find({"check_after": {"$lte": now}}).limit(limit)
        return await cursor.to_list(length=limit)

    async def clear_check(self, key: str) -> None:
        await self.objects.update_one({"_id": key}, {"$set": {"check_after": None}})

    async def acquire_delete_lease(self, key: str, now: datetime, grace: timedelta, lease: timedelta
                                   ) -> datetime | None:
        """Take the deletion lease when no record started using the object within `grace`."""
        until = now + lease
        taken = await self.objects.update_one(
            {"_id": key, "check_after": {"$lte": now}, "last_ref_at": {"$lt": now - grace},
             "lease_until": {"$not": {"$gte": now}}},  # none, or expired (no top-level $or)
            {"$set": {"lease_until": until}},
        )
        return until if taken.matched_count else None

    async def release_lease(self, key: str, lease_until: datetime, *, deleted: bool) -> None:
        if deleted:
            await self.objects.delete_one({"_id": key, "lease_until": lease_until})
        else:
            await self.objects.update_one({"_id": key, "lease_until": lease_until},
                                          {"$set": {"lease_until": None, "check_after": None}})

    # ---- retention ------------------------------------------------------------------------
    async def due_for_deletion(self, now: datetime, limit: int) -> list[DocumentRecord]:
        """Live documents past their retention date and under no legal hold, oldest first.

        One read per live status on the `(status, retention_until)` index (an equality and a
        range: one index lookup on either server); the rare held document is skipped while
        reading. A single `status: {$ne: deleted}` filter would be served by no index on the
        embedded server and read every document ever stored, deleted ones included.
        """
        live = [s.value for s in DocumentStatus if s is not DocumentStatus.DELETED]
        docs = await find_union(
            self.documents, [{"status": status, "retention_until": {"$lte": now}} for status in live],
            sort="retention_until", limit=limit, keep=lambda d: d.get("legal_hold") is None,
        )
        return [from_doc(d) for d in docs]

    async def mark_deleted(self, record: DocumentRecord, now: datetime, events: list[Event],
                           log_entry: Document) -> bool:
        """Mark one record deleted (unless held or already deleted), log it, flag its object."""

        async def work(session: AsyncClientSession) -> bool:
            result = await self.documents.update_one(
                {"_id": record.id, "status": {"$ne": DocumentStatus.DELETED.value}, "legal_hold": None},
                {"$set": {"status": DocumentStatus.DELETED.value, "deleted_at": now}},
                session=session,
            )
            if result.modified_count == 0:
                return False
            await self.objects.update_one(
                {"_id": record.object_key},
                {"$set": {"check_after": now},
                 "$setOnInsert": {"last_ref_at": record.uploaded_at, "thumbnail_key": record.thumbnail_key,
                                  "unit_path": record.unit_path, "created_at": now}},
                upsert=True, session=session,
            )
            await self.retention_log.insert_one(log_entry, session=session)
            await add_to_outbox(self.db, events, session=session)
            return True

        return await in_transaction(self.client, work)

    async def add_retention_log(self, entry: Document) -> None:
        await self.retention_log.insert_one(entry)

    async def list_retention_log(self, unit_code: str, limit: int) -> list[Document]:
        cursor = self.retention_log.find({"unit_path": unit_code}, {"_id": 0}).sort("at", DESCENDING).limit(limit)
        return await cursor.to_list(length=limit)

    # ---- audit ----------------------------------------------------------------------------
    async def add_access(self, records: Iterable[AccessRecord]) -> None:
        docs = []
        for record in records:
            doc = _plain(record.model_dump())
            doc["_id"] = doc.pop("id")
            docs.append(doc)
        if docs:
            await self.audit.insert_many(docs)

    async def list_access(self, unit_code: str, *, dossier_code: str | None, document_id: str | None,
                          since: datetime | None, limit: int) -> list[AccessRecord]:
        # One index per read, (document_id, at), (dossier_code, at) or (at); the unit and the
        # other identifier are checked while reading (see kit.mongo.find_then_filter).
        wanted: dict[str, Any] = {"unit_path": unit_code}
        indexed: dict[str, Any] = {"at": {"$gte": since or datetime.min.replace(tzinfo=UTC)}}
        if document_id:
            indexed["document_id"] = document_id
            if dossier_code:
                wanted["dossier_code"] = dossier_code
        elif dossier_code:
            indexed["dossier_code"] = dossier_code
        out = []
        for doc in await find_then_filter(self.audit, indexed, wanted, sort="at", limit=limit):
            doc["id"] = doc.pop("_id")
            out.append(AccessRecord.model_validate(doc))
        return out

    # ---- dossiers announced by intake ----------------------------------------------------------
    async def register_dossier(self, dossier_code: str, unit_code: str, unit_path: list[str],
                               received_at: datetime, event_id: str, component_ids: list[str] | None = None
                               ) -> None:
        await self.dossiers.update_one(
            {"_id": dossier_code},
            {"$set": {"unit_code": unit_code, "unit_path": unit_path, "received_at": received_at,
                      "event_id": event_id, "component_ids": component_ids or []}},
            upsert=True,
        )

    async def get_dossier(self, dossier_code: str) -> Document | None:
        return await self.dossiers.find_one({"_id": dossier_code})

    # ---- public lookup's second factor -----------------------------------------------------------
    async def count_failures(self, dossier_code: str, since: datetime) -> int:
        return await self.public_attempts.count_documents({"dossier_code": dossier_code, "at": {"$gte": since}})

    async def record_failure(self, dossier_code: str, at: datetime) -> None:
        await self.public_attempts.insert_one({"dossier_code": dossier_code, "at": at})
