"""Officers' reminders: notify's own projection of open dossiers, and what is due.

Notify never asks intake: every dossier event carries the due moment (`due_at`) and the moment
one working day before it (`remind_at`, from intake's working calendar). A dossier is
reminded once per day — when `remind_at` has come (due within one working day) and, after
`due_at`, every day it stays late — while it is being worked on. A supplement request or a
suspension pauses it; a result, a return, a refusal or a withdrawal ends it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.contracts.events import (
    DossierLateApology,
    DossierReceived,
    DossierResultReady,
    DossierStatusChanged,
    Event,
)
from services.notify.model.common import VN_TZ, vn_day
from services.notify.model.routing import STATUS_LABELS_VI

ACTIVE_STATUSES = frozenset({"received", "processing", "awaiting_payment"})
CLOSED_STATUSES = frozenset({"not_received", "withdrawn", "resolved", "returned"})


class ReminderKind(StrEnum):
    DUE_SOON = "due_soon"  # due within one working day
    LATE = "late"  # past its due moment, unfinished


class DossierView(BaseModel):
    """What notify keeps about one dossier (no personal data)."""

    dossier_id: str
    dossier_code: str
    procedure_code: str = ""
    procedure_name: str = ""
    office_id: str
    unit_code: str
    unit_path: list[str] = Field(default_factory=list)
    status: str
    return_channel: str = "counter"
    due_at: datetime | None = None
    remind_at: datetime | None = None
    remind_at_estimated: bool = False
    late_since: datetime | None = None
    last_event_at: datetime
    last_trace_id: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def estimate_remind_at(due_at: datetime) -> datetime:
    """Only when an event carries no `remind_at`: the same time on the previous weekday.

    Public holidays are not known here; intake's `remind_at` is always preferred.
    """
    local = due_at.astimezone(VN_TZ) - timedelta(days=1)
    while local.weekday() >= 5:  # Saturday, Sunday
        local -= timedelta(days=1)
    return local


def repeats_reception(event: Event) -> bool:
    """A status change into `received` is written with the reception's `DossierReceived`, which
    carries the same view (due and reminder moments, return channel): projecting both would
    write the same view twice, once per reception."""
    return (
        isinstance(event, DossierStatusChanged)
        and event.payload.status == "received"
        and event.payload.from_status in (None, "registered")
    )


def project(current: DossierView | None, event: Event, trace_id: str | None = None) -> DossierView | None:
    """The view after `event`, or None when the event is older than what is known already."""
    if current is not None and event.occurred_at < current.last_event_at:
        return None
    payload: Any = event.payload
    if not hasattr(payload, "dossier_id"):
        return None
    status = "received" if isinstance(event, DossierReceived) else str(payload.status)
    if isinstance(event, DossierResultReady) and status in ACTIVE_STATUSES:
        status = "resolved"  # processing has ended whatever the status string says
    due_at: datetime | None = payload.due_at
    if isinstance(event, DossierLateApology):
        due_at = payload.due_at if payload.due_at and payload.due_at >= payload.new_due_at else payload.new_due_at
    remind_at: datetime | None = getattr(payload, "remind_at", None)
    estimated = False
    if remind_at is None and due_at is not None:
        remind_at, estimated = estimate_remind_at(due_at), True
    # A new appointment (late apology) clears the old lateness.
    kept = current.late_since if current is not None and current.due_at == due_at else None
    late_since = getattr(payload, "late_since", None) or kept
    return DossierView(
        dossier_id=payload.dossier_id,
        dossier_code=payload.dossier_code,
        procedure_code=payload.procedure_code,
        procedure_name=payload.procedure_name,
        office_id=payload.office_id,
        unit_code=event.unit_code,
        unit_path=event.unit_path or [event.unit_code],
        status=status,
        return_channel=getattr(payload, "return_channel", "counter"),
        due_at=due_at,
        remind_at=remind_at,
        remind_at_estimated=estimated,
        late_since=late_since,
        last_event_at=event.occurred_at,
        last_trace_id=trace_id or (current.last_trace_id if current else None),
    )


def reminder_kind(view: DossierView, now: datetime) -> ReminderKind | None:
    if not view.active or view.due_at is None:
        return None
    if now >= view.due_at:
        return ReminderKind.LATE
    if view.remind_at is not None and now >= view.remind_at:
        return ReminderKind.DUE_SOON
    return None


def reminder_id(dossier_id: str, day: str) -> str:
    """Once per dossier and day: the unique key of a reminder."""
    return f"{dossier_id}:{day}"


def reminder_row(view: DossierView, kind: ReminderKind, now: datetime) -> dict[str, Any]:
    day = vn_day(now)
    return {
        "_id": reminder_id(view.dossier_id, day),
        "day": day,
        "kind": kind.value,
        "dossier_id": view.dossier_id,
        "dossier_code": view.dossier_code,
        "procedure_name": view.procedure_name,
        "status": view.status,
        "status_label": STATUS_LABELS_VI.get(view.status, view.status),
        "due_at": view.due_at,
        "office_id": view.office_id,
        "unit_code": view.unit_code,
        "unit_path": view.unit_path,
        "trace_id": view.last_trace_id,
        "digest_id": None,
        "created_at": now,
    }


def digest_variables(office_id: str, rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Template variables of one digest sent to an office's officers."""

    def item(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row.get(k) for k in ("dossier_code", "procedure_name", "due_at", "status_label")}

    ordered = sorted(rows, key=lambda r: (r.get("due_at") is None, r.get("due_at") or now))
    due_soon = [item(r) for r in ordered if r["kind"] == ReminderKind.DUE_SOON]
    late = [item(r) for r in ordered if r["kind"] == ReminderKind.LATE]
    return {"office_id": office_id, "day": vn_day(now), "due_soon": due_soon, "late": late, "count": len(rows)}
