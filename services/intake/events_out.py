"""The dossier events intake publishes through its outbox, built from a dossier and an outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.contracts.events import (
    ApplicantContact,
    DossierAnonymised,
    DossierAnonymisedPayload,
    DossierBecameLate,
    DossierLateApology,
    DossierLateApologyPayload,
    DossierLatePayload,
    DossierResultReady,
    DossierResultReadyPayload,
    DossierReturned,
    DossierReturnedPayload,
    DossierStatusChanged,
    DossierStatusChangedPayload,
    DossierStepLate,
    DossierStepLatePayload,
    DossierSupplementRequested,
    DossierSupplementRequestedPayload,
    DossierTransferred,
    DossierTransferredPayload,
    Event,
    MissingItemRef,
)
from services.intake.model.calendar import CalendarRangeError, WorkingCalendar
from services.intake.model.dossier import Dossier, StatusChange
from services.intake.model.lifecycle import Outcome

PUBLISHED_EVENTS: list[type[Event]] = [
    DossierStatusChanged,
    DossierTransferred,
    DossierSupplementRequested,
    DossierLateApology,
    DossierResultReady,
    DossierReturned,
    DossierBecameLate,
    DossierStepLate,
    DossierAnonymised,
]


def ref_fields(d: Dossier, calendar: WorkingCalendar, lookup_url: str | None) -> dict[str, Any]:
    """The `DossierRef` part every dossier event carries (remind_at: one working day before due)."""
    assert d.code is not None, "only a dossier with a code has events"
    remind_at = None
    if d.due_at is not None:
        try:
            remind_at = calendar.one_working_day_before(d.due_at)
        except CalendarRangeError:
            remind_at = None
    return {
        "dossier_id": d.id,
        "dossier_code": d.code,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "office_id": d.office_id,
        "channel": d.channel.value,
        "return_channel": "postal" if d.return_channel == "postal" else "counter",
        "applicant": ApplicantContact(name=d.applicant.name, email=d.applicant.email, phone=d.applicant.phone),
        "status": d.status.value,
        "due_at": d.due_at,
        "remind_at": remind_at,
        "lookup_url": lookup_url,
    }


def _envelope(d: Dossier) -> dict[str, Any]:
    return {"unit_code": d.unit_code, "unit_path": d.access_path()}


def status_changed(d: Dossier, change: StatusChange, ref: dict[str, Any]) -> DossierStatusChanged:
    return DossierStatusChanged(
        **_envelope(d),
        payload=DossierStatusChangedPayload(
            **ref,
            from_status=change.from_status.value if change.from_status else None,
            actor_role=change.role,
            note=change.note,
        ),
    )


def anonymised(d: Dossier, deletion_request_id: str, at: datetime) -> DossierAnonymised:
    """Tells the services that keep copies of the applicant's data for `d` to erase them."""
    return DossierAnonymised(
        **_envelope(d),
        payload=DossierAnonymisedPayload(
            dossier_id=d.id, dossier_code=d.code, deletion_request_id=deletion_request_id, anonymised_at=at
        ),
    )


def events_for(d: Dossier, outcome: Outcome, calendar: WorkingCalendar, lookup_url: str | None) -> list[Event]:
    """DossierStatusChanged for every status change, plus the specific event of the action."""
    if d.code is None:
        return []
    ref = ref_fields(d, calendar, lookup_url)
    env = _envelope(d)
    events: list[Event] = []
    if outcome.status_changed and outcome.change is not None:
        events.append(status_changed(d, outcome.change, ref))
    if outcome.transferred is not None:
        t = outcome.transferred
        events.append(
            DossierTransferred(
                **env,
                payload=DossierTransferredPayload(
                    **ref,
                    kind=t.kind,
                    from_unit=t.from_unit,
                    to_unit=t.to_unit,
                    to_body=t.to_body,
                    reason=t.reason,
                    on_time=t.on_time,
                ),
            )
        )
    if outcome.supplement is not None:
        events.append(
            DossierSupplementRequested(
                **env,
                payload=DossierSupplementRequestedPayload(
                    **ref, missing=[MissingItemRef(name=m.name, reason=m.reason) for m in outcome.supplement.missing]
                ),
            )
        )
    if outcome.apology is not None:
        a = outcome.apology
        events.append(
            DossierLateApology(
                **env,
                payload=DossierLateApologyPayload(
                    **ref, reason=a.reason, previous_due_at=a.previous_due_at, new_due_at=a.new_due_at
                ),
            )
        )
    if outcome.result_ready and d.result is not None:
        events.append(
            DossierResultReady(
                **env,
                payload=DossierResultReadyPayload(
                    **ref, pickup_place=d.result.pickup_place, pager_number=d.result.pager_number
                ),
            )
        )
    if outcome.returned and d.returned is not None:
        events.append(
            DossierReturned(
                **env,
                payload=DossierReturnedPayload(**ref, returned_via=d.returned.via, returned_at=d.returned.at),
            )
        )
    if outcome.became_late and d.late_since is not None:
        events.append(DossierBecameLate(**env, payload=DossierLatePayload(**ref, late_since=d.late_since)))
    for step in outcome.late_steps:
        assert step.due_at is not None
        events.append(
            DossierStepLate(
                **env,
                payload=DossierStepLatePayload(
                    **ref, step_index=step.index, step_body=step.body, step_task=step.task, step_due_at=step.due_at
                ),
            )
        )
    return events
