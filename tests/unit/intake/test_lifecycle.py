"""The dossier lifecycle (pure): transitions, audit lines, deadlines, supplements, steps, apology."""

from __future__ import annotations

import pytest

from services.intake.model import lifecycle as lc
from services.intake.model.calendar import Timeliness
from services.intake.model.dossier import DossierStatus, MissingRecord, StepStatus
from tests.unit.intake.lifecycle_fixtures import (
    BIRTH_BUNDLE,
    CAL,
    LAND,
    LEADER,
    OFFICER,
    PERMIT,
    SPECIALIST,
    at,
    ctx,
    received,
)

S = DossierStatus
MISSING = [MissingRecord(name="Bản vẽ thiết kế", reason="Thiếu chữ ký của chủ đầu tư")]


def processing(procedure=PERMIT, route=None):  # type: ignore[no-untyped-def]
    d = received(procedure)
    lc.transfer(d, ctx(at(12, 10), OFFICER), d.handling)  # type: ignore[arg-type]
    lc.start_processing(d, ctx(at(12, 11)), route)
    return d


# ---- the transition table --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (S.RECEIVED, lambda d, c: lc.resolve(d, c)),
        (S.RECEIVED, lambda d, c: lc.return_result(d, c, "counter")),
        (S.PROCESSING, lambda d, c: lc.complete_supplement(d, c)),
        (S.PROCESSING, lambda d, c: lc.transfer(d, c, d.handling)),
        (S.RESOLVED, lambda d, c: lc.withdraw(d, c, "đổi ý")),
        (S.RETURNED, lambda d, c: lc.apologise(d, c, "quá tải", at(30, 17))),
        (S.WITHDRAWN, lambda d, c: lc.start_processing(d, c, None)),
        (S.SUSPENDED, lambda d, c: lc.resolve(d, c)),
    ],
)
def test_invalid_transitions_are_refused_with_a_stable_code(status, step) -> None:  # type: ignore[no-untyped-def]
    d = received()
    d.status = status
    with pytest.raises(lc.InvalidTransition) as err:
        step(d, ctx(at(13)))
    assert err.value.code == "invalid_transition"
    assert err.value.details["status"] == status.value
    assert len(d.history) == 1  # nothing recorded


def test_every_open_status_can_be_withdrawn_and_closed_ones_cannot() -> None:
    for status in lc.OPEN | {S.REGISTERED}:
        assert lc.Action.WITHDRAW in lc.allowed_actions(status)
    for status in (S.RETURNED, S.WITHDRAWN, S.NOT_RECEIVED):
        assert lc.allowed_actions(status) == []


def test_happy_path_is_audited_line_by_line() -> None:
    d = processing()
    lc.resolve(d, ctx(at(30, 10), LEADER, note="Đủ điều kiện cấp phép"))
    out = lc.mark_result_ready(d, ctx(at(30, 14), OFFICER), pager_number="042")
    assert out.result_ready and d.result is not None and d.result.pager_number == "042"
    lc.return_result(d, ctx(at(2, 9, month=2), OFFICER), "counter")
    assert d.status is S.RETURNED and d.returned is not None and d.returned.via == "counter"
    steps = [(h.from_status, h.to_status, h.actor, h.role, h.unit_code) for h in d.history]
    assert steps == [
        (None, S.RECEIVED, "officer-1", "reception_officer", "30307"),
        (S.RECEIVED, S.TRANSFERRED, "officer-1", "reception_officer", "30307"),
        (S.TRANSFERRED, S.PROCESSING, "spec-1", "specialist", "30307"),
        (S.PROCESSING, S.RESOLVED, "lead-1", "signing_leader", "30307"),
        (S.RESOLVED, S.RESULT_READY, "officer-1", "reception_officer", "30307"),
        (S.RESULT_READY, S.RETURNED, "officer-1", "reception_officer", "30307"),
    ]
    assert "Đủ điều kiện cấp phép" in d.history[3].note
    assert d.history[2].holder.startswith("Ủy ban nhân dân cấp xã (Phường Long Xuyên)")
    assert d.history[4].holder == d.office_name
    # due Monday 02/02 17:00 (15 working days from Monday 12/01): resolved Friday 30/01 → early
    assert d.statutory_due_at == at(2, 17, month=2) and d.timeliness == Timeliness.EARLY


