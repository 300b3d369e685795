"""Due dates: when the clock starts and when a dossier is due (working days or hours, or the
No-appointment day's hours), and the preview the counter shows before receiving."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.model.calendar import CalendarRangeError
from services.intake.model.catalogue import Procedure, TimeUnit
from services.intake.model.reception import NO_APPOINTMENT_HOURS, ReceptionError, check_office_serves
from services.intake.model.reference import ReferenceData
from services.intake.model.units import Office
from services.intake.service.ports import VN_TZ, Clock
from services.intake.service.requests import DuePreview


def due_dates(
    reference: ReferenceData, office: Office, procedure: Procedure, received_at: datetime, no_appointment: bool
) -> tuple[datetime, datetime, dict[str, Any]]:
    """(counting from, due at, processing-time basis) for a dossier received at `received_at`."""
    calendar = reference.calendar(office)
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


def preview_due(
    ref: ReferenceData, clock: Clock, office_id: str, procedure_code: str, received_at: datetime | None
) -> DuePreview:
    office = ref.office(office_id)
    procedure = ref.procedure(procedure_code)
    check_office_serves(office, procedure, ref.fields_served(office.id))
    at = received_at or clock.now()
    if at.tzinfo is None:
        raise ReceptionError("naive_datetime", "received_at needs a timezone, e.g. 2026-01-13T08:00:00+07:00")
    local_day = at.astimezone(VN_TZ).date()
    model_days = ref.model_days_for(office.id, local_day)
    na = model_days is not None and model_days.no_appointment_applies(procedure, local_day)
    nw = model_days is not None and model_days.no_writing_applies(procedure, local_day)
    start, due, basis = due_dates(ref, office, procedure, at, na)
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
