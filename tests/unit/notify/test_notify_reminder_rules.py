"""The projection of open dossiers and what officers are reminded of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.contracts.events import (
    ApplicantContact,
    DossierLateApology,
    DossierLateApologyPayload,
    DossierReceived,
    DossierReceivedPayload,
    DossierStatusChanged,
    DossierStatusChangedPayload,
)
from services.notify.model.common import VN_TZ
from services.notify.model.reminders import (
    ReminderKind,
    digest_variables,
    estimate_remind_at,
    project,
    reminder_kind,
    reminder_row,
    repeats_reception,
)

DUE = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)  # Thursday 17:00 in Vietnam
REMIND = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
A = ApplicantContact(name="A")


def changed(status: str, at: datetime, **extra: object) -> DossierStatusChanged:
    payload = DossierStatusChangedPayload(
        dossier_id="d1",
        dossier_code="C-1",
        procedure_code="p",
        procedure_name="P",
        office_id="o1",
        channel="counter",
        applicant=A,
        status=status,
        due_at=DUE,
        remind_at=REMIND,
        **extra,
    )
    return DossierStatusChanged(unit_code="30307", unit_path=["30307", "91"], occurred_at=at, payload=payload)


def test_projection_follows_the_lifecycle_and_ignores_older_events() -> None:
    t = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    view = project(None, changed("processing", t), "trace-1")
    assert view is not None and view.active and view.remind_at == REMIND and view.unit_path == ["30307", "91"]
    paused = project(view, changed("supplement_requested", t + timedelta(hours=1)))
    assert paused is not None and not paused.active and paused.last_trace_id == "trace-1"
    assert project(paused, changed("processing", t)) is None  # older than what is known
    done = project(paused, changed("resolved", t + timedelta(hours=2)))
    assert done is not None and not done.active


def test_reminder_kinds() -> None:
    view = project(None, changed("processing", datetime(2026, 3, 10, tzinfo=UTC)))
    assert view is not None
    assert reminder_kind(view, REMIND - timedelta(minutes=1)) is None
    assert reminder_kind(view, REMIND) is ReminderKind.DUE_SOON
    assert reminder_kind(view, DUE) is ReminderKind.LATE
    assert reminder_kind(view.model_copy(update={"status": "suspended"}), DUE) is None


def test_once_per_dossier_and_vietnamese_day() -> None:
    view = project(None, changed("processing", datetime(2026, 3, 10, tzinfo=UTC)))
    assert view is not None
    late_evening_utc = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)  # 01:00 on the 13th in Vietnam
    assert reminder_row(view, ReminderKind.LATE, late_evening_utc)["_id"] == "d1:2026-03-13"
    assert reminder_row(view, ReminderKind.LATE, DUE)["_id"] == "d1:2026-03-12"


def test_a_late_apology_moves_the_due_moment() -> None:
    new_due = DUE + timedelta(days=3)
    apology = DossierLateApology(
        unit_code="30307",
        occurred_at=datetime(2026, 3, 11, tzinfo=UTC),
        payload=DossierLateApologyPayload(
            dossier_id="d1",
            dossier_code="C-1",
            procedure_code="p",
            procedure_name="P",
            office_id="o1",
            channel="counter",
            applicant=A,
            status="processing",
            due_at=DUE,
            remind_at=REMIND,
            reason="r",
            previous_due_at=DUE,
            new_due_at=new_due,
        ),
    )
    view = project(None, apology)
    assert view is not None and view.due_at == new_due


def test_without_remind_at_the_previous_weekday_is_estimated() -> None:
    monday = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
    assert estimate_remind_at(monday).astimezone(VN_TZ).weekday() == 4  # Friday
    received = DossierReceived(
        unit_code="30307",
        payload=DossierReceivedPayload(
            dossier_id="d2",
            dossier_code="C-2",
            procedure_code="p",
            procedure_name="P",
            office_id="o1",
            channel="counter",
            applicant=A,
            received_at=monday - timedelta(days=5),
            due_at=monday,
        ),
    )
    view = project(None, received)
    assert view is not None and view.status == "received" and view.remind_at_estimated


def test_a_reception_is_projected_once_from_its_received_event() -> None:
    """The status change into `received` written beside a reception adds nothing to the view
    the received event gives: intake's reminder moment and the return channel come with both."""
    t = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    received = DossierReceived(
        unit_code="30307",
        occurred_at=t,
        payload=DossierReceivedPayload(
            dossier_id="d1", dossier_code="C-1", procedure_code="p", procedure_name="P", office_id="o1",
            channel="counter", return_channel="postal", applicant=A, received_at=t, due_at=DUE, remind_at=REMIND,
        ),
    )
    companion = changed("received", t + timedelta(milliseconds=1), return_channel="postal")
    from_reception, from_companion = project(None, received), project(None, companion)
    assert from_reception is not None and from_companion is not None
    same = {"status", "due_at", "remind_at", "remind_at_estimated", "return_channel", "office_id", "unit_code"}
    assert from_reception.model_dump(include=same) == from_companion.model_dump(include=same)
    assert not from_reception.remind_at_estimated and from_reception.return_channel == "postal"
    assert repeats_reception(companion)
    assert repeats_reception(changed("received", t, from_status="registered"))  # an online dossier received
    assert not repeats_reception(received)
    assert not repeats_reception(changed("processing", t, from_status="received"))
    assert not repeats_reception(changed("received", t, from_status="supplement_requested"))


def test_digest_lists_due_soon_and_late_in_due_order() -> None:
    rows = [
        {"kind": "late", "dossier_code": "B", "procedure_name": "P", "due_at": DUE, "status_label": "x"},
        {
            "kind": "due_soon",
            "dossier_code": "C",
            "procedure_name": "P",
            "due_at": DUE + timedelta(1),
            "status_label": "x",
        },
        {"kind": "late", "dossier_code": "A", "procedure_name": "P", "due_at": DUE - timedelta(1), "status_label": "x"},
    ]
    variables = digest_variables("o1", rows, DUE)
    assert [d["dossier_code"] for d in variables["late"]] == ["A", "B"]
    assert [d["dossier_code"] for d in variables["due_soon"]] == ["C"] and variables["count"] == 3