def test_transfer_records_the_body_and_whether_it_was_on_time() -> None:
    d = received(moment=at(12, 15, 30))  # after the 15:00 cut-off: transfer by Tuesday 17:00
    assert d.transfer_deadline == at(13, 17)
    out = lc.transfer(d, ctx(at(13, 16), OFFICER), d.handling)  # type: ignore[arg-type]
    assert out.transferred is not None and out.transferred.on_time and out.transferred.to_unit == "30307"
    late = received(moment=at(12, 9))
    out = lc.transfer(late, ctx(at(13, 8), OFFICER), late.handling)  # type: ignore[arg-type]
    assert out.transferred is not None and not out.transferred.on_time
    assert late.handling is not None and late.handling.since == at(13, 8)


# ---- supplement: window, once, pause and restart ----------------------------------------------


def test_supplement_pauses_the_clock_and_the_deadline_restarts_when_complete() -> None:
    d = processing()
    out = lc.request_supplement(d, ctx(at(14, 10)), MISSING)
    assert out.supplement is not None and d.status is S.SUPPLEMENT_REQUESTED
    assert d.missing == MISSING and d.pauses[-1].end is None and d.pauses[-1].reason == "supplement"
    lc.complete_supplement(d, ctx(at(19, 9), OFFICER))
    assert d.status is S.PROCESSING and d.missing == [] and d.pauses[-1].end == at(19, 9)
    assert d.clock_start == at(19, 9)
    # 15 working days counted again from Monday 19/01: Monday 09/02 17:00
    assert d.statutory_due_at == at(9, 17, month=2) and d.due_at == d.statutory_due_at
    assert d.supplements[0].completed_at == at(19, 9)


def test_supplement_only_within_three_working_days_and_only_once() -> None:
    d = processing()  # the body received it on Monday 12/01 10:00 → window until Thursday 15/01 17:00
    assert lc.supplement_window_end(d, CAL) == at(15, 17)
    with pytest.raises(lc.RuleViolation) as err:
        lc.request_supplement(d, ctx(at(16, 8)), MISSING)
    assert err.value.code == "supplement_window_closed"
    with pytest.raises(lc.RuleViolation) as err:
        lc.request_supplement(d, ctx(at(13)), [])
    assert err.value.code == "nothing_missing"
    lc.request_supplement(d, ctx(at(13)), MISSING)
    lc.complete_supplement(d, ctx(at(14)))
    with pytest.raises(lc.AlreadyDone) as again:
        lc.request_supplement(d, ctx(at(14, 10)), MISSING)
    assert again.value.code == "supplement_already_requested"


# ---- payment and suspension pause the clock ---------------------------------------------------


def test_awaiting_payment_pauses_the_clock_and_payment_resumes() -> None:
    d = processing()
    lc.request_payment(d, ctx(at(13, 9)))
    assert d.status is S.AWAITING_PAYMENT and d.resume_status is S.PROCESSING
    lc.payment_received(d, ctx(at(15, 9)))
    assert d.status is S.PROCESSING and d.resume_status is None
    # two working days paused: due moves from Monday 02/02 to Wednesday 04/02 17:00
    assert d.statutory_due_at == at(4, 17, month=2)


def test_a_no_appointment_dossier_proceeds_as_soon_as_it_is_paid() -> None:
    d = received()
    d.no_appointment = True
    assert lc.proceed_when_paid(d, ctx(at(12, 10))) is not None
    assert d.status is S.PROCESSING
    other = received()
    assert lc.proceed_when_paid(other, ctx(at(12, 10))) is None and other.status is S.RECEIVED
    waiting = received()
    waiting.no_appointment = True
    lc.request_payment(waiting, ctx(at(12, 9, 30)))
    lc.proceed_when_paid(waiting, ctx(at(12, 10)))
    assert waiting.status is S.PROCESSING


def test_suspend_needs_a_reason_and_resume_returns_to_processing() -> None:
    d = processing()
    with pytest.raises(lc.RuleViolation):
        lc.suspend(d, ctx(at(13)), " ")
    lc.suspend(d, ctx(at(13)), "Chờ ý kiến cơ quan chuyên môn")
    assert d.status is S.SUSPENDED and d.status_reason
    lc.resume(d, ctx(at(14)))
    assert d.status is S.PROCESSING and d.statutory_due_at == at(3, 17, month=2)


# ---- inter-agency steps -----------------------------------------------------------------------


