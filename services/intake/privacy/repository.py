"""Persistence of the personal-data records: the read audit trail, consents, deletion requests,
and the reads and anonymisation of one person's data.

* `audit_log` — one document per read (model.privacy.AuditRecord); the applicant registry's
  searches and profile reads land here too. Indexed for the inspector's queries: by scope and
  time, by dossier code, by subject.
* `consents` — one document per grant or withdrawal (never updated): the history is the record.
* `deletion_requests` — each request with its decision and reasons (never updated).
* `erasure_confirmations` — one per request × dossier × service that confirmed erasing its
  copies (`privacy.erased.<service>`), shown with the request's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import DossierErasedPayload, Event
from services.intake.model.dossier import Dossier
from services.intake.model.privacy import (
    SETTLED_FEEDBACK,
    AuditRecord,
    ConsentEvent,
    DeletionRequest,
    anonymised_applicant,
    erased_feedback,
    erased_rating,
)
from services.intake.registry import REGISTRY_COLLECTION
from services.intake.repository import mark_for_national_sync
from services.kit.mongo import Document, find_union, in_transaction
from services.kit.outbox import add_to_outbox

AUDIT_COLLECTION = "audit_log"
MAX_PERSON_DOSSIERS = 2000


def _plain(value: Any) -> Any:
    """Enums as their values, at any depth (BSON has no enum type)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _to_doc(model: AuditRecord | ConsentEvent | DeletionRequest) -> Document:
    doc: Document = _plain(model.model_dump(mode="python"))
    doc["_id"] = doc.pop("id")
    return doc


def _from_doc(doc: Document) -> Document:
    data = dict(doc)
    data["id"] = data.pop("_id")
    return data


