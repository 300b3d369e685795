"""The queue's HTTP views: what staff, kiosks and citizens see of tickets, appointments, pagers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.intake.queue.model import Ticket


def ticket_view(t: Ticket) -> dict[str, Any]:
    data = t.model_dump(mode="json", exclude={"version"})
    data["services"] = t.services
    return data


def public_ticket_view(t: Ticket, waiting_ahead: int = 0) -> dict[str, Any]:
    """What a kiosk prints and a citizen may look up: no personal data, no officer names."""
    return {
        "id": t.id,
        "number": t.number,
        "office_id": t.office_id,
        "day": t.day,
        "field_code": t.field_code,
        "field_name": t.field_name,
        "procedure_code": t.procedure_code,
        "priority": t.priority.value,
        "appointment": t.appointment_at is not None,
        "status": t.status.value,
        "counter_number": t.counter_number,
        "issued_at": t.issued_at.isoformat(),
        "waiting_ahead": waiting_ahead,
    }


def appointment_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": doc["_id"],
        "office_id": doc["office_id"],
        "field_code": doc["field_code"],
        "procedure_code": doc.get("procedure_code"),
        "at": doc["at"].isoformat() if isinstance(doc["at"], datetime) else doc["at"],
        "ticket_id": doc.get("ticket_id"),
    }


def pager_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("office_id", "pager_number", "status", "dossier_id", "dossier_code", "ticket_id", "label", "calls")
    out: dict[str, Any] = {k: doc.get(k) for k in keys}
    for k in ("bound_at", "last_called_at", "released_at"):
        v = doc.get(k)
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out