def test_parallel_steps_start_together_with_a_lead_body_and_block_resolution() -> None:
    assert BIRTH_BUNDLE.route is not None
    d = processing(BIRTH_BUNDLE, BIRTH_BUNDLE.route)
    assert d.route_mode == "parallel" and d.lead_body == "Ủy ban nhân dân cấp xã"
    assert [s.status for s in d.steps] == [StepStatus.ACTIVE] * 3
    assert [s.due_at for s in d.steps] == [at(13, 17), at(15, 17), at(15, 17)]
    assert lc.holders(d) == ["Ủy ban nhân dân cấp xã", "Công an cấp xã", "Bảo hiểm xã hội cơ sở"]
    with pytest.raises(lc.RuleViolation) as err:
        lc.resolve(d, ctx(at(13)))
    assert err.value.code == "steps_pending"
    lc.complete_step(d, ctx(at(13, 10)), 0)
    assert lc.holders(d) == ["Ủy ban nhân dân cấp xã", "Công an cấp xã", "Bảo hiểm xã hội cơ sở"]
    lc.complete_step(d, ctx(at(14, 10)), 1)
    assert lc.holders(d) == ["Ủy ban nhân dân cấp xã", "Bảo hiểm xã hội cơ sở"]
    with pytest.raises(lc.InvalidTransition):
        lc.complete_step(d, ctx(at(14, 11)), 1)
    with pytest.raises(lc.RuleViolation):
        lc.complete_step(d, ctx(at(14, 11)), 7)
    lc.complete_step(d, ctx(at(16, 10)), 2)  # after its deadline (Thursday 17:00)
    assert "trễ hạn bước" in d.history[-1].note
    lc.resolve(d, ctx(at(16, 11), LEADER))
    assert d.status is S.RESOLVED and d.timeliness == Timeliness.EARLY


def test_sequential_steps_run_one_after_another_each_with_its_deadline() -> None:
    assert LAND.route is not None
    d = received(LAND, office_id="ttpvhcc-an-giang")
    assert d.handling is not None and d.handling.unit_code == "91"
    lc.start_processing(d, ctx(at(12, 9)), LAND.route)
    assert [s.status for s in d.steps] == [StepStatus.ACTIVE] + [StepStatus.WAITING] * 3
    assert d.steps[0].due_at == at(26, 17)
    assert lc.holders(d) == ["Văn phòng đăng ký đất đai tỉnh An Giang"]
    lc.complete_step(d, ctx(at(23, 10)), 0)
    assert d.steps[1].status is StepStatus.ACTIVE and d.steps[1].started_at == at(23, 10)
    assert d.steps[1].due_at == at(30, 17)
    assert lc.holders(d) == ["Thuế tỉnh An Giang"]
    with pytest.raises(lc.InvalidTransition):
        lc.complete_step(d, ctx(at(23, 11)), 2)  # not its turn yet


def test_late_steps_and_late_dossiers_are_flagged_once() -> None:
    assert BIRTH_BUNDLE.route is not None
    d = processing(BIRTH_BUNDLE, BIRTH_BUNDLE.route)
    assert lc.flag_late(d, at(13, 16)) is None
    out = lc.flag_late(d, at(14, 9))
    assert out is not None and [s.index for s in out.late_steps] == [0] and not out.became_late
    assert lc.flag_late(d, at(14, 10)) is None
    assert [s.body for s in lc.late_steps(d, at(14, 10))] == ["Ủy ban nhân dân cấp xã"]
    out = lc.flag_late(d, at(20, 9))  # dossier due Monday 19/01 17:00; steps 1 and 2 late too
    assert out is not None and out.became_late and {s.index for s in out.late_steps} == {1, 2}
    assert d.late and d.late_since == at(19, 17)
    assert lc.flag_late(d, at(21, 9)) is None


def test_a_paused_dossier_is_not_flagged_late_while_the_clock_is_stopped() -> None:
    d = processing()
    lc.request_supplement(d, ctx(at(13)), MISSING)
    assert not lc.is_late(d, at(2, 10, month=3))
    assert lc.flag_late(d, at(2, 10, month=3)) is None


# ---- apology (form 04) ---------------------------------------------------------------------------