def _scoped_to_unit(unit_code: str) -> list[dict[str, Any]]:
    """Dossiers the unit received or handles: one query each (merged by `find_union`, no `$or`)."""
    return [{"unit_path": unit_code}, {"handling.unit_path": unit_code}]


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.audit = db[AUDIT_COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.audit.create_index([("at", DESCENDING)])
        await self.audit.create_index([("scope", ASCENDING), ("at", DESCENDING)])
        await self.audit.create_index([("dossier_codes", ASCENDING), ("at", DESCENDING)])
        await self.audit.create_index([("subject", ASCENDING), ("at", DESCENDING)])

    async def add(self, record: AuditRecord) -> None:
        await self.audit.insert_one(_to_doc(record))

    async def query(
        self,
        unit_code: str,
        *,
        dossier_code: str | None = None,
        subject: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        skip: int = 0,
    ) -> tuple[list[AuditRecord], bool]:
        """A page of the records the unit may see, newest first, and whether more follow."""
        query: dict[str, Any] = {"scope": unit_code}
        if dossier_code:
            query["dossier_codes"] = dossier_code
        if subject:
            query["subject"] = subject
        if action:
            query["action"] = action
        if since is not None or until is not None:
            query["at"] = {k: v for k, v in (("$gte", since), ("$lte", until)) if v is not None}
        cursor = self.audit.find(query).sort([("at", DESCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit + 1)
        docs = await cursor.to_list(length=limit + 1)
        records = [AuditRecord.model_validate(_from_doc(d)) for d in docs[:limit]]
        return records, len(docs) > limit


@dataclass(frozen=True)
class Anonymised:
    """What else one dossier's anonymisation erased."""

    feedback: int = 0
    ratings: int = 0


class PrivacyRepository:
    """Consents, deletion requests, and one person's data across intake's collections."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.sync_enabled = False  # as DossierRepository's: set by the wiring
        self.consents = db["consents"]
        self.deletions = db["deletion_requests"]
        self.confirmations = db["erasure_confirmations"]
        self.dossiers = db["dossiers"]
        self.registry = db[REGISTRY_COLLECTION]
        self.feedback = db["feedback"]
        self.ratings = db["ratings"]

    async def ensure_indexes(self) -> None:
        await self.feedback.create_index("dossier_id", sparse=True)  # a deletion request's erasure
        await self.consents.create_index([("person", ASCENDING), ("at", ASCENDING)])
        await self.deletions.create_index([("person", ASCENDING), ("at", DESCENDING)])
        await self.deletions.create_index([("scope", ASCENDING), ("at", DESCENDING)])
        await self.confirmations.create_index("request_id")

    # ---- consents ------------------------------------------------------------------------------
    async def consent_history(self, person: str) -> list[ConsentEvent]:
        docs = await self.consents.find({"person": person}).sort("at", ASCENDING).to_list(length=10_000)
        return [ConsentEvent.model_validate(_from_doc(d)) for d in docs]

    async def add_consents(self, events: list[ConsentEvent]) -> None:
        if events:
            await self.consents.insert_many([_to_doc(e) for e in events])

    # ---- the person's data ------------------------------------------------------------------
    async def dossiers_of(self, person: str, unit_code: str) -> list[Dossier]:
        """The person's dossiers (as applicant, by ID number) that the unit may see."""
        queries = [{"applicant.id_number": person, **scope} for scope in _scoped_to_unit(unit_code)]
        docs = await find_union(self.dossiers, queries, sort="created_at", limit=MAX_PERSON_DOSSIERS)
        return [Dossier.from_document(d) for d in docs]

    async def feedback_of(self, dossier_ids: list[str], phones: list[str], unit_code: str) -> list[Document]:
        """Feedback the person sent (by their phone numbers or about their dossiers), in the unit."""
        if not dossier_ids and not phones:
            return []
        queries = [
            {"unit_path": unit_code, field: {"$in": values}}
            for field, values in (("dossier_id", dossier_ids), ("phone", phones))
            if values
        ]
        return await find_union(self.feedback, queries, sort="received_at", limit=1000)

    async def ratings_of(self, dossier_ids: list[str]) -> list[Document]:
        if not dossier_ids:
            return []
        return await self.ratings.find({"dossier_id": {"$in": dossier_ids}}).to_list(length=len(dossier_ids))

    # ---- deletion -------------------------------------------------------------------------------
    async def add_deletion_request(self, request: DeletionRequest) -> None:
        await self.deletions.insert_one(_to_doc(request))

    async def deletion_requests(self, unit_code: str, *, limit: int, skip: int) -> tuple[list[DeletionRequest], bool]:
        cursor = self.deletions.find({"scope": unit_code}).sort("at", DESCENDING).skip(skip).limit(limit + 1)
        docs = await cursor.to_list(length=limit + 1)
        return [DeletionRequest.model_validate(_from_doc(d)) for d in docs[:limit]], len(docs) > limit

    async def record_erasure(self, erased: DossierErasedPayload, at: datetime) -> None:
        """One service's confirmation for one dossier of a request; a repeat changes nothing
        but keeps the larger count (a redelivered erasure finds nothing left to erase)."""
        await self.confirmations.update_one(
            {"_id": f"{erased.deletion_request_id}:{erased.dossier_id}:{erased.service}"},
            {
                "$setOnInsert": {
                    "request_id": erased.deletion_request_id,
                    "dossier_id": erased.dossier_id,
                    "dossier_code": erased.dossier_code,
                    "service": erased.service,
                    "at": at,
                },
                "$max": {"records": erased.records},
            },
            upsert=True,
        )

    async def erasures_of(self, request_ids: list[str]) -> dict[str, list[Document]]:
        """The confirmations of these requests, by request, in service order."""
        if not request_ids:
            return {}
        found: dict[str, list[Document]] = {}
        docs = await self.confirmations.find({"request_id": {"$in": request_ids}}, {"_id": 0}).to_list(length=None)
        for doc in sorted(docs, key=lambda d: (d["service"], d.get("dossier_code") or "")):
            found.setdefault(doc.pop("request_id"), []).append(doc)
        return found

    async def deletion_requests_of(self, person: str, unit_code: str) -> list[DeletionRequest]:
        docs = await self.deletions.find({"person": person, "scope": unit_code}).sort("at", ASCENDING).to_list(100)
        return [DeletionRequest.model_validate(_from_doc(d)) for d in docs]

    async def count_elsewhere(self, person: str, unit_code: str) -> int:
        """The person's dossiers that the unit may not see (held by other units)."""
        return await self.dossiers.count_documents(
            {"applicant.id_number": person, "unit_path": {"$ne": unit_code}, "handling.unit_path": {"$ne": unit_code}}
        )

    async def anonymise(self, d: Dossier, at: datetime, events: list[Event]) -> Anonymised | None:
        """Erase the applicant's data and the form data of one dossier (optimistic on its
        version), its applicant-registry line, the complainant of settled feedback about it and
        the comment of its rating; mark it for the national portal's synchronisation (when one
        is configured) and queue `events` (the other services erase their copies on them); all
        in one transaction. None when the dossier changed meanwhile."""

        async def work(session: AsyncClientSession) -> Anonymised | None:
            result = await self.dossiers.update_one(
                {"_id": d.id, "version": d.version, "anonymised_at": None},
                {
                    "$set": {"applicant": anonymised_applicant(d.applicant.kind), "form_data": {}, "anonymised_at": at},
                    "$inc": {"version": 1},
                },
                session=session,
            )
            if result.modified_count != 1:
                return None
            await self.registry.delete_one({"_id": d.id}, session=session)
            if self.sync_enabled and d.code:  # the national portal's copy follows
                marker = {"_id": d.id, "version": d.version + 1, "code": d.code, "unit_path": d.unit_path}
                await mark_for_national_sync(self.db, marker, session)
            feedback = await self.feedback.update_many(
                {"dossier_id": d.id, "status": {"$in": list(SETTLED_FEEDBACK)}, "anonymised_at": None},
                {"$set": erased_feedback(at), "$inc": {"version": 1}},
                session=session,
            )
            ratings = await self.ratings.update_many(
                {"dossier_id": d.id, "anonymised_at": None}, {"$set": erased_rating(at)}, session=session
            )
            await add_to_outbox(self.db, events, session=session)
            return Anonymised(feedback=feedback.modified_count, ratings=ratings.modified_count)

        return await in_transaction(self.db.client, work)
