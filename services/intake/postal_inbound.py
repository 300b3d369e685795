"""Dossiers submitted through the post (Decision 45/2016): intake receives them from postal's
events, without calling postal back.

`postal.handover_signed`: the hand-over record (biên bản giao nhận) carries both signatures —
from that moment the dossier counts as submitted (DOMAIN §6), with channel "postal".
`postal.counter_reception_confirmed`: a postal agent received at a commune counter and the
one-stop officer confirmed it (supervision), channel "counter".
Idempotent: postal chooses the dossier id, so a redelivered event finds the dossier.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.contracts.postal import PostalReceptionPayload
from services.intake.model.dossier import ActorRef, Channel, Dossier
from services.intake.model.reception import ApplicantInput, Decision, SubmittedComponent
from services.intake.service import IntakeService, ReceptionRequest

log = logging.getLogger("motcua.intake.postal")


def reception_request(p: PostalReceptionPayload) -> ReceptionRequest:
    return ReceptionRequest(
        office_id=p.office_id,
        procedure_code=p.procedure_code,
        channel=Channel.POSTAL if p.channel == "postal" else Channel.COUNTER,
        applicant=ApplicantInput(
            kind=p.applicant.kind,
            full_name=p.applicant.full_name,
            id_number=p.applicant.id_number,
            birth_date=p.applicant.birth_date,
            phone=p.applicant.phone,
            email=p.applicant.email,
            address=p.applicant.address,
        ),
        components=[
            SubmittedComponent(component_id=c.component_id, count=max(1, c.count), provided=c.provided)
            for c in p.components
        ],
        form_data=p.form_data,
        decision=Decision.RECEIVE,
        return_channel="postal" if p.return_channel == "postal" else "counter",
    )


async def receive_from_postal(service: IntakeService, body: dict[str, Any]) -> Dossier | None:
    """Create the reception for one postal event; None when it already exists (a redelivery)."""
    payload = PostalReceptionPayload.model_validate(body.get("payload") or {})
    if await service.dossiers.get(payload.dossier_id) is not None:
        return None
    signer = payload.office_officer or payload.postal_worker
    actor = ActorRef(
        subject=signer.subject, name=signer.name, role=signer.role or "reception_officer", unit_code=signer.unit_code
    )
    try:
        dossier = await service.receive(
            reception_request(payload),
            None,
            dossier_id=payload.dossier_id,
            received_at=payload.received_at,
            actor=actor,
            postal_reception_id=payload.reception_id,
        )
    except DuplicateKeyError:
        return None  # a concurrent twin of this event created it first
    log.info("postal reception %s → %s (slip %s)", payload.reception_id, dossier.code, payload.dispatch_slip_number)
    return dossier