def test_apology_once_and_no_later_than_one_working_day_before_due() -> None:
    d = processing()
    assert lc.latest_apology_moment(d, CAL) == at(30, 17)  # due Monday 02/02 17:00 → Friday 30/01 17:00
    late = processing()
    with pytest.raises(lc.RuleViolation) as err:
        lc.apologise(late, ctx(at(2, 8, month=2)), "Quá tải", at(5, 17, month=2))
    assert err.value.code == "apology_too_late"
    with pytest.raises(lc.RuleViolation) as err:
        lc.apologise(d, ctx(at(30, 16)), "Quá tải", at(7, 17, month=2))  # a Saturday
    assert err.value.code == "new_date_not_working_day"
    with pytest.raises(lc.RuleViolation) as err:
        lc.apologise(d, ctx(at(30, 16)), "Quá tải", at(2, 10, month=2))
    assert err.value.code == "new_date_not_later"
    with pytest.raises(lc.RuleViolation):
        lc.apologise(d, ctx(at(30, 16)), "", at(5, 17, month=2))
    out = lc.apologise(d, ctx(at(30, 16)), "Chờ xác minh thực địa", at(5, 17, month=2))
    assert out.apology is not None and out.apology.previous_due_at == at(2, 17, month=2)
    assert d.due_at == at(5, 17, month=2) and d.statutory_due_at == at(2, 17, month=2)
    assert d.status is S.PROCESSING and d.history[-1].action == "apologise"
    with pytest.raises(lc.AlreadyDone) as again:
        lc.apologise(d, ctx(at(30, 16, 30)), "Lần hai", at(6, 17, month=2))
    assert again.value.code == "apology_already_recorded"
    # resolved after the legal due date: late, even with the apology
    lc.resolve(d, ctx(at(4, 10, month=2), LEADER))
    assert d.timeliness == Timeliness.LATE


def test_one_working_day_before_skips_weekends_and_tet() -> None:
    assert CAL.one_working_day_before(at(23, 17, month=2)) == at(13, 17, month=2)  # Tết 16–20/02/2026
    assert CAL.one_working_day_before(at(19, 14, 30)) == at(16, 14, 30)  # Monday → Friday


# ---- refusal, withdrawal, digitisation -----------------------------------------------------------


def test_refusal_needs_a_reason_and_can_be_returned() -> None:
    d = processing()
    with pytest.raises(lc.RuleViolation) as err:
        lc.refuse(d, ctx(at(20)), "")
    assert err.value.code == "refusal_reason_required"
    lc.refuse(d, ctx(at(20), LEADER), "Không phù hợp quy hoạch")
    assert d.status is S.REFUSED and d.refusal_reason == "Không phù hợp quy hoạch"
    lc.return_result(d, ctx(at(21), OFFICER), "postal")
    assert d.status is S.RETURNED and d.returned is not None and d.returned.via == "postal"


def test_withdrawal_from_registered_and_from_a_paused_state() -> None:
    d = received()
    d.status = S.REGISTERED
    lc.withdraw(d, ctx(at(12, 10), OFFICER), "Người nộp rút hồ sơ")
    assert d.status is S.WITHDRAWN
    p = processing()
    lc.request_supplement(p, ctx(at(13)), MISSING)
    lc.withdraw(p, ctx(at(14), OFFICER), "Không bổ sung được")
    assert p.status is S.WITHDRAWN and all(x.end is not None for x in p.pauses)


def test_digitisation_marks_components_and_the_result() -> None:
    d = received()
    assert lc.record_component_digitised(d, "don_de_nghi", "doc-1", reused=True)
    assert not lc.record_component_digitised(d, "don_de_nghi", "doc-1", reused=True)
    c = next(c for c in d.components if c.component_id == "don_de_nghi")
    assert c.digitised and c.reused and c.document_id == "doc-1"
    lc.record_result_digitised(d, "doc-9", at(20))
    assert d.result is not None and d.result.digitised and d.result.document_id == "doc-9"


def test_forward_a_misdirected_dossier_keeps_its_history() -> None:
    from services.intake.model.routing import RoutingError, handling_for_unit
    from tests.unit.intake.lifecycle_fixtures import TREE

    d = processing()
    target = handling_for_unit(PERMIT, TREE, "30316")
    out = lc.forward(d, ctx(at(13), SPECIALIST), target, "Công trình thuộc địa bàn phường Châu Đốc")
    assert out.transferred is not None and out.transferred.kind == "forward"
    assert d.status is S.TRANSFERRED and d.handling is not None and d.handling.unit_code == "30316"
    assert [r.kind for r in d.routing] == ["transfer", "forward"] and len(d.history) == 4
    assert d.access_path() == ["30307", "91", "30316"]
    with pytest.raises(RoutingError) as same:
        lc.forward(d, ctx(at(13, 10)), target, "lại")
    assert same.value.code == "same_unit"
    with pytest.raises(RoutingError) as outside:
        lc.forward(d, ctx(at(13, 10)), handling_for_unit(PERMIT, TREE, "30280"), "nhầm")
    assert outside.value.code == "outside_province"
    with pytest.raises(lc.RuleViolation):
        lc.forward(d, ctx(at(13, 10)), target, " ")
