"""Digitised documents (bản số hoá): identifiers, object keys, the record, retention. Pure."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from services.contracts.scan import DocumentKind
from services.scan.model.errors import ConflictError, Rejected
from services.scan.model.owners import normalize_owner_id, normalize_phone

__all__ = [
    "RESULT_COMPONENT",
    "Actor",
    "DocumentKind",
    "DocumentRecord",
    "DocumentStatus",
    "LegalHold",
    "RetentionPolicy",
    "UploadRequest",
    "download_filename",
    "new_document_id",
    "normalize_component_code",
    "normalize_dossier_code",
    "object_key",
    "parse_unit_path",
    "reuse_problem",
    "thumbnail_key",
]

#: `<receiving unit identifier>-<YYMMDD>-<NNNN>` (DOMAIN §4), e.g. 000.00.12.H01-260113-0042.
_DOSSIER_CODE_RE = re.compile(r"^[0-9A-Z]+(?:\.[0-9A-Z]+)*-\d{6}-\d{4}$")
#: Component ids of the procedure catalogue (e.g. `giay_chung_sinh`).
_COMPONENT_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
_UNIT_CODE_RE = re.compile(r"^[0-9A-Za-z]+(?:[._-][0-9A-Za-z]+)*$")
_PROCEDURE_RE = re.compile(r"^[0-9A-Za-z]+(?:[._-][0-9A-Za-z]+)*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

#: The component code under which a dossier's result document is filed.
RESULT_COMPONENT = "result"
MAX_UNIT_PATH = 6


def new_document_id() -> str:
    return uuid.uuid4().hex


def normalize_dossier_code(raw: str) -> str:
    code = (raw or "").strip().upper()
    if len(code) > 64 or not _DOSSIER_CODE_RE.match(code):
        raise Rejected(
            "dossier_code must look like <unit identifier>-<YYMMDD>-<NNNN>, e.g. 000.00.12.H01-260113-0042",
            code="invalid_dossier_code",
        )
    return code


def normalize_component_code(raw: str) -> str:
    code = (raw or "").strip()
    if not 1 <= len(code) <= 64 or not _COMPONENT_RE.match(code):
        raise Rejected(
            "component_code must be the component id of the procedure (letters, digits, '-', '_', '.')",
            code="invalid_component_code",
        )
    return code


def normalize_procedure_code(raw: str | None) -> str | None:
    code = (raw or "").strip()
    if not code:
        return None
    if len(code) > 32 or not _PROCEDURE_RE.match(code):
        raise Rejected("procedure_code is not a procedure code such as 1.001193", code="invalid_procedure_code")
    return code


def parse_unit_path(raw: str | list[str]) -> list[str]:
    """The dossier's unit and every unit above it (commune → [district] → province).

    Given as `91001,91` in a form field, or as a list. The first code is the dossier's own
    unit: it names the S3 prefix.
    """
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    codes = [p.strip() for p in parts if p and p.strip()]
    if not codes:
        raise Rejected("unit_path is required: the dossier's unit code, then its parents, comma-separated",
                       code="invalid_unit_path")
    if len(codes) > MAX_UNIT_PATH or len(set(codes)) != len(codes):
        raise Rejected("unit_path has too many or repeated unit codes", code="invalid_unit_path")
    for code in codes:
        if len(code) > 32 or not _UNIT_CODE_RE.match(code):
            raise Rejected(f"unit_path contains an invalid unit code: {code[:32]!r}", code="invalid_unit_path")
    return codes


def _check_key_parts(unit_code: str, sha256: str) -> None:
    if not _UNIT_CODE_RE.match(unit_code) or not _SHA256_RE.match(sha256):
        raise ValueError("object keys need a unit code and a lower-case hex SHA-256")


def object_key(unit_code: str, sha256: str) -> str:
    """`units/<unit_code>/sha256/<hash>`: identical content of one unit is stored once."""
    _check_key_parts(unit_code, sha256)
    return f"units/{unit_code}/sha256/{sha256}"


def thumbnail_key(unit_code: str, sha256: str) -> str:
    """The first-page PNG thumbnail of the document whose PDF has this hash."""
    _check_key_parts(unit_code, sha256)
    return f"units/{unit_code}/thumbnails/{sha256}.png"


def parse_valid_until(raw: str | None) -> date | None:
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Rejected("valid_until must be a date YYYY-MM-DD", code="invalid_valid_until") from None


class DocumentStatus(StrEnum):
    ACTIVE = "active"  # the current document of its component
    SUPERSEDED = "superseded"  # replaced by a later upload for the same component (kept until retention)
    DELETED = "deleted"  # retention ended (record kept, object deleted when nothing else uses it)


class Actor(BaseModel):
    subject: str
    name: str = ""
    unit_code: str = ""


class LegalHold(BaseModel):
    """A legal hold (phong toả phục vụ thanh tra, tố tụng) stops retention from deleting."""

    reason: str = Field(min_length=1, max_length=500)
    by: Actor
    at: datetime


class DocumentRecord(BaseModel):
    """One digitised document of one dossier component (or the dossier's result)."""

    id: str
    dossier_code: str
    component_code: str
    kind: DocumentKind
    unit_code: str
    unit_path: list[str]
    procedure_code: str | None = None
    owner_id_hash: str
    second_factors: list[str] = Field(default_factory=list)
    object_key: str
    thumbnail_key: str | None = None
    sha256: str
    size: int
    pages: int
    content_type: str = "application/pdf"
    source_formats: list[str] = Field(default_factory=list)
    thumbnail_source: str = "none"
    original_names: list[str] = Field(default_factory=list)
    uploaded_by: Actor
    uploaded_at: datetime
    retention_until: datetime | None = None
    valid_until: date | None = None
    legal_hold: LegalHold | None = None
    status: DocumentStatus = DocumentStatus.ACTIVE
    superseded_by: str | None = None
    reused_from: str | None = None
    reused_from_dossier: str | None = None
    deleted_at: datetime | None = None

    @property
    def reused(self) -> bool:
        return self.reused_from is not None

    @property
    def live(self) -> bool:
        return self.status != DocumentStatus.DELETED


@dataclass(frozen=True)
class UploadRequest:
    """What an upload says about the document, validated."""

    dossier_code: str
    component_code: str
    kind: DocumentKind
    unit_path: list[str]
    owner_id: str
    owner_phone: str | None = None
    procedure_code: str | None = None
    valid_until: date | None = None
    original_names: list[str] = field(default_factory=list)

    @property
    def unit_code(self) -> str:
        return self.unit_path[0]

    @classmethod
    def from_form(cls, dossier_code: str, component_code: str, kind: DocumentKind,
                  fields: dict[str, str], original_names: list[str] | None = None) -> UploadRequest:
        if "owner_id" not in fields:
            raise Rejected("owner_id is required: the citizen ID or tax code of the papers' owner",
                           code="invalid_owner_id")
        phone = fields.get("owner_phone", "").strip()
        return cls(
            dossier_code=normalize_dossier_code(dossier_code),
            component_code=RESULT_COMPONENT if kind == DocumentKind.RESULT else normalize_component_code(
                component_code),
            kind=kind,
            unit_path=parse_unit_path(fields.get("unit_path", "")),
            owner_id=normalize_owner_id(fields["owner_id"]),
            owner_phone=normalize_phone(phone) if phone else None,
            procedure_code=normalize_procedure_code(fields.get("procedure_code")),
            valid_until=parse_valid_until(fields.get("valid_until")),
            original_names=[safe_name(n) for n in (original_names or [])],
        )


def safe_name(name: str) -> str:
    """A file name fit for a record or a header: no path, no control characters, 100 chars."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    return cleaned.strip()[:100]


def download_filename(record: DocumentRecord) -> str:
    """ASCII file name for the browser: `<dossier>_<component>.pdf`."""
    raw = f"{record.dossier_code}_{record.component_code}.pdf"
    ascii_name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention per procedure (thời hạn lưu trữ), in days; a negative value keeps forever.

    The periods are configuration, not law written in code **[check]**: each province sets them
    from the archives regulations for the procedure's records.
    """

    default_days: float = 3650.0
    by_procedure: dict[str, float] = field(default_factory=dict)
    result_days: float | None = None

    def retention_until(self, procedure_code: str | None, kind: DocumentKind, start: datetime) -> datetime | None:
        days = self.by_procedure.get(procedure_code or "", self.default_days)
        if kind == DocumentKind.RESULT and self.result_days is not None:
            days = self.result_days
        if days < 0:
            return None
        return start + timedelta(days=days)


def due_for_deletion(record: DocumentRecord, now: datetime) -> bool:
    return (
        record.live
        and record.legal_hold is None
        and record.retention_until is not None
        and record.retention_until <= now
    )


def reuse_problem(source: DocumentRecord, today: date) -> ConflictError | None:
    """Why this stored document cannot be reused for a new dossier, or None when it can."""
    if not source.live:
        return ConflictError("The document was deleted at the end of its retention period",
                             code="document_deleted")
    if source.valid_until is not None and source.valid_until < today:
        return ConflictError(f"The document expired on {source.valid_until.isoformat()}",
                             code="document_expired")
    return None
