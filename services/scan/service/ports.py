"""Scan's ports (repository, object store, preparer, clock), settings and results."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from services.contracts.events import Event
from services.kit.auth import Principal
from services.kit.mongo import Document
from services.scan.model import (
    AccessRecord,
    Actor,
    DocumentKind,
    DocumentRecord,
    LegalHold,
    PreparedDocument,
    RetentionPolicy,
    ScanLimits,
    SpooledFile,
)

# ---- ports ------------------------------------------------------------------------------------

class Repository(Protocol):
    async def get(self, document_id: str) -> DocumentRecord | None: ...
    async def find_active_same_content(self, dossier_code: str, kind: DocumentKind, component_code: str,
                                       sha256: str) -> DocumentRecord | None: ...
    async def save_document(self, record: DocumentRecord, events: list[Event]
                            ) -> tuple[DocumentRecord, bool]: ...
    async def list_for_dossier(self, dossier_code: str, unit_code: str, *, include_inactive: bool
                               ) -> list[DocumentRecord]: ...
    async def results_for_dossier(self, dossier_code: str) -> list[DocumentRecord]: ...
    async def list_by_owner(self, owner_id_hash: str, unit_code: str, today: date) -> list[DocumentRecord]: ...
    async def set_legal_hold(self, document_id: str, hold: LegalHold | None) -> None: ...
    async def touch_object(self, key: str, thumbnail_key: str | None, unit_path: list[str], now: datetime
                           ) -> None: ...
    async def live_refs(self, key: str) -> int: ...
    async def objects_to_check(self, now: datetime, limit: int) -> list[Document]: ...
    async def clear_check(self, key: str) -> None: ...
    async def acquire_delete_lease(self, key: str, now: datetime, grace: timedelta, lease: timedelta
                                   ) -> datetime | None: ...
    async def release_lease(self, key: str, lease_until: datetime, *, deleted: bool) -> None: ...
    async def due_for_deletion(self, now: datetime, limit: int) -> list[DocumentRecord]: ...
    async def mark_deleted(self, record: DocumentRecord, now: datetime, events: list[Event],
                           log_entry: Document) -> bool: ...
    async def add_retention_log(self, entry: Document) -> None: ...
    async def list_retention_log(self, unit_code: str, limit: int) -> list[Document]: ...
    async def add_access(self, records: Iterable[AccessRecord]) -> None: ...
    async def list_access(self, unit_code: str, *, dossier_code: str | None, document_id: str | None,
                          since: datetime | None, limit: int) -> list[AccessRecord]: ...
    async def register_dossier(self, dossier_code: str, unit_code: str, unit_path: list[str],
                               received_at: datetime, event_id: str, component_ids: list[str] | None = None
                               ) -> None: ...
    async def get_dossier(self, dossier_code: str) -> Document | None: ...
    async def count_failures(self, dossier_code: str, since: datetime) -> int: ...
    async def record_failure(self, dossier_code: str, at: datetime) -> None: ...


class ObjectStore(Protocol):
    async def exists(self, key: str) -> bool: ...
    async def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None: ...
    async def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None: ...
    async def remove(self, key: str) -> None: ...
    async def presign(self, key: str, ttl: timedelta, *, filename: str, content_type: str,
                      inline: bool = False) -> str: ...


Preparer = Callable[[list[SpooledFile], ScanLimits, Path], PreparedDocument]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ScanConfig:
    limits: ScanLimits
    retention: RetentionPolicy
    pepper: bytes
    url_ttl: timedelta = timedelta(minutes=5)
    require_known_dossier: bool = False
    public_max_attempts: int = 5
    public_lockout: timedelta = timedelta(minutes=15)
    delete_grace: timedelta = timedelta(hours=1)
    delete_lease: timedelta = timedelta(minutes=5)
    retention_batch: int = 500


@dataclass
class UploadOutcome:
    record: DocumentRecord
    created: bool
    new_object: bool = False


@dataclass
class SignedUrl:
    document_id: str
    dossier_code: str
    component_code: str
    kind: DocumentKind
    variant: str
    url: str
    expires_at: datetime
    filename: str


@dataclass
class RetentionReport:
    documents_deleted: int = 0
    objects_deleted: int = 0
    objects_still_used: int = 0
    objects_waiting: int = 0
    deleted_document_ids: list[str] = field(default_factory=list)


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, name=principal.name, unit_code=principal.unit_code)



def caller_path(principal: Principal, seen: list[DocumentRecord]) -> list[str]:
    """The caller's unit and the units above it, as far as the records it could see tell
    (a record's path runs from its unit up to the province, through the caller's unit)."""
    for record in seen:
        if principal.unit_code in record.unit_path:
            return record.unit_path[record.unit_path.index(principal.unit_code):]
    return [principal.unit_code]


class ServiceBase:
    """What every group of use cases holds."""

    def __init__(self, repo: Repository, store: ObjectStore, preparer: Preparer, config: ScanConfig,
                 *, clock: Clock, wake: Callable[[], None] = lambda: None) -> None:
        self.repo = repo
        self.store = store
        self.preparer = preparer
        self.config = config
        self.clock = clock
        self.wake = wake

