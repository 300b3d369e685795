"""Personal-data rules (pure): audit records and their scope, consent per purpose, the deletion
decision over a person's dossiers, the export's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.model.dossier import ApplicantRecord, Channel, Dossier, DossierStatus, Handling
from services.intake.model.privacy import (
    AuditAction,
    AuditQueryError,
    ConsentEvent,
    Decision,
    DeletionOutcome,
    DossierRef,
    Purpose,
    Reader,
    RetainReason,
    RetentionRule,
    anonymised_applicant,
    audit_record,
    check_audit_range,
    consent_change,
    consent_states,
    decide_deletion,
    deletion_outcome,
    dossier_export,
    dossier_verdict,
    is_granted,
    latest_applicant,
    merge_paths,
)

T0 = datetime(2026, 1, 12, 2, 0, tzinfo=UTC)
PERSON = "089203004567"
READER = Reader(subject="spec-lx", name="Trần Văn Bình", roles=["specialist"], unit_code="30307")


def dossier(status: DossierStatus = DossierStatus.RECEIVED, *, code: str | None = "X-260112-0001",
            received: bool = True, finished_days: float | None = None, **over: Any) -> Dossier:
    data: dict[str, Any] = {
        "id": over.pop("id", "d1"), "code": code, "reference": "R1", "status": status, "channel": Channel.COUNTER,
        "office_id": "ttpvhcc-long-xuyen", "office_name": "TTPVHCC Long Xuyên", "receiving_unit_id": "X",
        "unit_code": "30307", "unit_path": ["30307", "91"], "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh", "field_code": "ho_tich", "procedure_level": "commune",
        "applicant": ApplicantRecord(kind="individual", name="Nguyễn Văn Ánh", id_number=PERSON,
                                     id_masked="089*******67", phone="0987654321"),
        "form_data": {"ho_ten": "Trần Minh Khôi"},
        "received_at": T0 if received else None, "created_at": T0,
        "finished_at": T0 + timedelta(days=finished_days) if finished_days is not None else None,
    }
    data.update(over)
    return Dossier(**data)


# ---- audit -------------------------------------------------------------------------------------
def test_an_audit_record_says_who_role_unit_when_what_and_who_may_see_it() -> None:
    handled = dossier(handling=Handling(body_name="Sở Tư pháp", level="province", unit_code="91TP",
                                        unit_path=["91TP", "91"]))
    record = audit_record(READER, AuditAction.DOSSIER_READ, T0, endpoint="get_dossier", purpose="case_handling",
                          dossiers=[DossierRef.of(handled)], reader_path=["30307", "91"])
    assert (record.subject, record.name, record.roles, record.unit_code) == (
        "spec-lx", "Trần Văn Bình", ["specialist"], "30307")
    assert (record.at, record.action, record.endpoint, record.purpose) == (
        T0, AuditAction.DOSSIER_READ, "get_dossier", "case_handling")
    assert record.dossier_ids == ["d1"] and record.dossier_codes == ["X-260112-0001"]
    # the reader's units and both the receiving and the handling units' paths, once each
    assert record.scope == ["30307", "91", "91TP"]


def test_a_dossier_without_a_code_is_recorded_by_its_id() -> None:
    record = audit_record(READER, AuditAction.SLIP_READ, T0, endpoint="get_dossier_slip",
                          dossiers=[DossierRef("d9", None, ("30316", "91"))])
    assert record.dossier_ids == ["d9"] and record.dossier_codes == [] and record.scope == ["30307", "30316", "91"]


def test_merge_paths_keeps_first_seen_order() -> None:
    assert merge_paths(["a", "b"], ["b", "c", ""], ["a"]) == ["a", "b", "c"]


def test_an_audit_query_range_must_not_run_backwards() -> None:
    check_audit_range(T0, T0)
    check_audit_range(None, T0)
    check_audit_range(T0.replace(tzinfo=None), T0 + timedelta(seconds=1))  # naive means UTC
    with pytest.raises(AuditQueryError) as err:
        check_audit_range(T0 + timedelta(hours=1), T0)
    assert err.value.code == "invalid_range"


# ---- consent -----------------------------------------------------------------------------------
def _change(history: list[ConsentEvent], purpose: Purpose, granted: bool, at: datetime) -> ConsentEvent | None:
    return consent_change(history, PERSON, purpose, granted, at, by_subject="rec-lx", by_unit="30307")


def test_no_answer_is_no_consent_and_every_purpose_is_listed() -> None:
    states = consent_states([])
    assert [s.purpose for s in states] == list(Purpose)
    assert not any(s.granted for s in states) and all(s.since is None for s in states)


def test_grant_and_withdraw_are_kept_as_history_and_the_latest_answer_counts() -> None:
    history: list[ConsentEvent] = []
    grant = _change(history, Purpose.NOTIFICATIONS, True, T0)
    assert grant is not None and grant.person_masked == "089*******67" and grant.by_unit == "30307"
    history.append(grant)
    assert _change(history, Purpose.NOTIFICATIONS, True, T0 + timedelta(hours=1)) is None  # nothing new
    assert _change(history, Purpose.SURVEY, False, T0) is None  # never granted: nothing to withdraw
    withdraw = _change(history, Purpose.NOTIFICATIONS, False, T0 + timedelta(days=1))
    assert withdraw is not None
    history.append(withdraw)
    assert not is_granted(history, Purpose.NOTIFICATIONS)
    state = {s.purpose: s for s in consent_states(history)}[Purpose.NOTIFICATIONS]
    assert state.since == T0 + timedelta(days=1) and state.recorded_by_unit == "30307"


def test_a_frozen_clock_still_orders_the_history() -> None:
    grant = _change([], Purpose.SURVEY, True, T0)
    assert grant is not None
    withdraw = _change([grant], Purpose.SURVEY, False, T0)  # the same moment
    assert withdraw is not None and withdraw.at > grant.at
    assert not is_granted([withdraw, grant], Purpose.SURVEY)  # order of the list does not matter


# ---- deletion ----------------------------------------------------------------------------------
RULE = RetentionRule(default_days=3650, by_procedure={"2.000815": 365, "9.999999": -1})


def test_a_procedure_in_progress_or_a_pending_registration_is_kept() -> None:
    for status in (DossierStatus.RECEIVED, DossierStatus.PROCESSING, DossierStatus.SUSPENDED,
                   DossierStatus.RESOLVED, DossierStatus.RESULT_READY):
        verdict = dossier_verdict(dossier(status), RULE, T0 + timedelta(days=5000))
        assert (verdict.decision, verdict.reason) == (Decision.RETAIN, RetainReason.PROCEDURE_IN_PROGRESS)
        assert "Decree 13/2023" in verdict.reason_text
    pending = dossier_verdict(dossier(DossierStatus.REGISTERED, code=None, received=False), RULE, T0)
    assert pending.reason is RetainReason.REGISTRATION_PENDING


def test_finished_dossiers_are_kept_for_the_retention_period_then_anonymised() -> None:
    returned = dossier(DossierStatus.RETURNED, finished_days=10)
    end = T0 + timedelta(days=10 + 3650)
    kept = dossier_verdict(returned, RULE, end - timedelta(seconds=1))
    assert (kept.decision, kept.reason, kept.retained_until) == (Decision.RETAIN, RetainReason.LEGAL_RETENTION, end)
    assert dossier_verdict(returned, RULE, end).decision is Decision.ANONYMISE
    # per procedure; a negative period keeps forever
    short = dossier(DossierStatus.RETURNED, finished_days=0, procedure_code="2.000815")
    assert dossier_verdict(short, RULE, T0 + timedelta(days=366)).decision is Decision.ANONYMISE
    forever = dossier(DossierStatus.RETURNED, finished_days=0, procedure_code="9.999999")
    verdict = dossier_verdict(forever, RULE, T0 + timedelta(days=100_000))
    assert verdict.decision is Decision.RETAIN and verdict.retained_until is None
    # refused at the counter: the refusal is a record too, from its creation
    refused = dossier(DossierStatus.NOT_RECEIVED, code=None, received=False)
    assert dossier_verdict(refused, RULE, T0 + timedelta(days=30)).reason is RetainReason.LEGAL_RETENTION


def test_a_registration_withdrawn_before_reception_has_nothing_to_keep() -> None:
    withdrawn = dossier(DossierStatus.WITHDRAWN, code=None, received=False, finished_days=0)
    assert dossier_verdict(withdrawn, RULE, T0).decision is Decision.ANONYMISE
    received_then_withdrawn = dossier(DossierStatus.WITHDRAWN, finished_days=0)
    assert dossier_verdict(received_then_withdrawn, RULE, T0).reason is RetainReason.LEGAL_RETENTION


def test_the_outcome_of_a_request() -> None:
    kept = dossier_verdict(dossier(), RULE, T0)
    gone = dossier_verdict(dossier(DossierStatus.WITHDRAWN, code=None, received=False), RULE, T0)
    assert deletion_outcome([kept]) is DeletionOutcome.REFUSED
    assert deletion_outcome([kept, gone]) is DeletionOutcome.PARTIALLY_REFUSED
    assert deletion_outcome([gone]) is DeletionOutcome.COMPLETED
    assert deletion_outcome([]) is DeletionOutcome.COMPLETED


def test_a_deletion_request_records_its_reasons_and_ends_consents() -> None:
    grant = _change([], Purpose.SURVEY, True, T0)
    assert grant is not None
    dossiers = [dossier(id="d1"), dossier(DossierStatus.RETURNED, id="d2", code="X-260112-0002", finished_days=1)]
    request = decide_deletion(dossiers, [grant], RULE, T0 + timedelta(days=30), person=PERSON, reader=READER,
                              scope=["30307", "91"], reason_given="Tôi muốn xoá", request_reference="YC-1")
    assert request.outcome is DeletionOutcome.REFUSED
    assert request.refusal_reasons == ["legal_retention", "procedure_in_progress"]
    assert [v.dossier_code for v in request.dossiers] == ["X-260112-0001", "X-260112-0002"]
    assert request.consents_withdrawn == [Purpose.SURVEY] and request.erased == ["consent withdrawn: survey"]
    assert (request.person_masked, request.by_subject, request.by_unit, request.scope) == (
        "089*******67", "spec-lx", "30307", ["30307", "91"])


def test_anonymised_applicant_keeps_no_identifier() -> None:
    gone = ApplicantRecord(**anonymised_applicant("individual"))
    assert gone.id_number is None and gone.phone is None and gone.email is None and gone.id_masked == ""
    assert gone.address == "" and gone.name == "[đã ẩn danh]"


# ---- export ------------------------------------------------------------------------------------
def test_the_export_of_a_dossier_holds_the_persons_data_not_the_officers() -> None:
    d = dossier()
    exported = dossier_export(d)
    assert exported["applicant"]["id_number"] == PERSON and exported["form_data"] == {"ho_ten": "Trần Minh Khôi"}
    assert "received_by" not in exported and "history" not in exported
    newer = dossier(id="d2", received_at=T0 + timedelta(days=1),
                    applicant=ApplicantRecord(kind="individual", name="Nguyễn Văn Ánh", id_number=PERSON,
                                              phone="0912345678"))
    latest = latest_applicant([d, newer])
    assert latest is not None and latest["phone"] == "0912345678"
    assert latest_applicant([]) is None
