"""Scan's HTTP API: thin routers — authorise, parse, call the service, shape the answer.

Uploads are read from the raw request stream (see `upload.py`), not through FastAPI's form
parsing, so that a file is never held in memory and limits apply while bytes arrive.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role, ensure_unit, require_roles
from services.kit.http import error_body
from services.scan.model import (
    AccessRecord,
    Actor,
    ConflictError,
    Denied,
    DocumentKind,
    DocumentRecord,
    DocumentStatus,
    LegalHold,
    NotFoundError,
    Rejected,
    ScanError,
    ScanLimits,
    TooLarge,
    TooManyAttempts,
    Unavailable,
    UnsupportedType,
    UploadRequest,
    parse_unit_path,
)
from services.scan.service import ScanService, SignedUrl
from services.scan.upload import spool_multipart

UPLOAD_ROLES = (Role.RECEPTION_OFFICER, Role.SPECIALIST, Role.POSTAL_AGENT)
READ_ROLES = (*UPLOAD_ROLES, Role.SIGNING_LEADER, Role.INSPECTOR, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
AUDIT_ROLES = (Role.INSPECTOR, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
HOLD_ROLES = (Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
RETENTION_ROLES = (Role.PROVINCE_ADMIN,)

Uploader = Annotated[Principal, Depends(require_roles(*UPLOAD_ROLES))]
Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
Auditor = Annotated[Principal, Depends(require_roles(*AUDIT_ROLES))]
HoldAdmin = Annotated[Principal, Depends(require_roles(*HOLD_ROLES))]
RetentionAdmin = Annotated[Principal, Depends(require_roles(*RETENTION_ROLES))]

_STATUS: list[tuple[type[ScanError], int]] = [
    (TooLarge, 413), (UnsupportedType, 415), (Rejected, 422), (NotFoundError, 404), (ConflictError, 409),
    (Denied, 403), (TooManyAttempts, 429), (Unavailable, 503),
]


def install_scan_errors(app: FastAPI) -> None:
    """Render the domain's refusals with the kit's error body and a fitting status."""

    @app.exception_handler(ScanError)
    async def _scan_error(_: Request, exc: ScanError) -> JSONResponse:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
        headers = {"Retry-After": "5"} if status in (429, 503) else None
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status, headers=headers)


@dataclass
class ScanContext:
    """What the routers need, set on `app.state.scan` by the lifespan."""

    service: ScanService
    limits: ScanLimits
    tmp_dir: Path | None = None


def _ctx(request: Request) -> ScanContext:
    ctx: ScanContext = request.app.state.scan
    return ctx


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---- response shapes ---------------------------------------------------------------------------

class DocumentView(BaseModel):
    """A document as officers see it (never the owner's hashes or the storage key)."""

    id: str
    dossier_code: str
    component_code: str
    kind: DocumentKind
    unit_code: str
    unit_path: list[str]
    procedure_code: str | None
    pages: int
    size: int
    sha256: str
    content_type: str
    source_formats: list[str]
    thumbnail_source: str
    original_names: list[str]
    uploaded_by: Actor
    uploaded_at: datetime
    retention_until: datetime | None
    valid_until: date | None
    legal_hold: LegalHold | None
    status: DocumentStatus
    superseded_by: str | None
    reused: bool
    reused_from: str | None
    reused_from_dossier: str | None
    deleted_at: datetime | None

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentView:
        return cls.model_validate({**record.model_dump(), "reused": record.reused})


class UploadView(DocumentView):
    created: bool = Field(description="False when the same content was already the component's document")
    new_object: bool = Field(description="False when identical content was already stored (deduplicated)")


class SignedUrlView(BaseModel):
    document_id: str
    dossier_code: str
    component_code: str
    kind: DocumentKind
    variant: str
    url: str
    expires_at: datetime
    filename: str

    @classmethod
    def of(cls, signed: SignedUrl) -> SignedUrlView:
        return cls.model_validate(signed.__dict__)


class ReuseBody(BaseModel):
    source_document_id: str = Field(min_length=1, max_length=64)
    owner_id: str = Field(min_length=1, max_length=32, description="The owner's citizen ID or tax code")
    unit_path: list[str] | str = Field(description="The new dossier's unit, then its parents")
    procedure_code: str | None = None


class OwnerSearchBody(BaseModel):
    owner_id: str = Field(min_length=1, max_length=32, description="Citizen ID or tax code (sent in the body "
                                                                   "so it stays out of URLs and access logs)")


class SecondFactorBody(BaseModel):
    last4: str = Field(min_length=4, max_length=4,
                       description="Last four digits of the owner's ID number or of the phone number given")


class LegalHoldBody(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


class RetentionReportView(BaseModel):
    documents_deleted: int
    objects_deleted: int
    objects_still_used: int
    objects_waiting: int
    deleted_document_ids: list[str]


_MULTIPART_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["files", "unit_path", "owner_id"],
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                          "description": "One PDF, or page images (JPEG, PNG, TIFF); type read from content"},
                "unit_path": {"type": "string", "description": "Dossier's unit code, then its parents, "
                                                                 "comma-separated (e.g. 91001,91)"},
                "owner_id": {"type": "string", "description": "Owner's citizen ID or tax code"},
                "owner_phone": {"type": "string", "description": "Optional; its last 4 digits also "
                                                                   "open the public download"},
                "procedure_code": {"type": "string", "description": "Sets the retention period"},
                "valid_until": {"type": "string", "format": "date",
                                "description": "End of the paper's validity (reuse stops after it)"},
            },
        }}},
    },
}


