"""A new dossier as reception writes it: who acted, the applicant's record (decoded from the
citizen id, masked), the components submitted against the procedure's list. Pure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.intake.model.catalogue import Procedure
from services.intake.model.dossier import (
    ActorRef,
    ApplicantRecord,
    Channel,
    Dossier,
    DossierComponent,
    DossierStatus,
)
from services.intake.model.identity import decode_citizen_id, mask_citizen_id
from services.intake.model.reception import ApplicantInput, SubmittedComponent
from services.intake.model.units import Office
from services.intake.service.ports import VN_TZ
from services.kit.auth import Principal, Role


def actor_of(principal: Principal | None, role: Role | None = None) -> ActorRef:
    if principal is None:
        return ActorRef(subject="public", name="Công dân (trực tuyến)", role="public")
    chosen = role.value if role else (sorted(principal.roles)[0].value if principal.roles else "")
    return ActorRef(subject=principal.subject, name=principal.name, role=chosen, unit_code=principal.unit_code)


def applicant_record(applicant: ApplicantInput) -> ApplicantRecord:
    info = decode_citizen_id(applicant.id_number) if applicant.id_number else None
    return ApplicantRecord(
        kind=applicant.kind.value,
        name=applicant.full_name,
        id_number=applicant.id_number,
        id_masked=mask_citizen_id(applicant.id_number),
        birth_year=info.birth_year if info else None,
        gender=info.gender.value if info and info.gender else None,
        phone=applicant.phone,
        email=str(applicant.email) if applicant.email else None,
        address=applicant.address,
        organisation=applicant.organisation.model_dump() if applicant.organisation else None,
    )


def dossier_components(procedure: Procedure, submitted: list[SubmittedComponent]) -> list[DossierComponent]:
    """The submitted components, in the procedure's order; unknown ones are left out."""
    given = {s.component_id: s for s in submitted}
    out = []
    for c in procedure.components:
        s = given.get(c.id)
        if s is None:
            continue
        out.append(
            DossierComponent(
                component_id=c.id,
                name=c.name,
                kind=c.kind.value,
                count=s.count,
                provided=s.provided and not s.problem,
                document_id=s.document_id,
                digitised=s.document_id is not None,
                reused=s.document_id is not None,
            )
        )
    return out


def new_dossier(
    office: Office,
    procedure: Procedure,
    channel: Channel,
    applicant: ApplicantInput,
    components: list[SubmittedComponent],
    form_data: dict[str, Any],
    unit_path: list[str],
    now: datetime,
    return_channel: str,
    *,
    dossier_id: str | None = None,
) -> Dossier:
    """A dossier not yet decided on ('registered'), with its reception reference TN-yymmdd-…."""
    dossier_id = dossier_id or uuid.uuid4().hex
    return Dossier(
        id=dossier_id,
        reference=f"TN-{now.astimezone(VN_TZ):%y%m%d}-{dossier_id[:8].upper()}",
        status=DossierStatus.REGISTERED,
        channel=channel,
        office_id=office.id,
        office_name=office.name,
        receiving_unit_id=office.receiving_unit_id,
        unit_code=office.unit_code,
        unit_path=unit_path,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        field_code=procedure.field_code,
        procedure_level=procedure.level.value,
        applicant=applicant_record(applicant),
        components=dossier_components(procedure, components),
        form_data=form_data,
        return_channel=return_channel,
        fees_due=[{"kind": f.kind.value, "name": f.name, "amount": f.amount} for f in procedure.fees],
        created_at=now,
    )
