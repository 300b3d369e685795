"""Intake's use cases: reference data, reception (counter, online, postal), due dates, slips.

Services never commit half a reception: rules are checked first (pure model), then the
daily number is taken, then the dossier and its `dossier.received` event are written in one
transaction (outbox).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload, Event, FeeDue
from services.intake.catalogue_io import load_procedures, load_units
from services.intake.events_out import ref_fields, status_changed
from services.intake.model.calendar import CalendarOverrides, CalendarRangeError
from services.intake.model.catalogue import Procedure, TimeUnit
from services.intake.model.dossier import (
    STATUS_LABELS_VI,
    ActorRef,
    ApplicantRecord,
    Channel,
    Dossier,
    DossierComponent,
    DossierStatus,
    Handling,
    MissingRecord,
    NoWritingRecord,
    StatusChange,
    format_dossier_code,
)
from services.intake.model.identity import decode_citizen_id, mask_citizen_id
from services.intake.model.reception import (
    NO_APPOINTMENT_HOURS,
    ApplicantInput,
    Decision,
    ExtraMissingItem,
    ModelDays,
    NoWritingInput,
    ReceptionError,
    ReceptionPlan,
    SubmittedComponent,
    check_channel,
    check_form_fields,
    check_office_serves,
    plan_reception,
)
from services.intake.model.reference import ReferenceData
from services.intake.model.routing import RoutingError, route_to_competent_body
from services.intake.model.units import Office
from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import Conflict, Invalid, NotFound
from services.kit.metrics import DOSSIERS_RECEIVED

log = logging.getLogger("motcua.intake")

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DossierStore(Protocol):
    async def next_sequence(self, office_id: str, day: str) -> int: ...
    async def insert_with_events(self, dossier: dict[str, Any], events: list[Event]) -> None: ...
    async def replace_with_events(
        self, dossier: dict[str, Any], expected_version: int, events: list[Event]
    ) -> bool: ...
    async def get(self, dossier_id: str) -> dict[str, Any] | None: ...
    async def get_by_code(self, code: str) -> dict[str, Any] | None: ...


class ReceptionRequest(BaseModel):
    """What the counter officer submits (or the postal hand-over, or an online form)."""

    office_id: str = Field(min_length=1, max_length=100)
    procedure_code: str = Field(min_length=1, max_length=50)
    channel: Channel = Channel.COUNTER
    applicant: ApplicantInput
    components: list[SubmittedComponent] = Field(default_factory=list, max_length=200)
    form_data: dict[str, Any] = Field(default_factory=dict)
    decision: Decision = Decision.RECEIVE
    extra_missing: list[ExtraMissingItem] = Field(default_factory=list, max_length=100)
    refusal_reason: str | None = Field(default=None, max_length=2000)
    no_writing: NoWritingInput | None = None
    return_channel: str = Field(default="counter", pattern="^(counter|postal)$")
    print_slip: bool = Field(default=False, description="No-appointment day: print the slip anyway")
    competent_unit_code: str | None = Field(
        default=None,
        max_length=8,
        description="Unit whose competent body resolves the dossier (commune-level procedures filed elsewhere)",
    )


class OnlineRegistration(BaseModel):
    """An online submission (cổng dịch vụ công): registered, received later by an officer."""

    office_id: str = Field(min_length=1, max_length=100)
    procedure_code: str = Field(min_length=1, max_length=50)
    applicant: ApplicantInput
    components: list[SubmittedComponent] = Field(default_factory=list, max_length=200)
    form_data: dict[str, Any] = Field(default_factory=dict)
    return_channel: str = Field(default="counter", pattern="^(counter|postal)$")
    competent_unit_code: str | None = Field(default=None, max_length=8)


class AcceptRegistered(BaseModel):
    decision: Decision = Decision.RECEIVE
    components: list[SubmittedComponent] | None = None
    extra_missing: list[ExtraMissingItem] = Field(default_factory=list)
    refusal_reason: str | None = None


class DuePreview(BaseModel):
    office_id: str
    procedure_code: str
    received_at: datetime
    counting_from: datetime
    due_at: datetime
    processing_time: dict[str, Any]
    no_appointment: bool
    no_writing_day: bool
    transfer_deadline: datetime


def _actor(principal: Principal | None, role: Role | None = None) -> ActorRef:
    if principal is None:
        return ActorRef(subject="public", name="Công dân (trực tuyến)", role="public")
    chosen = role.value if role else (sorted(principal.roles)[0].value if principal.roles else "")
    return ActorRef(subject=principal.subject, name=principal.name, role=chosen, unit_code=principal.unit_code)


class IntakeService:
    def __init__(
        self,
        dossiers: DossierStore,
        reference_repo: Any,
        *,
        clock: Clock | None = None,
        public_base_url: str = "http://127.0.0.1:8080",
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.dossiers = dossiers
        self.reference_repo = reference_repo
        self.clock = clock or SystemClock()
        self.public_base_url = public_base_url.rstrip("/")
        self.on_commit = on_commit
        self._reference: ReferenceData | None = None

    # ---- reference data ---------------------------------------------------------------
    @property
    def reference(self) -> ReferenceData:
        if self._reference is None:
            raise ReceptionError("reference_data_missing", "No units or procedures loaded: run `motcua seed`")
        return self._reference

    async def reload_reference(self) -> bool:
        units = await self.reference_repo.load_units()
        catalogue = await self.reference_repo.load_procedures()
        if units is None or catalogue is None:
            self._reference = None
            return False
        self._reference = ReferenceData(
            units=units,
            catalogue=catalogue,
            overrides={o.province_code: o for o in await self.reference_repo.load_overrides()},
            office_hours=await self.reference_repo.load_office_hours(),
            model_days=await self.reference_repo.load_model_days(),
        )
        return True

    async def seed_sample(self, by: str = "seed") -> dict[str, int]:
        """Load the shipped An Giang sample (units, offices, counters, procedures, calendar)."""
        from importlib import resources

        units = load_units()
        catalogue = load_procedures()
        await self.reference_repo.save_units(units, by)
        await self.reference_repo.save_procedures(catalogue, by)
        raw = (resources.files("services.intake") / "data" / "calendar_overrides.json").read_bytes()
        await self.reference_repo.save_overrides(CalendarOverrides.model_validate_json(raw))
        # Sample counter models: Wednesday is No-writing and No-appointment day (seed 000),
        # and Tuesday at commune level (seed 004).
        for office in units.offices:
            weekdays = [2] if office.level.value == "province" else [1, 2]
            await self.reference_repo.save_model_days(
                ModelDays(
                    office_id=office.id,
                    effective_from=datetime(2025, 7, 1).date(),
                    no_writing_weekdays=weekdays,
                    no_appointment_weekdays=weekdays,
                )
            )
        await self.reload_reference()
        return {
            "units": len(units.units),
            "offices": len(units.offices),
            "counters": len(units.counters),
            "procedures": len(catalogue),
        }

    async def seed_if_empty(self) -> bool:
        if await self.reference_repo.load_units() is None:
            await self.seed_sample()
            return True
        return await self.reload_reference()

    # ---- due dates ----------------------------------------------------------------------
    def _due(
        self, office: Office, procedure: Procedure, received_at: datetime, no_appointment: bool
    ) -> tuple[datetime, datetime, dict[str, Any]]:
        calendar = self.reference.calendar(office)
        try:
            start = calendar.next_working_moment(received_at)
            if no_appointment:
                due = calendar.add_working_hours(received_at, NO_APPOINTMENT_HOURS)
                basis: dict[str, Any] = {
                    "value": NO_APPOINTMENT_HOURS,
                    "unit": "working_hours",
                    "model": "no_appointment",
                }
            elif procedure.processing_time.unit is TimeUnit.WORKING_HOURS:
                due = calendar.add_working_hours(received_at, float(procedure.processing_time.value))
                basis = {"value": procedure.processing_time.value, "unit": "working_hours"}
            else:
                due = calendar.add_working_days(received_at, int(procedure.processing_time.value))
                basis = {"value": procedure.processing_time.value, "unit": "working_days"}
        except CalendarRangeError as exc:
            raise ReceptionError("calendar_out_of_range", str(exc)) from exc
        return start, due, basis

    def preview_due(self, office_id: str, procedure_code: str, received_at: datetime | None) -> DuePreview:
        ref = self.reference
        office = ref.office(office_id)
        procedure = ref.procedure(procedure_code)
        check_office_serves(office, procedure, ref.fields_served(office.id))
        at = received_at or self.clock.now()
        if at.tzinfo is None:
            raise ReceptionError("naive_datetime", "received_at needs a timezone, e.g. 2026-01-13T08:00:00+07:00")
        local_day = at.astimezone(VN_TZ).date()
        model_days = ref.model_days_for(office.id, local_day)
        na = model_days is not None and model_days.no_appointment_applies(procedure, local_day)
        nw = model_days is not None and model_days.no_writing_applies(procedure, local_day)
        start, due, basis = self._due(office, procedure, at, na)
        try:
            transfer = ref.calendar(office).transfer_deadline(at)
        except CalendarRangeError as exc:
            raise ReceptionError("calendar_out_of_range", str(exc)) from exc
        return DuePreview(
            office_id=office.id,
            procedure_code=procedure.code,
            received_at=at,
            counting_from=start,
            due_at=due,
            processing_time=basis,
            no_appointment=na,
            no_writing_day=nw,
            transfer_deadline=transfer,
        )

    # ---- reception ----------------------------------------------------------------------
    def _applicant_record(self, applicant: ApplicantInput) -> ApplicantRecord:
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

    def _components(self, procedure: Procedure, submitted: list[SubmittedComponent]) -> list[DossierComponent]:
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

    def _component_ids(self, procedure_code: str) -> list[str]:
        try:
            return [c.id for c in self.reference.procedure(procedure_code).components]
        except ReceptionError:
            return []

    def lookup_url(self, code: str) -> str:
        return f"{self.public_base_url}/tra-cuu?code={code}"

    async def receive(
        self,
        request: ReceptionRequest,
        officer: Principal | None,
        *,
        dossier_id: str | None = None,
        received_at: datetime | None = None,
        actor: ActorRef | None = None,
    ) -> Dossier:
        """Receive at the counter (or through the post): decide, number, store, publish.

        The postal hand-over passes its own `dossier_id` (idempotent), its signature moment as
        `received_at`, and the signing officer as `actor`.
        """
        ref = self.reference
        office = ref.office(request.office_id)
        procedure = ref.procedure(request.procedure_code)
        check_office_serves(office, procedure, ref.fields_served(office.id))
        check_channel(procedure, request.channel)
        unit_path = ref.unit_path(office.unit_code)
        if officer is not None:
            ensure_unit(officer, unit_path)
        now = received_at or self.clock.now()
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
        actor = actor or _actor(
            officer, Role.RECEPTION_OFFICER if officer and Role.RECEPTION_OFFICER in officer.roles else None
        )
        dossier = self._new_dossier(
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
        dossier.handling = self._route(office, procedure, request.competent_unit_code)
        return await self._apply_plan(
            dossier, plan, office, procedure, actor, now, request.no_writing, request.refusal_reason
        )

    def _new_dossier(
        self,
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
            applicant=self._applicant_record(applicant),
            components=self._components(procedure, components),
            form_data=form_data,
            return_channel=return_channel,
            fees_due=[{"kind": f.kind.value, "name": f.name, "amount": f.amount} for f in procedure.fees],
            created_at=now,
        )

    async def _apply_plan(
        self,
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
        previous = dossier.status if existing_version is not None else None
        dossier.missing = [MissingRecord(name=m.name, reason=m.reason) for m in plan.missing]
        dossier.received_by = actor
        dossier.print_slip = plan.print_slip
        events: list[Event] = []
        if plan.decision is Decision.RECEIVE:
            _, due, basis = self._due(office, procedure, now, plan.no_appointment)
            local = now.astimezone(VN_TZ)
            sequence = await self.dossiers.next_sequence(office.id, f"{local:%y%m%d}")
            dossier.code = format_dossier_code(office.receiving_unit_id, local, sequence)
            dossier.status = DossierStatus.RECEIVED
            dossier.received_at = now
            dossier.due_at = due
            dossier.clock_start = now
            dossier.statutory_due_at = due
            if dossier.handling is None:
                dossier.handling = self._route(office, procedure, None, strict=False)
            dossier.processing_time = basis
            dossier.no_appointment = plan.no_appointment
            dossier.transfer_deadline = self.reference.calendar(office).transfer_deadline(now)
            if plan.no_writing and no_writing is not None:
                dossier.no_writing = NoWritingRecord(
                    filled_by=actor, applicant_confirmation=no_writing.applicant_confirmation
                )
            events.append(self._received_event(dossier))
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
        if dossier.status is DossierStatus.RECEIVED and dossier.code:
            events.append(self._status_changed_event(dossier, office))
        if existing_version is None:
            await self.dossiers.insert_with_events(dossier.to_document(), events)
        else:
            dossier.version = existing_version + 1
            if not await self.dossiers.replace_with_events(dossier.to_document(), existing_version, events):
                raise Conflict(
                    "The dossier was changed by someone else; reload it and try again", code="concurrent_update"
                )
        self.on_commit()
        if plan.decision is Decision.RECEIVE:
            DOSSIERS_RECEIVED.labels(dossier.unit_code, dossier.channel.value).inc()  # counted once stored
        log.info("dossier %s %s at %s", dossier.code or dossier.reference, dossier.status.value, office.id)
        return dossier

    def _route(
        self, office: Office, procedure: Procedure, requested: str | None, *, strict: bool = True
    ) -> Handling | None:
        """The competent body for the procedure and level (Decree 118: not where it was filed)."""
        try:
            return route_to_competent_body(procedure, office, self.reference.tree, requested)
        except RoutingError as exc:
            if not strict:
                return None
            raise ReceptionError(exc.code, exc.message) from exc

    def _status_changed_event(self, dossier: Dossier, office: Office) -> Event:
        ref = ref_fields(dossier, self.reference.calendar(office), self.lookup_url(dossier.code or ""))
        return status_changed(dossier, dossier.history[-1], ref)

    def _received_event(self, dossier: Dossier) -> DossierReceived:
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
                applicant=ApplicantContact(
                    name=dossier.applicant.name, email=dossier.applicant.email, phone=dossier.applicant.phone
                ),
                fees_due=[FeeDue.model_validate(f) for f in dossier.fees_due],
                received_at=dossier.received_at,
                due_at=dossier.due_at,
                no_writing=dossier.no_writing is not None,
                no_appointment=dossier.no_appointment,
                lookup_url=self.lookup_url(dossier.code),
                field_code=dossier.field_code,
                component_ids=self._component_ids(dossier.procedure_code),
            ),
        )

    async def register_online(self, request: OnlineRegistration) -> Dossier:
        """Online submission: stored as 'registered' until an officer receives it."""
        ref = self.reference
        office = ref.office(request.office_id)
        procedure = ref.procedure(request.procedure_code)
        check_office_serves(office, procedure, ref.fields_served(office.id))
        check_channel(procedure, Channel.ONLINE)
        now = self.clock.now()
        dossier = self._new_dossier(
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
        dossier.handling = self._route(office, procedure, request.competent_unit_code)
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
        await self.dossiers.insert_with_events(dossier.to_document(), [])
        return dossier

    async def receive_registered(self, dossier_id: str, request: AcceptRegistered, officer: Principal) -> Dossier:
        """An officer checks an online dossier and receives, returns for supplement, or refuses it."""
        doc = await self.dossiers.get(dossier_id)
        if doc is None:
            raise NotFound(f"Dossier {dossier_id} not found", code="dossier_not_found")
        dossier = Dossier.from_document(doc)
        ensure_unit(officer, dossier.access_path())
        if dossier.status is not DossierStatus.REGISTERED:
            raise Conflict(f"Dossier is {dossier.status.value}, not registered", code="invalid_transition")
        ref = self.reference
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
            dossier.components = self._components(procedure, submitted)
        now = self.clock.now()
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
        return await self._apply_plan(
            dossier,
            plan,
            office,
            procedure,
            _actor(officer, Role.RECEPTION_OFFICER),
            now,
            None,
            request.refusal_reason,
            existing_version=doc["version"],
        )

    # ---- reads --------------------------------------------------------------------------
    async def get(self, dossier_id: str, principal: Principal) -> Dossier:
        doc = await self.dossiers.get(dossier_id)
        if doc is None:
            raise NotFound(f"Dossier {dossier_id} not found", code="dossier_not_found")
        dossier = Dossier.from_document(doc)
        ensure_unit(principal, dossier.access_path())
        return dossier

    async def get_by_code(self, code: str, principal: Principal) -> Dossier:
        doc = await self.dossiers.get_by_code(code.strip().upper())
        if doc is None:
            raise NotFound(f"No dossier with code {code}", code="dossier_not_found")
        dossier = Dossier.from_document(doc)
        ensure_unit(principal, dossier.access_path())
        return dossier


def public_view(dossier: Dossier) -> dict[str, Any]:
    """What a dossier page shows, with personal data masked."""
    data = dossier.model_dump(mode="json", exclude={"form_data"})
    data["applicant"] = {
        "kind": dossier.applicant.kind,
        "name": dossier.applicant.name,
        "id_masked": dossier.applicant.id_masked,
    }
    data["status_label"] = STATUS_LABELS_VI[dossier.status]
    return data


def reception_error_to_http(exc: ReceptionError) -> Invalid:
    status_404 = {"unknown_office", "unknown_procedure"}
    err = Invalid(exc.message, code=exc.code, details=exc.details)
    if exc.code in status_404:
        err.status_code = 422
    return err


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
    service: IntakeService, store: SlipStore, dossier_id: str, form: str, principal: Principal
) -> bytes:
    """Circular-01 forms 01/02/03 as PDF, generated on first request and stored."""
    return await render_dossier_slip(service, store, await service.get(dossier_id, principal), form)


async def render_dossier_slip(service: IntakeService, store: SlipStore, dossier: Dossier, form: str) -> bytes:
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
