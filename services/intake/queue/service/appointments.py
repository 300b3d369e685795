"""Online appointments (đặt lịch hẹn): booking a moment at an office, and the check-in at the
kiosk that turns it into a ticket — at the head of its queue when on time."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from services.intake.queue import model as m
from services.intake.queue.model import Priority, QueueError, Ticket
from services.intake.queue.repository import QueueTx
from services.intake.queue.service import events as ev
from services.intake.queue.service.kiosk import new_ticket
from services.intake.queue.views import appointment_view
from services.kit.errors import NotFound

if TYPE_CHECKING:
    from services.intake.queue.service import QueueService

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class AppointmentRequest(BaseModel):
    """An online booking (đặt lịch hẹn) for a field or procedure at an office."""

    office_id: str = Field(min_length=1, max_length=100)
    field_code: str | None = Field(default=None, max_length=60)
    procedure_code: str | None = Field(default=None, max_length=50)
    at: datetime = Field(description="Booked moment, with its offset")
    name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=20)


async def book(q: QueueService, request: AppointmentRequest) -> dict[str, Any]:
    office = q.office(request.office_id)
    field_code, procedure_code = q.field_of(office, request.field_code, request.procedure_code)
    now = q.clock()
    if request.at.tzinfo is None:
        raise QueueError("offset_required", "Give the appointment time with its offset (+07:00)")
    if request.at <= now:
        raise QueueError("appointment_in_past", "The appointment must be in the future")
    try:
        open_then = q.reference.calendar(office).is_working_time(request.at)
    except Exception:
        open_then = False
    if not open_then:
        raise QueueError("office_closed", "The office is not open at that time")
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    doc = {
        "_id": code,
        "office_id": office.id,
        "field_code": field_code,
        "procedure_code": procedure_code,
        "at": request.at,
        "name": request.name,
        "phone": request.phone,
        "booked_at": now,
        "ticket_id": None,
    }
    await q.repo.insert_appointment(doc)
    return appointment_view(doc)


async def check_in(q: QueueService, office_id: str, code: str, kiosk_id: str | None = None) -> tuple[Ticket, int, bool]:
    """Check in an online appointment at the kiosk: on time → head of its queue.

    Returns (ticket, waiting ahead, created). A second check-in returns the same ticket.
    """
    office = q.office(office_id)
    code = code.strip().upper()
    appointment = await q.repo.get_appointment(code)
    if appointment is None or appointment["office_id"] != office.id:
        raise NotFound("No such appointment at this office", code="unknown_appointment")
    if appointment.get("ticket_id"):
        existing = await q.repo.get_ticket(appointment["ticket_id"])
        if existing is not None:
            return existing, 0, False
    now = q.clock()
    at: datetime = appointment["at"]
    m.check_appointment_day(at, now)
    field_code = appointment["field_code"]
    if field_code not in q.reference.fields_served(office.id):
        raise QueueError("field_not_served", f"No counter serves the field {field_code!r} any more")
    prefix = q.prefixes()[field_code]
    seq, issued = await q.repo.next_seq(office.id, m.local_day(now), prefix, now)
    ticket = new_ticket(q, office, field_code, appointment.get("procedure_code"), Priority.NONE, kiosk_id, seq, issued)
    ticket.appointment_id = code
    if m.appointment_on_time(at, now, q.rules):
        ticket.appointment_at = at

    async def work(tx: QueueTx) -> int:
        ahead = m.waiting_ahead(ticket, await tx.waiting(office.id, ticket.day), q.rules)
        await tx.insert(ticket, appointment_ref=code)
        await tx.mark_checked_in(code, ticket.id, now)
        tx.emit(ev.issued(ticket, ahead))
        return ahead

    try:
        ahead = await q.commit(work)
    except DuplicateKeyError:  # a double tap on the kiosk: the other check-in won
        again = await q.repo.get_appointment(code)
        existing = await q.repo.get_ticket(again["ticket_id"]) if again and again.get("ticket_id") else None
        if existing is None:
            raise
        return existing, 0, False
    return ticket, ahead, True
