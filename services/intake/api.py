"""Intake's HTTP API: thin — validate, call the service, shape the response.

Every endpoint declares who may call it (kit.auth); unit checks happen in the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from services.intake.catalogue_io import catalogue_from_json, catalogue_from_xlsx, catalogue_to_json, catalogue_to_xlsx
from services.intake.model.calendar import CalendarOverrides, OfficeHours
from services.intake.model.privacy import AuditAction
from services.intake.model.reception import ModelDays
from services.intake.model.units import UnitCatalogueData, validate_unit_catalogue
from services.intake.privacy.service import AuditTrail
from services.intake.repository import SlipRepository
from services.intake.service import (
    AcceptRegistered,
    DuePreview,
    IntakeService,
    OnlineRegistration,
    ReceptionRequest,
    public_view,
    render_dossier_slip,
)
from services.kit.auth import Principal, Role, ensure_unit, require_roles
from services.kit.errors import Invalid

STAFF = tuple(Role)
RECEPTION = (Role.RECEPTION_OFFICER, Role.POSTAL_AGENT)
ADMINS = (Role.PROVINCE_ADMIN, Role.UNIT_ADMIN)

router = APIRouter()


async def service_of(request: Request) -> IntakeService:
    svc: IntakeService = request.app.state.intake
    return svc


async def audit_of(request: Request) -> AuditTrail:
    """The read audit trail: every route that returns a dossier's personal data records the read."""
    trail: AuditTrail = request.app.state.audit
    return trail