# ---- routes ----------------------------------------------------------------------------------

router = APIRouter(tags=["documents"])


async def _upload(request: Request, response: Response, principal: Principal, dossier_code: str,
                  component_code: str, kind: DocumentKind) -> UploadView:
    ctx = _ctx(request)
    length = request.headers.get("content-length")
    workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="motcua-scan-", dir=ctx.tmp_dir))
    def early_check(name: str, value: str) -> None:
        if name == "unit_path":  # refuse another unit's dossier before its files arrive
            ensure_unit(principal, parse_unit_path(value))

    try:
        form = await spool_multipart(request.stream(), request.headers.get("content-type", ""),
                                     int(length) if length and length.isdigit() else None, ctx.limits, workdir,
                                     on_field=early_check)
        upload = UploadRequest.from_form(dossier_code, component_code, kind, form.fields,
                                         [f.filename for f in form.files])
        outcome = await ctx.service.upload(principal, upload, form.files, workdir)
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
    response.status_code = 201 if outcome.created else 200
    return UploadView.model_validate({**DocumentView.of(outcome.record).model_dump(),
                                      "created": outcome.created, "new_object": outcome.new_object})


@router.post("/dossiers/{dossier_code}/components/{component_code}/documents", status_code=201,
             operation_id="upload_component_document", openapi_extra=_MULTIPART_DOC)
async def upload_component_document(request: Request, response: Response, dossier_code: str,
                                    component_code: str, principal: Uploader) -> UploadView:
    """Upload the scanned pages of one dossier component (201; 200 when identical to the current one)."""
    return await _upload(request, response, principal, dossier_code, component_code, DocumentKind.COMPONENT)


@router.post("/dossiers/{dossier_code}/result/documents", status_code=201,
             operation_id="upload_result_document", openapi_extra=_MULTIPART_DOC)
async def upload_result_document(request: Request, response: Response, dossier_code: str,
                                 principal: Uploader) -> UploadView:
    """Upload the digitised result of a dossier (kết quả giải quyết)."""
    return await _upload(request, response, principal, dossier_code, "result", DocumentKind.RESULT)


@router.post("/dossiers/{dossier_code}/components/{component_code}/reuse", status_code=201,
             operation_id="reuse_document")
async def reuse_document(request: Request, response: Response, dossier_code: str, component_code: str,
                         body: ReuseBody, principal: Uploader) -> DocumentView:
    """Use a stored document of the same owner for a component of a new dossier (no new scan)."""
    outcome = await _ctx(request).service.reuse(
        principal, dossier_code, component_code, source_document_id=body.source_document_id,
        owner_id=body.owner_id, unit_path=body.unit_path, procedure_code=body.procedure_code,
        client_ip=_client_ip(request))
    response.status_code = 201 if outcome.created else 200
    return DocumentView.of(outcome.record)


