"""Personal data over HTTP (DOMAIN §9): the read audit trail for inspectors and administrators,
consents per purpose, export of a person's data, deletion requests.

A person is named by their ID number in the request body, never in the URL (URLs end up in
proxies' logs and traces); answers show it masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.api import Audit, Service
from services.intake.model.identity import InvalidCitizenIdError, decode_citizen_id
from services.intake.model.privacy import AuditAction, ConsentChannel, Purpose
from services.intake.privacy.service import PrivacyService
from services.kit.auth import Principal, Role, require_roles

router = APIRouter()
R = Role

# inspectors (read-only) and the administrators of a unit or province, each within their units
Auditor = Annotated[Principal, Depends(require_roles(R.INSPECTOR, R.UNIT_ADMIN, R.PROVINCE_ADMIN))]
# the officer the person speaks to at the counter, and the unit's administrators
DataOfficer = Annotated[Principal, Depends(require_roles(R.RECEPTION_OFFICER, R.UNIT_ADMIN, R.PROVINCE_ADMIN))]


async def privacy_of(request: Request) -> PrivacyService:
    svc: PrivacyService = request.app.state.privacy
    return svc


Privacy = Annotated[PrivacyService, Depends(privacy_of)]
Limit = Annotated[int, Query(ge=1, le=500)]
Skip = Annotated[int, Query(ge=0, le=100_000)]


class PersonBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(min_length=9, max_length=20, description="Citizen ID (12 digits) or old ID card (9)")

    @field_validator("id_number")
    @classmethod
    def _id(cls, value: str) -> str:
        try:
            return decode_citizen_id(value).number
        except InvalidCitizenIdError as exc:
            raise ValueError(str(exc)) from exc


class ConsentBody(PersonBody):
    purpose: Purpose
    granted: bool = Field(description="true: the person consents; false: the person withdraws consent")
    channel: ConsentChannel = ConsentChannel.COUNTER
    note: str = Field(default="", max_length=500)


class ExportBody(PersonBody):
    request_reference: str = Field(default="", max_length=100, description="Reference of the person's request")


class DeletionBody(PersonBody):
    reason: str = Field(default="", max_length=2000, description="What the person gave as the reason")
    request_reference: str = Field(default="", max_length=100)


# ---- the read audit trail ----------------------------------------------------------------------
@router.get("/audit/reads", tags=["audit"], operation_id="list_read_audit")
async def list_read_audit(
    audit: Audit,
    who: Auditor,
    dossier_code: Annotated[str | None, Query(max_length=60)] = None,
    subject: Annotated[str | None, Query(max_length=200, description="Who read (the token's subject)")] = None,
    action: AuditAction | None = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; from this moment")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; up to this moment")] = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> dict[str, Any]:
    """Who read which dossier's personal data, when, with which role and unit, and why — the
    reads of the caller's unit (and below) and of its officers; newest first, paginated."""
    return await audit.query(
        who,
        dossier_code=dossier_code,
        subject=subject,
        action=action,
        since=since,
        until=until,
        limit=limit,
        skip=skip,
    )


@router.get("/audit/dossiers/{code}", tags=["audit"], operation_id="get_dossier_read_audit")
async def dossier_read_audit(
    code: str,
    service: Service,
    audit: Audit,
    who: Auditor,
    since: Annotated[datetime | None, Query(description="ISO 8601; from this moment")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; up to this moment")] = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> dict[str, Any]:
    """Every recorded read of one dossier, for a caller whose unit covers the dossier (403 otherwise)."""
    dossier = await service.get_by_code(code, who)
    return await audit.query(
        who, dossier_code=dossier.code, subject=None, action=None, since=since, until=until, limit=limit, skip=skip
    )


# ---- consents ------------------------------------------------------------------------------------
@router.post("/privacy/consents", tags=["privacy"], operation_id="record_consent")
async def record_consent(body: ConsentBody, svc: Privacy, who: DataOfficer) -> dict[str, Any]:
    """Record that the person grants or withdraws consent to one purpose (history kept)."""
    return await svc.record_consent(
        who, body.id_number, body.purpose, body.granted, channel=body.channel, note=body.note
    )


@router.post("/privacy/consents/lookup", tags=["privacy"], operation_id="get_consents")
async def get_consents(body: PersonBody, svc: Privacy, who: DataOfficer) -> dict[str, Any]:
    """The person's current answer per purpose, and the history (audited)."""
    return await svc.consents(who, body.id_number)


# ---- export and deletion -------------------------------------------------------------------------
@router.post("/privacy/exports", tags=["privacy"], operation_id="export_person_data")
async def export_person_data(body: ExportBody, svc: Privacy, who: DataOfficer) -> dict[str, Any]:
    """On the person's request: everything intake holds about them in the caller's units — the
    applicant record, dossiers, consents, feedback and ratings — as JSON (audited)."""
    return await svc.export(who, body.id_number, request_reference=body.request_reference)


@router.post("/privacy/deletion-requests", status_code=201, tags=["privacy"], operation_id="request_data_deletion")
async def request_deletion(body: DeletionBody, svc: Privacy, who: DataOfficer) -> dict[str, Any]:
    """Record the person's deletion request and its decision: refused, with the reason, where
    state processing is required (a procedure in progress, records under legal retention);
    anonymised where the retention period is over. Consents to optional purposes end."""
    return await svc.request_deletion(who, body.id_number, reason=body.reason, request_reference=body.request_reference)


@router.get("/privacy/deletion-requests", tags=["privacy"], operation_id="list_deletion_requests")
async def list_deletion_requests(svc: Privacy, who: Auditor, limit: Limit = 100, skip: Skip = 0) -> dict[str, Any]:
    """Deletion requests handled by the caller's unit and the units below, with their decisions."""
    return await svc.deletion_requests(who, limit=limit, skip=skip)
