"""The reception and processing slips (Circular 01 forms 01–05) of a dossier: which form applies,
built from the dossier and the office, rendered once per dossier version and kept in the slip
store. The PDF layouts are in services/intake/slips.py and slips_processing.py."""

from __future__ import annotations

from typing import Any, Protocol

from services.intake.model.dossier import Dossier, DossierStatus
from services.intake.service.ports import IntakeContext
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound


class IntakeReader(IntakeContext, Protocol):
    """`IntakeService` as `render_slip` sees it: the context and the unit-checked read."""

    async def get(self, dossier_id: str, principal: Principal) -> Dossier: ...


class SlipKind(str):
    RECEIPT = "01"
    SUPPLEMENT = "02"
    REFUSAL = "03"
    APOLOGY = "04"
    PROCESS_CONTROL = "05"


class SlipStore(Protocol):
    async def get_slip(self, key: str) -> bytes | None: ...
    async def put_slip(self, key: str, dossier_id: str, form: str, pdf: bytes) -> None: ...


async def render_slip(
    service: IntakeReader, store: SlipStore, dossier_id: str, form: str, principal: Principal
) -> bytes:
    """Circular-01 forms 01/02/03 as PDF, generated on first request and stored."""
    return await render_dossier_slip(service, store, await service.get(dossier_id, principal), form)


async def render_dossier_slip(service: IntakeContext, store: SlipStore, dossier: Dossier, form: str) -> bytes:
    """`render_slip` for a dossier already loaded (and checked against the caller's unit)."""
    from services.intake import slips

    key = f"{dossier.id}:{form}:v{dossier.version}"
    cached = await store.get_slip(key)
    if cached is not None:
        return cached
    ref = service.reference
    office = ref.office(dossier.office_id)
    unit_name = ref.tree.get(office.unit_code).name
    slip_office = slips.SlipOffice(name=office.name, unit_name=f"UBND {unit_name}")
    applicant = slips.SlipApplicant(
        name=dossier.applicant.name,
        id_number_masked=dossier.applicant.id_masked or None,
        phone=dossier.applicant.phone,
        address=dossier.applicant.address or None,
    )
    officer = (dossier.received_by.name if dossier.received_by else "") or "Cán bộ tiếp nhận"
    issued = dossier.history[-1].at if dossier.history else service.clock.now()
    pdf: bytes
    if form == SlipKind.RECEIPT:
        if dossier.status is DossierStatus.NOT_RECEIVED or not dossier.code or not dossier.due_at:
            raise Conflict("Only a received dossier has a receipt slip (form 01)", code="slip_not_applicable")
        fee_total = sum(int(str(f["amount"])) for f in dossier.fees_due)
        pdf = slips.render_receipt_slip(
            slips.ReceiptSlipData(
                office=slip_office,
                dossier_code=dossier.code,
                lookup_base_url=f"{service.public_base_url}/tra-cuu",
                applicant=applicant,
                procedure_name=dossier.procedure_name,
                components=[
                    slips.SlipComponent(
                        name=c.name,
                        kind=c.kind if c.kind in ("original", "copy", "certified_copy") else "original",
                        count=c.count,
                    )
                    for c in dossier.components
                    if c.provided
                ]
                or [slips.SlipComponent(name="Hồ sơ theo quy định", kind="original", count=1)],
                processing_time=_processing_text(dossier.processing_time),
                received_at=dossier.received_at or issued,
                due_at=dossier.due_at,
                return_channel="postal" if dossier.return_channel == "postal" else "counter",
                officer_name=officer,
                no_writing_day=dossier.no_writing is not None,
                form_filled_by=dossier.no_writing.filled_by.name if dossier.no_writing else None,
                fee_note=f"{fee_total:,} đồng".replace(",", ".") if fee_total else None,
            )
        )
    elif form == SlipKind.SUPPLEMENT:
        if not dossier.missing or dossier.refusal_reason:
            raise Conflict("This dossier has no supplement request (form 02)", code="slip_not_applicable")
        pdf = slips.render_supplement_slip(
            slips.SupplementSlipData(
                office=slip_office,
                dossier_code=dossier.code,
                reception_ref=None if dossier.code else dossier.reference,
                applicant=applicant,
                procedure_name=dossier.procedure_name,
                missing=[slips.MissingItem(name=m.name, reason=m.reason) for m in dossier.missing],
                officer_name=officer,
                issued_at=issued,
            )
        )
    elif form == SlipKind.REFUSAL:
        if not dossier.refusal_reason:
            raise Conflict("This dossier was not refused (form 03)", code="slip_not_applicable")
        pdf = slips.render_refusal_slip(
            slips.RefusalSlipData(
                office=slip_office,
                dossier_code=dossier.code,
                reception_ref=None if dossier.code else dossier.reference,
                applicant=applicant,
                procedure_name=dossier.procedure_name,
                reason=dossier.refusal_reason,
                officer_name=officer,
                issued_at=issued,
            )
        )
    elif form in ("04", "05"):
        from services.intake.slips_processing import render_processing_slip

        pdf = render_processing_slip(dossier, form, slip_office, applicant, f"{service.public_base_url}/tra-cuu")
    else:
        raise NotFound(f"Unknown form {form!r}; use 01, 02, 03, 04 or 05", code="unknown_form")
    await store.put_slip(key, dossier.id, form, pdf)
    return pdf


def _processing_text(basis: dict[str, Any] | None) -> str | None:
    if not basis:
        return None
    value = basis.get("value")
    unit = "giờ làm việc" if basis.get("unit") == "working_hours" else "ngày làm việc"
    shown = f"{float(str(value)):g}" if value is not None else "?"
    return f"{shown} {unit}"
