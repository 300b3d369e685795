"""Reception (Intake I): receive at the counter or through the post, register online and receive
later — each ending in one decision: receive, ask for a supplement, or refuse.

Services never commit half a reception: rules are checked first (pure model), then the
daily number is taken, then the dossier and its `dossier.received` event are written in one
transaction (outbox).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.contracts.events import DossierReceived, DossierReceivedPayload, Event, FeeDue
from services.intake.events_out import ref_fields, status_changed
from services.intake.model.catalogue import Procedure
from services.intake.model.dossier import (
    ActorRef,
    Channel,
    Dossier,
    DossierCodeTaken,
    DossierStatus,
    MissingRecord,
    NoWritingRecord,
    StatusChange,
    dossier_code_prefix,
    format_dossier_code,
)
from services.intake.model.reception import (
    Decision,
    NoWritingInput,
    ReceptionError,
    ReceptionPlan,
    SubmittedComponent,
    check_channel,
    check_form_fields,
    check_office_serves,
    plan_reception,
)
from services.intake.model.units import Office
from services.intake.service.due import due_dates
from services.intake.service.ports import VN_TZ, IntakeContext
from services.intake.service.records import actor_of, dossier_components, new_dossier
from services.intake.service.requests import AcceptRegistered, OnlineRegistration, ReceptionRequest
from services.intake.service.routing import competent_body
from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import Conflict, NotFound, Unavailable
from services.kit.metrics import DOSSIERS_RECEIVED

log = logging.getLogger("motcua.intake")


async def receive(
    svc: IntakeContext,
    request: ReceptionRequest,
    officer: Principal | None,
    *,
    dossier_id: str | None = None,
    received_at: datetime | None = None,
    actor: ActorRef | None = None,
    postal_reception_id: str | None = None,
) -> Dossier:
    """Receive at the counter (or through the post): decide, number, store, publish.

    The postal hand-over passes its own `dossier_id` (idempotent), its signature moment as
    `received_at`, the signing officer as `actor`, and its own record as `postal_reception_id`.
    """
    ref = svc.reference
    office = ref.office(request.office_id)
    procedure = ref.procedure(request.procedure_code)
    check_office_serves(office, procedure, ref.fields_served(office.id))
    check_channel(procedure, request.channel)
    unit_path = ref.unit_path(office.unit_code)
    if officer is not None:
        ensure_unit(officer, unit_path)
    now = received_at or svc.clock.now()
    local_day = now.astimezone(VN_TZ).date()
    if request.decision is Decision.RECEIVE:
        check_form_fields(procedure, request.form_data)
    plan = plan_reception(
        procedure=procedure,
        decision=request.decision,
        submitted=request.components,
        extra_missing=request.extra_missing,
        refusal_reason=request.refusal_reason,
        model_days=ref.model_days_for(office.id, local_day),
        received_on=local_day,
        no_writing=request.no_writing,
        slip_requested=request.print_slip,
    )
    actor = actor or actor_of(
        officer, Role.RECEPTION_OFFICER if officer and Role.RECEPTION_OFFICER in officer.roles else None
    )
    dossier = new_dossier(
        office,
        procedure,
        request.channel,
        request.applicant,
        request.components,
        request.form_data,
        unit_path,
        now,
        request.return_channel,
        dossier_id=dossier_id,
    )
    dossier.postal_reception_id = postal_reception_id
    dossier.handling = competent_body(ref.tree, office, procedure, request.competent_unit_code)
    return await apply_plan(
        svc, dossier, plan, office, procedure, actor, now, request.no_writing, request.refusal_reason
    )


async def register_online(svc: IntakeContext, request: OnlineRegistration) -> Dossier:
    """Online submission: stored as 'registered' until an officer receives it."""
    ref = svc.reference
    office = ref.office(request.office_id)
    procedure = ref.procedure(request.procedure_code)
    check_office_serves(office, procedure, ref.fields_served(office.id))
    check_channel(procedure, Channel.ONLINE)
    now = svc.clock.now()
    dossier = new_dossier(
        office,
        procedure,
        Channel.ONLINE,
        request.applicant,
        request.components,
        request.form_data,
        ref.unit_path(office.unit_code),
        now,
        request.return_channel,
    )
    dossier.handling = competent_body(ref.tree, office, procedure, request.competent_unit_code)
    dossier.registered_at = now
    dossier.history.append(
        StatusChange(
            at=now,
            from_status=None,
            to_status=DossierStatus.REGISTERED,
            actor="public",
            role="public",
            note="Nộp hồ sơ trực tuyến",
        )
    )
    await svc.dossiers.insert_with_events(dossier.to_document(), [])
    return dossier


async def receive_registered(
    svc: IntakeContext, dossier_id: str, request: AcceptRegistered, officer: Principal
) -> Dossier:
    """An officer checks an online dossier and receives, returns for supplement, or refuses it."""
    doc = await svc.dossiers.get(dossier_id)
    if doc is None:
        raise NotFound(f"Dossier {dossier_id} not found", code="dossier_not_found")
    dossier = Dossier.from_document(doc)
    ensure_unit(officer, dossier.access_path())
    if dossier.status is not DossierStatus.REGISTERED:
        raise Conflict(f"Dossier is {dossier.status.value}, not registered", code="invalid_transition")
    ref = svc.reference
    office = ref.office(dossier.office_id)
    procedure = ref.procedure(dossier.procedure_code)
    submitted = (
        request.components
        if request.components is not None
        else [
            SubmittedComponent(
                component_id=c.component_id, provided=c.provided, count=c.count, document_id=c.document_id
            )
            for c in dossier.components
        ]
    )
    if request.components is not None:
        dossier.components = dossier_components(procedure, submitted)
    now = svc.clock.now()
    local_day = now.astimezone(VN_TZ).date()
    if request.decision is Decision.RECEIVE:
        check_form_fields(procedure, dossier.form_data)
    plan = plan_reception(
        procedure=procedure,
        decision=request.decision,
        submitted=submitted,
        extra_missing=request.extra_missing,
        refusal_reason=request.refusal_reason,
        model_days=ref.model_days_for(office.id, local_day),
        received_on=local_day,
        no_writing=None,
        slip_requested=False,
    )
    return await apply_plan(
        svc,
        dossier,
        plan,
        office,
        procedure,
        actor_of(officer, Role.RECEPTION_OFFICER),
        now,
        None,
        request.refusal_reason,
        existing_version=doc["version"],
    )


async def apply_plan(
    svc: IntakeContext,
    dossier: Dossier,
    plan: ReceptionPlan,
    office: Office,
    procedure: Procedure,
    actor: ActorRef,
    now: datetime,
    no_writing: NoWritingInput | None,
    refusal_reason: str | None,
    *,
    existing_version: int | None = None,
) -> Dossier:
    """Carry out the decision: on receipt number, date and route the dossier; then store it with
    its events (insert, or replace at `existing_version` for an online dossier) and wake the relay."""
    previous = dossier.status if existing_version is not None else None
    dossier.missing = [MissingRecord(name=m.name, reason=m.reason) for m in plan.missing]
    dossier.received_by = actor
    dossier.print_slip = plan.print_slip
    local = now.astimezone(VN_TZ)
    code_prefix = dossier_code_prefix(office.receiving_unit_id, local)

    async def next_code() -> str:
        return format_dossier_code(office.receiving_unit_id, local, await svc.dossiers.next_sequence(code_prefix))

    if plan.decision is Decision.RECEIVE:
        _, due, basis = due_dates(svc.reference, office, procedure, now, plan.no_appointment)
        dossier.code = await next_code()
        dossier.status = DossierStatus.RECEIVED
        dossier.received_at = now
        dossier.due_at = due
        dossier.clock_start = now
        dossier.statutory_due_at = due
        if dossier.handling is None:
            dossier.handling = competent_body(svc.reference.tree, office, procedure, None, strict=False)
        dossier.processing_time = basis
        dossier.no_appointment = plan.no_appointment
        dossier.transfer_deadline = svc.reference.calendar(office).transfer_deadline(now)
        if plan.no_writing and no_writing is not None:
            dossier.no_writing = NoWritingRecord(
                filled_by=actor, applicant_confirmation=no_writing.applicant_confirmation
            )
    else:
        dossier.status = DossierStatus.NOT_RECEIVED
        dossier.refusal_reason = refusal_reason if plan.decision is Decision.REFUSE else None
    dossier.history.append(
        StatusChange(
            at=now,
            from_status=previous,
            to_status=dossier.status,
            actor=actor.subject,
            role=actor.role,
            unit_code=actor.unit_code,
            note={
                Decision.RECEIVE: "Tiếp nhận hồ sơ",
                Decision.SUPPLEMENT: "Yêu cầu bổ sung, hoàn thiện hồ sơ",
                Decision.REFUSE: f"Từ chối tiếp nhận: {refusal_reason or ''}",
            }[plan.decision],
        )
    )
    if existing_version is not None:
        dossier.version = existing_version + 1
    for attempt in range(_NUMBERING_ATTEMPTS):
        try:
            await _store(svc, dossier, office, existing_version)
            break
        except DossierCodeTaken as taken:  # another intake process stored this number first
            if attempt == _NUMBERING_ATTEMPTS - 1:
                raise Unavailable("Could not number the dossier; try again", code="numbering_busy") from None
            await svc.dossiers.skip_taken(code_prefix, int(taken.code[-4:]))
            dossier.code = await next_code()
    svc.on_commit()
    if plan.decision is Decision.RECEIVE:
        DOSSIERS_RECEIVED.labels(dossier.unit_code, dossier.channel.value).inc()  # counted once stored
    log.info("dossier %s %s at %s", dossier.code or dossier.reference, dossier.status.value, office.id)
    return dossier


_NUMBERING_ATTEMPTS = 10


async def _store(svc: IntakeContext, dossier: Dossier, office: Office, existing_version: int | None) -> None:
    """Insert the dossier (or replace the online one at `existing_version`) with its events."""
    events: list[Event] = []
    if dossier.status is DossierStatus.RECEIVED and dossier.code:
        ref = ref_fields(dossier, svc.reference.calendar(office), svc.lookup_url(dossier.code))
        events = [received_event(svc, dossier, ref), status_changed(dossier, dossier.history[-1], ref)]
    if existing_version is None:
        await svc.dossiers.insert_with_events(dossier.to_document(), events)
    elif not await svc.dossiers.replace_with_events(dossier.to_document(), existing_version, events):
        raise Conflict("The dossier was changed by someone else; reload it and try again", code="concurrent_update")


# ---- the events a reception writes --------------------------------------------------------


def received_event(svc: IntakeContext, dossier: Dossier, ref: dict[str, Any]) -> DossierReceived:
    """The reception itself; it carries everything of `ref` (the status change's `DossierRef`
    written beside it) that a consumer keeps, so notify need not project both."""
    assert dossier.code and dossier.received_at
    return DossierReceived(
        unit_code=dossier.unit_code,
        unit_path=dossier.unit_path,
        payload=DossierReceivedPayload(
            dossier_id=dossier.id,
            dossier_code=dossier.code,
            procedure_code=dossier.procedure_code,
            procedure_name=dossier.procedure_name,
            office_id=dossier.office_id,
            channel=dossier.channel.value,
            return_channel=ref["return_channel"],
            applicant=ref["applicant"],
            fees_due=[FeeDue.model_validate(f) for f in dossier.fees_due],
            received_at=dossier.received_at,
            due_at=dossier.due_at,
            remind_at=ref["remind_at"],
            no_writing=dossier.no_writing is not None,
            no_appointment=dossier.no_appointment,
            postal_reception_id=dossier.postal_reception_id,
            lookup_url=ref["lookup_url"],
            field_code=dossier.field_code,
            component_ids=_component_ids(svc, dossier.procedure_code),
        ),
    )


def _component_ids(svc: IntakeContext, procedure_code: str) -> list[str]:
    try:
        return [c.id for c in svc.reference.procedure(procedure_code).components]
    except ReceptionError:
        return []
