"""The dossier lifecycle over HTTP: one endpoint per action, each declaring who may call it.

Unit checks happen in the service (the caller's unit must be on the dossier's receiving or
handling path). Invalid transitions answer 409 `invalid_transition`; broken rules 422.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.intake.api import Audit, _with_links
from services.intake.model.dossier import Dossier, MissingRecord
from services.intake.model.privacy import AuditAction
from services.intake.processing import ProcessingService, timeline_view
from services.intake.service import public_view
from services.kit.auth import Principal, Role, require_roles

router = APIRouter(tags=["processing"])

R = Role
STAFF = tuple(Role)
ROUTERS = (R.RECEPTION_OFFICER, R.SPECIALIST, R.UNIT_ADMIN)
PROCESSORS = (R.SPECIALIST, R.SIGNING_LEADER, R.UNIT_ADMIN)
SUPPLEMENT_TAKERS = (R.RECEPTION_OFFICER, R.SPECIALIST)
PAYMENT_DESK = (R.SPECIALIST, R.CASHIER, R.RECEPTION_OFFICER)
DECIDERS = (R.SIGNING_LEADER, R.SPECIALIST)
RETURN_DESK = (R.RECEPTION_OFFICER, R.POSTAL_AGENT)


async def processing_of(request: Request) -> ProcessingService:
    svc: ProcessingService = request.app.state.processing
    return svc


Processing = Annotated[ProcessingService, Depends(processing_of)]
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]

Router = Annotated[Principal, Depends(require_roles(*ROUTERS))]
Processor = Annotated[Principal, Depends(require_roles(*PROCESSORS))]
SupplementTaker = Annotated[Principal, Depends(require_roles(*SUPPLEMENT_TAKERS))]
PaymentDesk = Annotated[Principal, Depends(require_roles(*PAYMENT_DESK))]
Cashier = Annotated[Principal, Depends(require_roles(R.CASHIER, R.RECEPTION_OFFICER))]
Decider = Annotated[Principal, Depends(require_roles(*DECIDERS))]
ResultDesk = Annotated[Principal, Depends(require_roles(R.RECEPTION_OFFICER, R.SPECIALIST))]
ReturnDesk = Annotated[Principal, Depends(require_roles(*RETURN_DESK))]
Reception = Annotated[Principal, Depends(require_roles(R.RECEPTION_OFFICER))]
Admin = Annotated[Principal, Depends(require_roles(R.PROVINCE_ADMIN, R.UNIT_ADMIN))]


class NoteBody(BaseModel):
    note: str = Field(default="", max_length=2000)


class TransferBody(NoteBody):
    unit_code: str | None = Field(
        default=None, max_length=8, description="Default: the competent body found at reception"
    )


class ForwardBody(BaseModel):
    unit_code: str = Field(min_length=2, max_length=8)
    reason: str = Field(min_length=1, max_length=2000)


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SupplementBody(NoteBody):
    missing: list[MissingRecord] = Field(min_length=1, max_length=100)


class ApologyBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    new_due_on: date | None = Field(default=None, description="New date; the result is due at closing time")
    new_due_at: datetime | None = Field(default=None, description="Or an exact moment, with its offset")


class ResultReadyBody(NoteBody):
    pickup_place: str = Field(default="", max_length=300)
    pager_number: str | None = Field(default=None, max_length=20)


class ReturnBody(NoteBody):
    via: str = Field(pattern="^(counter|postal)$")


def _view(d: Dossier) -> dict[str, Any]:
    """The dossier as `GET /dossiers/{id}` shows it, with the slips that now apply."""
    view = _with_links(public_view(d))
    view["access_path"] = d.access_path()
    if d.code:
        view["links"]["process_control_slip"] = f"/dossiers/{d.id}/slips/05.pdf"
    if d.apology is not None:
        view["links"]["apology_slip"] = f"/dossiers/{d.id}/slips/04.pdf"
    return view


@router.get("/dossiers", operation_id="list_dossiers")
async def inbox(
    svc: Processing,
    principal: Staff,
    audit: Audit,
    status: Annotated[list[str] | None, Query()] = None,
    late: bool | None = None,
    handled_here: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    skip: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[dict[str, Any]]:
    """The officer's inbox: dossiers received or handled by the caller's unit (or below it)."""
    items = await svc.inbox(principal, status=status, late=late, handled_here=handled_here, limit=limit, skip=skip)
    if items:  # applicant names: one audit record for the page
        await audit.listing(principal, "list_dossiers", "inbox", items)
    return items


@router.get("/dossiers/{dossier_id}/timeline", operation_id="get_dossier_timeline")
async def timeline(dossier_id: str, svc: Processing, principal: Staff, audit: Audit) -> dict[str, Any]:
    """Process control (form 05 on screen): who holds it now, late steps, every audited step."""
    d, _ = await svc.load(dossier_id, principal)
    await audit.dossiers(principal, AuditAction.TIMELINE_READ, "get_dossier_timeline", "case_handling", [d])
    return timeline_view(d, svc.calendar(d), svc.now())


@router.post("/dossiers/{dossier_id}/transfer", operation_id="transfer_dossier")
async def transfer(dossier_id: str, body: TransferBody, svc: Processing, who: Router) -> dict[str, Any]:
    return _view(await svc.transfer(dossier_id, who, body.unit_code, body.note))


@router.post("/dossiers/{dossier_id}/forward", operation_id="forward_dossier")
async def forward(dossier_id: str, body: ForwardBody, svc: Processing, who: Router) -> dict[str, Any]:
    """Forward a misdirected dossier to the right unit, keeping its history."""
    return _view(await svc.forward(dossier_id, who, body.unit_code, body.reason))


@router.post("/dossiers/{dossier_id}/start-processing", operation_id="start_processing_dossier")
async def start_processing(dossier_id: str, body: NoteBody, svc: Processing, who: Processor) -> dict[str, Any]:
    return _view(await svc.start_processing(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/supplement-request", operation_id="request_dossier_supplement")
async def supplement_request(dossier_id: str, body: SupplementBody, svc: Processing, who: Processor) -> dict[str, Any]:
    """The body sends the dossier back for a supplement (within 3 working days; clock paused)."""
    return _view(await svc.request_supplement(dossier_id, who, body.missing, body.note))


@router.post("/dossiers/{dossier_id}/supplement-complete", operation_id="complete_dossier_supplement")
async def supplement_complete(dossier_id: str, body: NoteBody, svc: Processing, who: SupplementTaker) -> dict[str, Any]:
    """The supplement was handed in: processing resumes and the deadline restarts."""
    return _view(await svc.complete_supplement(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/steps/{index}/complete", operation_id="complete_inter_agency_step")
async def complete_step(
    dossier_id: str, index: Annotated[int, Path(ge=0, le=1000)], body: NoteBody, svc: Processing, who: Processor
) -> dict[str, Any]:
    return _view(await svc.complete_step(dossier_id, who, index, body.note))


@router.post("/dossiers/{dossier_id}/payment-request", operation_id="request_dossier_payment")
async def payment_request(dossier_id: str, body: NoteBody, svc: Processing, who: PaymentDesk) -> dict[str, Any]:
    return _view(await svc.request_payment(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/payment-received", operation_id="record_dossier_payment")
async def payment_received(dossier_id: str, body: NoteBody, svc: Processing, who: Cashier) -> dict[str, Any]:
    """Paid outside the payments service (e.g. at a partner's desk): processing continues."""
    return _view(await svc.payment_received(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/suspend", operation_id="suspend_dossier")
async def suspend(dossier_id: str, body: ReasonBody, svc: Processing, who: Processor) -> dict[str, Any]:
    return _view(await svc.suspend(dossier_id, who, body.reason))


@router.post("/dossiers/{dossier_id}/resume", operation_id="resume_dossier")
async def resume(dossier_id: str, body: NoteBody, svc: Processing, who: Processor) -> dict[str, Any]:
    return _view(await svc.resume(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/resolve", operation_id="resolve_dossier")
async def resolve(dossier_id: str, body: NoteBody, svc: Processing, who: Decider) -> dict[str, Any]:
    return _view(await svc.resolve(dossier_id, who, body.note))


@router.post("/dossiers/{dossier_id}/refuse", operation_id="refuse_dossier")
async def refuse(dossier_id: str, body: ReasonBody, svc: Processing, who: Decider) -> dict[str, Any]:
    """Refused after appraisal (refusal slip, form 03)."""
    return _view(await svc.refuse(dossier_id, who, body.reason))


@router.post("/dossiers/{dossier_id}/apology", operation_id="record_dossier_apology")
async def apology(dossier_id: str, body: ApologyBody, svc: Processing, who: Processor) -> dict[str, Any]:
    """Apology and new appointment (form 04): once, ≥ 1 working day before the due moment."""
    return _view(await svc.apologise(dossier_id, who, body.reason, body.new_due_at, body.new_due_on))


@router.post("/dossiers/{dossier_id}/result-ready", operation_id="mark_dossier_result_ready")
async def result_ready(dossier_id: str, body: ResultReadyBody, svc: Processing, who: ResultDesk) -> dict[str, Any]:
    return _view(await svc.result_ready(dossier_id, who, body.pickup_place, body.pager_number, body.note))


@router.post("/dossiers/{dossier_id}/return", operation_id="return_dossier_result")
async def return_result(dossier_id: str, body: ReturnBody, svc: Processing, who: ReturnDesk) -> dict[str, Any]:
    return _view(await svc.return_result(dossier_id, who, body.via, body.note))


@router.post("/dossiers/{dossier_id}/withdraw", operation_id="withdraw_dossier")
async def withdraw(dossier_id: str, body: ReasonBody, svc: Processing, who: Reception) -> dict[str, Any]:
    return _view(await svc.withdraw(dossier_id, who, body.reason))


@router.post("/admin/late-scan", operation_id="run_late_scan", tags=["admin"])
async def late_scan(svc: Processing, _: Admin) -> dict[str, int]:
    """Run the automatic late flag now (it also runs periodically)."""
    return {"flagged": await svc.flag_late()}