Service = Annotated[IntakeService, Depends(service_of)]
Audit = Annotated[AuditTrail, Depends(audit_of)]
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]
Receiver = Annotated[Principal, Depends(require_roles(*RECEPTION))]
ProvinceAdmin = Annotated[Principal, Depends(require_roles(Role.PROVINCE_ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(*ADMINS))]


# ---- reception ------------------------------------------------------------------------------
@router.post("/dossiers", status_code=201, tags=["reception"], operation_id="receive_dossier")
async def receive_dossier(body: ReceptionRequest, service: Service, officer: Receiver) -> dict[str, Any]:
    """Receive a dossier at the counter: receive, request a supplement, or refuse."""
    dossier = await service.receive(body, officer)
    return _with_links(public_view(dossier))


@router.post("/public/dossiers", status_code=201, tags=["public"], operation_id="register_online_dossier")
async def register_online(body: OnlineRegistration, service: Service) -> dict[str, Any]:
    """Online submission (no account needed in this version): the dossier is 'registered'."""
    dossier = await service.register_online(body)
    return {"id": dossier.id, "reference": dossier.reference, "status": dossier.status.value}


@router.post("/dossiers/{dossier_id}/receive", tags=["reception"], operation_id="receive_registered_dossier")
async def receive_registered(
    dossier_id: str,
    body: AcceptRegistered,
    service: Service,
    officer: Annotated[Principal, Depends(require_roles(Role.RECEPTION_OFFICER))],
) -> dict[str, Any]:
    dossier = await service.receive_registered(dossier_id, body, officer)
    return _with_links(public_view(dossier))


@router.get("/dossiers/by-code/{code}", tags=["dossiers"], operation_id="get_dossier_by_code")
async def get_by_code(code: str, service: Service, principal: Staff, audit: Audit) -> dict[str, Any]:
    dossier = await service.get_by_code(code, principal)
    await audit.dossiers(principal, AuditAction.DOSSIER_READ, "get_dossier_by_code", "case_handling", [dossier])
    return _with_links(public_view(dossier))


@router.get("/dossiers/{dossier_id}", tags=["dossiers"], operation_id="get_dossier")
async def get_dossier(dossier_id: str, service: Service, principal: Staff, audit: Audit) -> dict[str, Any]:
    dossier = await service.get(dossier_id, principal)
    await audit.dossiers(principal, AuditAction.DOSSIER_READ, "get_dossier", "case_handling", [dossier])
    return _with_links(public_view(dossier))


@router.get(
    "/dossiers/{dossier_id}/slips/{form}.pdf",
    tags=["dossiers"],
    operation_id="get_dossier_slip",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_slip(
    dossier_id: str, form: str, request: Request, service: Service, principal: Staff, audit: Audit
) -> Response:
    """Circular-01 form 01 (receipt), 02 (supplement request) or 03 (refusal) as an A5 PDF."""
    store: SlipRepository = request.app.state.slips
    dossier = await service.get(dossier_id, principal)
    pdf = await render_dossier_slip(service, store, dossier, form)
    await audit.dossiers(
        principal, AuditAction.SLIP_READ, "get_dossier_slip", "slip_printing", [dossier], detail={"form": form}
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="mau-{form}-{dossier_id}.pdf"'},
    )


def _with_links(view: dict[str, Any]) -> dict[str, Any]:
    base = f"/dossiers/{view['id']}/slips"
    links = {}
    if view.get("code") and view.get("print_slip", True):
        links["receipt_slip"] = f"{base}/01.pdf"
    if view.get("code") and not view.get("print_slip", True):
        links["receipt_slip_on_request"] = f"{base}/01.pdf"
    if view.get("missing") and not view.get("refusal_reason"):
        links["supplement_slip"] = f"{base}/02.pdf"
    if view.get("refusal_reason"):
        links["refusal_slip"] = f"{base}/03.pdf"
    view["links"] = links
    return view


# ---- calendar -----------------------------------------------------------------------------
@router.get("/calendar/due", tags=["calendar"], operation_id="preview_due_date", response_model=DuePreview)
async def preview_due(
    service: Service,
    _: Staff,
    office_id: Annotated[str, Query(min_length=1, max_length=100)],
    procedure_code: Annotated[str, Query(min_length=1, max_length=50)],
    received_at: Annotated[datetime | None, Query(description="ISO 8601 with offset; default now")] = None,
) -> DuePreview:
    """Received at this office at this moment for this procedure → due when?"""
    return service.preview_due(office_id, procedure_code, received_at)


# ---- reference data (public reading) ------------------------------------------------------
@router.get("/procedures", tags=["catalogue"], operation_id="list_procedures")
async def list_procedures(
    service: Service,
    field: str | None = None,
    level: str | None = None,
    office_id: str | None = None,
) -> list[dict[str, Any]]:
    ref = service.reference
    items = ref.catalogue.procedures
    if field:
        items = [p for p in items if p.field_code == field]
    if level:
        items = [p for p in items if p.level.value == level]
    if office_id:
        served = ref.fields_served(ref.office(office_id).id)
        items = [p for p in items if p.field_code in served]
    return [
        {
            "code": p.code,
            "name": p.name,
            "field_code": p.field_code,
            "level": p.level.value,
            "processing_time": p.processing_time.model_dump(mode="json"),
            "total_fee": p.total_fee(),
            "no_writing": p.models.eligible_no_writing,
            "no_appointment": p.models.eligible_no_appointment,
        }
        for p in items
    ]


@router.get("/procedures/export", tags=["catalogue"], operation_id="export_procedures", response_class=Response)
async def export_procedures(
    service: Service, format: Annotated[str, Query(pattern="^(json|xlsx)$")] = "json"
) -> Response:
    catalogue = service.reference.catalogue
    if format == "xlsx":
        return Response(
            catalogue_to_xlsx(catalogue),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="thu-tuc.xlsx"'},
        )
    return Response(catalogue_to_json(catalogue), media_type="application/json")


@router.get("/procedures/{code}", tags=["catalogue"], operation_id="get_procedure")
async def get_procedure(code: str, service: Service) -> dict[str, Any]:
    return service.reference.procedure(code).model_dump(mode="json")


@router.get("/units", tags=["units"], operation_id="list_units")
async def list_units(service: Service) -> list[dict[str, Any]]:
    return [u.model_dump(mode="json") for u in service.reference.units.units]


@router.get("/offices", tags=["units"], operation_id="list_offices")
async def list_offices(service: Service) -> list[dict[str, Any]]:
    ref = service.reference
    return [
        {**o.model_dump(mode="json"), "counters": [c.model_dump(mode="json") for c in ref.units.counters_of(o.id)]}
        for o in ref.units.offices
    ]


# ---- administration ---------------------------------------------------------------------
@router.put("/admin/units", tags=["admin"], operation_id="replace_units")
async def replace_units(
    body: UnitCatalogueData, request: Request, service: Service, admin: ProvinceAdmin
) -> dict[str, Any]:
    problems = validate_unit_catalogue(body)
    if problems:
        raise Invalid("The unit data has problems; nothing was saved", code="invalid_units", details=problems)
    for office in body.offices:
        ensure_unit(admin, service.reference.unit_path(office.unit_code) if service._reference else [admin.unit_code])
    await request.app.state.reference_repo.save_units(body, admin.subject)
    await service.reload_reference()
    return {"units": len(body.units), "offices": len(body.offices), "counters": len(body.counters)}


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@router.put("/admin/procedures", tags=["admin"], operation_id="replace_procedures")
async def replace_procedures(
    request: Request, service: Service, admin: ProvinceAdmin, file: UploadFile | None = None
) -> dict[str, Any]:
    """Replace the catalogue from a JSON body or an uploaded .json/.xlsx file."""
    if file is not None:
        data = await file.read()
        is_xlsx = (file.filename or "").lower().endswith(".xlsx") or data[:2] == b"PK"
        result = catalogue_from_xlsx(data) if is_xlsx else catalogue_from_json(data)
    elif request.headers.get("content-type", "").lower().startswith(_FORM_TYPES):
        # the form was read already (looking for the file): there is no JSON body to fall back on
        raise Invalid(
            "Send the catalogue as a 'file' part (.json or .xlsx) or as a JSON body", code="catalogue_file_required"
        )
    else:
        result = catalogue_from_json(await request.body())
    if not result.ok:
        raise Invalid(
            "The catalogue has problems; nothing was saved", code="invalid_catalogue", details=result.problems
        )
    catalogue = result.unwrap()
    await request.app.state.reference_repo.save_procedures(catalogue, admin.subject)
    await service.reload_reference()
    return {"procedures": len(catalogue)}


@router.put("/admin/offices/{office_id}/model-days", tags=["admin"], operation_id="set_office_model_days")
async def set_model_days(
    office_id: str, body: Annotated[ModelDays, Body()], request: Request, service: Service, admin: Admin
) -> dict[str, Any]:
    """No-writing / No-appointment weekdays and eligible procedures of an office, from a date."""
    office = service.reference.office(office_id)
    ensure_unit(admin, service.reference.unit_path(office.unit_code))
    if body.office_id != office_id:
        raise Invalid("office_id in the body differs from the URL", code="office_mismatch")
    unknown = [
        c
        for c in (body.no_writing_procedures or []) + (body.no_appointment_procedures or [])
        if c not in service.reference.catalogue
    ]
    if unknown:
        raise Invalid(f"Unknown procedure(s): {', '.join(unknown)}", code="unknown_procedure")
    await request.app.state.reference_repo.save_model_days(body)
    await service.reload_reference()
    return body.model_dump(mode="json")


@router.put("/admin/offices/{office_id}/hours", tags=["admin"], operation_id="set_office_hours")
async def set_office_hours(
    office_id: str, body: OfficeHours, request: Request, service: Service, admin: Admin
) -> dict[str, Any]:
    office = service.reference.office(office_id)
    ensure_unit(admin, service.reference.unit_path(office.unit_code))
    await request.app.state.reference_repo.save_office_hours(office_id, body)
    await service.reload_reference()
    return body.model_dump(mode="json")


@router.put("/admin/calendar/overrides", tags=["admin"], operation_id="set_calendar_overrides")
async def set_overrides(
    body: CalendarOverrides, request: Request, service: Service, admin: ProvinceAdmin
) -> dict[str, Any]:
    ensure_unit(admin, [body.province_code])
    await request.app.state.reference_repo.save_overrides(body)
    await service.reload_reference()
    return body.model_dump(mode="json")


@router.post("/admin/seed-sample", tags=["admin"], operation_id="seed_sample_data")
async def seed_sample(service: Service, admin: ProvinceAdmin) -> JSONResponse:
    """Load the shipped An Giang sample data (units, offices, counters, procedures, calendar)."""
    counts = await service.seed_sample(by=admin.subject)
    return JSONResponse(counts)
