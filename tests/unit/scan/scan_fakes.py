"""In-memory fakes of scan's ports, for the service-layer unit tests only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from services.contracts.events import Event
from services.kit.mongo import Document
from services.scan.model import (
    AccessRecord,
    DocumentKind,
    DocumentRecord,
    DocumentStatus,
    LegalHold,
    Unavailable,
)


class FakeRepository:
    def __init__(self) -> None:
        self.docs: dict[str, DocumentRecord] = {}
        self.objects: dict[str, Document] = {}
        self.audit: list[AccessRecord] = []
        self.retention: list[Document] = []
        self.dossiers: dict[str, Document] = {}
        self.failures: list[tuple[str, datetime]] = []
        self.outbox: list[Event] = []

    async def get(self, document_id: str) -> DocumentRecord | None:
        return self.docs.get(document_id)

    async def find_active_same_content(self, dossier_code: str, kind: DocumentKind, component_code: str,
                                       sha256: str) -> DocumentRecord | None:
        return next((d for d in self.docs.values() if (d.dossier_code, d.kind, d.component_code, d.sha256,
                     d.status) == (dossier_code, kind, component_code, sha256, DocumentStatus.ACTIVE)), None)

    async def save_document(self, record: DocumentRecord, events: list[Event]) -> tuple[DocumentRecord, bool]:
        same = await self.find_active_same_content(record.dossier_code, record.kind, record.component_code,
                                                   record.sha256)
        if same:
            return same, False
        for doc in list(self.docs.values()):
            if ((doc.dossier_code, doc.kind, doc.component_code) == (record.dossier_code, record.kind,
                                                                     record.component_code)
                    and doc.status == DocumentStatus.ACTIVE):
                self.docs[doc.id] = doc.model_copy(update={"status": DocumentStatus.SUPERSEDED,
                                                           "superseded_by": record.id})
        self.docs[record.id] = record
        self.outbox.extend(events)
        return record, True

    async def list_for_dossier(self, dossier_code: str, unit_code: str, *, include_inactive: bool
                               ) -> list[DocumentRecord]:
        return [d for d in self.docs.values() if d.dossier_code == dossier_code and unit_code in d.unit_path
                and (include_inactive or d.status == DocumentStatus.ACTIVE)]

    async def results_for_dossier(self, dossier_code: str) -> list[DocumentRecord]:
        return [d for d in self.docs.values() if d.dossier_code == dossier_code and d.kind == DocumentKind.RESULT
                and d.status == DocumentStatus.ACTIVE]

    async def list_by_owner(self, owner_id_hash: str, unit_code: str, today: date) -> list[DocumentRecord]:
        return [d for d in self.docs.values() if d.owner_id_hash == owner_id_hash and unit_code in d.unit_path
                and d.live and (d.valid_until is None or d.valid_until >= today)]

    async def set_legal_hold(self, document_id: str, hold: LegalHold | None) -> None:
        self.docs[document_id] = self.docs[document_id].model_copy(update={"legal_hold": hold})

    async def touch_object(self, key: str, thumbnail_key: str | None, unit_path: list[str], now: datetime
                           ) -> None:
        entry = self.objects.setdefault(key, {"_id": key, "unit_path": unit_path, "lease_until": None,
                                              "check_after": None})
        if entry["lease_until"] is not None and entry["lease_until"] > now:
            raise Unavailable("busy", code="object_busy")
        entry.update(last_ref_at=now, thumbnail_key=thumbnail_key)

    async def live_refs(self, key: str) -> int:
        return sum(1 for d in self.docs.values() if d.object_key == key and d.live)

    async def objects_to_check(self, now: datetime, limit: int) -> list[Document]:
        return [dict(o) for o in self.objects.values() if o["check_after"] is not None and o["check_after"] <= now]

    async def clear_check(self, key: str) -> None:
        self.objects[key]["check_after"] = None

    async def acquire_delete_lease(self, key: str, now: datetime, grace: timedelta, lease: timedelta
                                   ) -> datetime | None:
        entry = self.objects.get(key)
        if (entry is None or entry["check_after"] is None or entry["last_ref_at"] >= now - grace
                or (entry["lease_until"] is not None and entry["lease_until"] >= now)):
            return None
        entry["lease_until"] = now + lease
        return entry["lease_until"]

    async def release_lease(self, key: str, lease_until: datetime, *, deleted: bool) -> None:
        if deleted:
            del self.objects[key]
        else:
            self.objects[key].update(lease_until=None, check_after=None)

    async def due_for_deletion(self, now: datetime, limit: int) -> list[DocumentRecord]:
        return [d for d in self.docs.values() if d.live and d.legal_hold is None
                and d.retention_until is not None and d.retention_until <= now][:limit]

    async def mark_deleted(self, record: DocumentRecord, now: datetime, events: list[Event],
                           log_entry: Document) -> bool:
        current = self.docs[record.id]
        if not current.live or current.legal_hold is not None:
            return False
        self.docs[record.id] = current.model_copy(update={"status": DocumentStatus.DELETED, "deleted_at": now})
        entry = self.objects.setdefault(record.object_key, {"_id": record.object_key, "lease_until": None,
                                                            "last_ref_at": record.uploaded_at,
                                                            "unit_path": record.unit_path})
        entry["check_after"] = now
        self.retention.append(log_entry)
        self.outbox.extend(events)
        return True

    async def add_retention_log(self, entry: Document) -> None:
        self.retention.append(entry)

    async def list_retention_log(self, unit_code: str, limit: int) -> list[Document]:
        return [e for e in self.retention if unit_code in e["unit_path"]][:limit]

    async def add_access(self, records: Iterable[AccessRecord]) -> None:
        self.audit.extend(records)

    async def list_access(self, unit_code: str, *, dossier_code: str | None, document_id: str | None,
                          since: datetime | None, limit: int) -> list[AccessRecord]:
        return [a for a in self.audit if unit_code in a.unit_path
                and (dossier_code is None or a.dossier_code == dossier_code)
                and (document_id is None or a.document_id == document_id)][:limit]

    async def register_dossier(self, dossier_code: str, unit_code: str, unit_path: list[str],
                               received_at: datetime, event_id: str, component_ids: list[str] | None = None
                               ) -> None:
        self.dossiers[dossier_code] = {"_id": dossier_code, "unit_code": unit_code, "unit_path": unit_path,
                                       "component_ids": component_ids or []}

    async def get_dossier(self, dossier_code: str) -> Document | None:
        return self.dossiers.get(dossier_code)

    async def count_failures(self, dossier_code: str, since: datetime) -> int:
        return sum(1 for code, at in self.failures if code == dossier_code and at >= since)

    async def record_failure(self, dossier_code: str, at: datetime) -> None:
        self.failures.append((dossier_code, at))


class FakeStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down = False
        self.puts = 0

    def _check(self) -> None:
        if self.down:
            raise Unavailable("S3 is down", code="storage_unavailable")

    async def exists(self, key: str) -> bool:
        self._check()
        return key in self.objects

    async def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None:
        self._check()
        self.puts += 1
        self.objects[key] = await asyncio.to_thread(path.read_bytes)

    async def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        self._check()
        self.objects[key] = data

    async def remove(self, key: str) -> None:
        self._check()
        self.objects.pop(key, None)

    async def presign(self, key: str, ttl: timedelta, *, filename: str, content_type: str,
                      inline: bool = False) -> str:
        self._check()
        return f"https://s3.test/{key}?ttl={int(ttl.total_seconds())}&name={filename}"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: Any) -> None:
        self.now += timedelta(**delta)