@router.post("/reusable-documents/search", operation_id="search_reusable_documents")
async def search_reusable_documents(request: Request, body: OwnerSearchBody, principal: Uploader
                                    ) -> list[DocumentView]:
    """The owner's stored, still valid documents visible to the caller's unit (audited)."""
    found = await _ctx(request).service.search_owner_documents(principal, body.owner_id, _client_ip(request))
    return [DocumentView.of(r) for r in found]


@router.get("/dossiers/{dossier_code}/documents", operation_id="list_dossier_documents")
async def list_dossier_documents(request: Request, dossier_code: str, principal: Reader,
                                 include_inactive: bool = False) -> list[DocumentView]:
    records = await _ctx(request).service.list_dossier_documents(principal, dossier_code,
                                                                 include_inactive=include_inactive)
    return [DocumentView.of(r) for r in records]


@router.get("/documents/{document_id}", operation_id="get_document")
async def get_document(request: Request, document_id: str, principal: Reader) -> DocumentView:
    return DocumentView.of(await _ctx(request).service.get_document(principal, document_id))


@router.post("/documents/{document_id}/download-url", operation_id="issue_download_url")
async def issue_download_url(request: Request, document_id: str, principal: Reader,
                             variant: Literal["document", "thumbnail"] = "document") -> SignedUrlView:
    """A short-lived signed URL of the PDF (or its thumbnail); every issuance is audited."""
    signed = await _ctx(request).service.issue_url(principal, document_id, variant=variant,
                                                   client_ip=_client_ip(request))
    return SignedUrlView.of(signed)


@router.put("/documents/{document_id}/legal-hold", operation_id="place_legal_hold")
async def place_legal_hold(request: Request, document_id: str, body: LegalHoldBody, principal: HoldAdmin
                           ) -> DocumentView:
    record = await _ctx(request).service.set_legal_hold(principal, document_id, body.reason, _client_ip(request))
    return DocumentView.of(record)


@router.delete("/documents/{document_id}/legal-hold", operation_id="lift_legal_hold")
async def lift_legal_hold(request: Request, document_id: str, principal: HoldAdmin) -> DocumentView:
    record = await _ctx(request).service.set_legal_hold(principal, document_id, None, _client_ip(request))
    return DocumentView.of(record)


@router.get("/audit/access", operation_id="list_access_audit", tags=["audit"])
async def list_access_audit(
    request: Request,
    principal: Auditor,
    dossier_code: Annotated[str | None, Query(max_length=64)] = None,
    document_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AccessRecord]:
    """Who obtained which document (signed URLs), searched whose documents, and when."""
    return await _ctx(request).service.list_access(principal, dossier_code=dossier_code,
                                                   document_id=document_id, since=since, limit=limit)


@router.post("/retention/run", operation_id="run_retention", tags=["retention"])
async def run_retention(request: Request, principal: RetentionAdmin) -> RetentionReportView:
    """Run the retention job now (it also runs periodically)."""
    report = await _ctx(request).service.run_retention()
    return RetentionReportView.model_validate(report.__dict__)


@router.get("/retention/log", operation_id="list_retention_log", tags=["retention"])
async def list_retention_log(request: Request, principal: Auditor,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    return await _ctx(request).service.list_retention_log(principal, limit)


public_router = APIRouter(tags=["public"])


@public_router.post("/public/dossiers/{dossier_code}/result-links", operation_id="public_result_links")
async def public_result_links(request: Request, dossier_code: str, body: SecondFactorBody) -> list[SignedUrlView]:
    """For the applicant, from the public lookup: signed links to the dossier's result documents,
    given the last four digits of the owner's ID number or phone (rate-limited, audited)."""
    links = await _ctx(request).service.public_result_links(dossier_code, body.last4, _client_ip(request))
    return [SignedUrlView.of(s) for s in links]
