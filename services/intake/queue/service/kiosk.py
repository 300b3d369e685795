"""The kiosk: its menu (fields served, priorities) and a ticket — the next number of the
field's prefix today, never repeated."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.intake.model.units import Office
from services.intake.queue import model as m
from services.intake.queue.model import Priority, Ticket
from services.intake.queue.repository import QueueTx
from services.intake.queue.service import events as ev

if TYPE_CHECKING:
    from services.intake.queue.service import QueueService


def kiosk_menu(q: QueueService, office_id: str) -> dict[str, Any]:
    office = q.office(office_id)
    names = q.reference.units.field_names()
    prefixes = q.prefixes()
    served = sorted(q.reference.fields_served(office.id), key=lambda f: prefixes.get(f, f))
    return {
        "office_id": office.id,
        "office_name": office.name,
        "fields": [{"code": f, "name": names.get(f, f), "prefix": prefixes[f]} for f in served],
        "priorities": [{"code": p.value, "label": m.PRIORITY_LABELS_VI[p]} for p in Priority if p is not Priority.NONE],
    }


def new_ticket(
    q: QueueService,
    office: Office,
    field_code: str,
    procedure_code: str | None,
    priority: Priority,
    kiosk_id: str | None,
    seq: int,
    now: datetime,
) -> Ticket:
    prefix = q.prefixes()[field_code]
    return Ticket(
        id=uuid.uuid4().hex,
        office_id=office.id,
        unit_code=office.unit_code,
        unit_path=q.unit_path(office),
        day=m.local_day(now),
        prefix=prefix,
        seq=seq,
        number=m.format_number(prefix, seq, q.rules.number_digits),
        field_code=field_code,
        field_name=q.reference.units.field_names().get(field_code, ""),
        procedure_code=procedure_code,
        priority=priority,
        kiosk_id=kiosk_id,
        issued_at=now,
        issued_hour=m.local_hour(now),
        queued_at=now,
    )


async def issue(
    q: QueueService,
    office_id: str,
    *,
    field_code: str | None = None,
    procedure_code: str | None = None,
    priority: Priority = Priority.NONE,
    kiosk_id: str | None = None,
) -> tuple[Ticket, int]:
    """A kiosk ticket: the next number of the field's prefix today, never repeated."""
    office = q.office(office_id)
    field_code, procedure_code = q.field_of(office, field_code, procedure_code)
    now = q.clock()
    prefix = q.prefixes()[field_code]
    seq, now = await q.repo.next_seq(office.id, m.local_day(now), prefix, now)
    ticket = new_ticket(q, office, field_code, procedure_code, priority, kiosk_id, seq, now)

    async def work(tx: QueueTx) -> int:
        ahead = m.waiting_ahead(ticket, await tx.waiting(office.id, ticket.day), q.rules)
        await tx.insert(ticket)
        tx.emit(ev.issued(ticket, ahead))
        return ahead

    ahead = await q.commit(work)
    return ticket, ahead
