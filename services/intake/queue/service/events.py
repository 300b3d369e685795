"""The `queue.*` events a ticket's moves publish (the bus API is in contracts/queue.py). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contracts.queue import (
    TicketCalled,
    TicketCalledPayload,
    TicketCompleted,
    TicketCompletedPayload,
    TicketDossierLinked,
    TicketDossierLinkedPayload,
    TicketIssued,
    TicketIssuedPayload,
    TicketServing,
    TicketServingPayload,
    TicketSkipped,
    TicketSkippedPayload,
    TicketTransferred,
    TicketTransferredPayload,
)
from services.intake.queue.model import CounterInfo, Ticket


def envelope(t: Ticket) -> dict[str, Any]:
    return {"unit_code": t.unit_code, "unit_path": t.unit_path}


def ticket_ref(t: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": t.id,
        "office_id": t.office_id,
        "day": t.day,
        "number": t.number,
        "field_code": t.field_code,
        "field_name": t.field_name,
        "procedure_code": t.procedure_code,
        "priority": t.priority.value,
        "appointment": t.appointment_at is not None,
    }


def counter_ref(c: CounterInfo) -> dict[str, Any]:
    return {"counter_id": c.id, "counter_number": c.number, "counter_name": c.name}


def issued(t: Ticket, ahead: int) -> TicketIssued:
    return TicketIssued(
        **envelope(t),
        payload=TicketIssuedPayload(**ticket_ref(t), issued_at=t.issued_at, kiosk_id=t.kiosk_id, waiting_ahead=ahead),
    )


def called(t: Ticket, counter: CounterInfo, now: datetime) -> TicketCalled:
    return TicketCalled(
        **envelope(t),
        payload=TicketCalledPayload(**ticket_ref(t), **counter_ref(counter), called_at=now, attempt=t.calls or 1),
    )


def serving(t: Ticket, counter: CounterInfo, now: datetime) -> TicketServing:
    payload = TicketServingPayload(**ticket_ref(t), **counter_ref(counter), started_at=now)
    return TicketServing(**envelope(t), payload=payload)


def completed(t: Ticket, counter: CounterInfo, now: datetime) -> TicketCompleted:
    return TicketCompleted(
        **envelope(t),
        payload=TicketCompletedPayload(**ticket_ref(t), **counter_ref(counter), finished_at=now, services=t.services),
    )


def skipped(t: Ticket, counter: CounterInfo, now: datetime, *, no_show: bool, calls: int) -> TicketSkipped:
    payload = TicketSkippedPayload(
        **ticket_ref(t), **counter_ref(counter), skipped_at=now, no_show=no_show, calls=calls
    )
    return TicketSkipped(**envelope(t), payload=payload)


def transferred(t: Ticket, origin: CounterInfo, to: CounterInfo, now: datetime) -> TicketTransferred:
    payload = TicketTransferredPayload(
        **ticket_ref(t),
        from_counter_id=origin.id,
        from_counter_number=origin.number,
        to_counter_id=to.id,
        to_counter_number=to.number,
        transferred_at=now,
    )
    return TicketTransferred(**envelope(t), payload=payload)


def dossier_linked(
    t: Ticket, dossier_id: str, dossier_code: str | None, procedure_code: str | None, now: datetime
) -> TicketDossierLinked:
    payload = TicketDossierLinkedPayload(
        **ticket_ref(t),
        dossier_id=dossier_id,
        dossier_code=dossier_code,
        procedure_code_linked=procedure_code,
        linked_at=now,
    )
    return TicketDossierLinked(**envelope(t), payload=payload)
