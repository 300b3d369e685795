"""Scan on the bus: the `document.*` events and the consumer the scan service runs.

Every event goes through scan's outbox onto the DOCUMENT stream, which scan owns.

Why `document.component_digitised` and not `dossier.component_digitised`: the issue names the
dossier-level event `dossier.component_digitised`, but the DOSSIER stream (`dossier.>`)
belongs to intake and a service publishes only on its own stream (one owner per stream, so
the duplicate window and retention of each stream stay under one service's control). Scan
therefore publishes it as `document.component_digitised` on DOCUMENT; intake consumes it and
marks the dossier's component as digitised (số hoá thành phần hồ sơ) and, when `reused` is
true, as reused from the citizen's data store (tái sử dụng) — both national indicators of
Decision 766/QĐ-TTg. Likewise the result document is announced as `document.result_digitised`
(kết quả giải quyết được số hoá).

Personal data: no event carries the owner's ID number or a hash of it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field

from services.contracts.events import Event
from services.contracts.streams import DOSSIER, ConsumerSpec


class DocumentKind(StrEnum):
    """What a digitised document is for a dossier."""

    COMPONENT = "component"  # thành phần hồ sơ (giấy tờ người dân nộp)
    RESULT = "result"  # kết quả giải quyết thủ tục


class DocumentStoredPayload(BaseModel):
    document_id: str
    dossier_code: str
    component_code: str = Field(description="Component id of the procedure; 'result' for a result document")
    kind: DocumentKind
    object_key: str = Field(description="S3 key: units/<unit_code>/sha256/<hash>")
    sha256: str
    size: int = Field(ge=0, description="Bytes of the stored PDF")
    pages: int = Field(ge=1)
    content_type: str = "application/pdf"
    source_formats: list[str] = Field(default_factory=list, description="pdf | jpeg | png | tiff, per file")
    new_object: bool = Field(description="False when identical content was already stored (deduplicated)")
    uploaded_by: str
    uploaded_at: datetime
    retention_until: datetime | None = None
    valid_until: date | None = None


class DocumentStored(Event):
    """A digitised document was stored (lưu trữ bản số hoá)."""

    subject: ClassVar[str] = "document.stored"
    payload: DocumentStoredPayload


class ComponentDigitisedPayload(BaseModel):
    document_id: str
    dossier_code: str
    component_code: str
    pages: int = Field(ge=1)
    reused: bool = Field(False, description="Taken from the citizen's document store, not scanned again")
    reused_from_document_id: str | None = None
    reused_from_dossier_code: str | None = None
    digitised_at: datetime
    digitised_by: str


class ComponentDigitised(Event):
    """A dossier component is digitised (or reused); intake records it on the dossier."""

    subject: ClassVar[str] = "document.component_digitised"
    payload: ComponentDigitisedPayload


class ResultDigitisedPayload(BaseModel):
    document_id: str
    dossier_code: str
    pages: int = Field(ge=1)
    digitised_at: datetime
    digitised_by: str


class ResultDigitised(Event):
    """The result document of a dossier is digitised (`result.digitised`, a national indicator)."""

    subject: ClassVar[str] = "document.result_digitised"
    payload: ResultDigitisedPayload


class DocumentDeletedPayload(BaseModel):
    document_id: str
    dossier_code: str
    component_code: str
    kind: DocumentKind
    reason: str = Field(description="retention: the retention period ended")
    object_key: str = Field(description="Deleted from S3 once no live record uses it (see the retention log)")
    deleted_at: datetime


class DocumentDeleted(Event):
    """A document reached the end of its retention period and was deleted (hết thời hạn lưu trữ)."""

    subject: ClassVar[str] = "document.deleted"
    payload: DocumentDeletedPayload


SCAN_EVENTS: tuple[type[Event], ...] = (DocumentStored, ComponentDigitised, ResultDigitised, DocumentDeleted)

SCAN_DOSSIER_RECEIVED = ConsumerSpec(
    durable="scan-dossier-received",
    stream=DOSSIER.name,
    subjects=("dossier.received",),
    service="scan",
    description="scan learns each dossier's code and unit path, to refuse uploads for unknown dossiers",
    workers=4,
)
