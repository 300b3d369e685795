"""Queue rules (pure): who is called next, recalls and no-shows, transfers, numbering, limits."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from services.intake.queue import model as m
from services.intake.queue.model import (
    CounterInfo,
    InvalidState,
    Lane,
    LinkedDossier,
    Priority,
    QueueError,
    QueueRules,
    Ticket,
    TicketStatus,
)
from services.kit.ratelimit import TokenBucket

VN = m.VN_TZ
T0 = datetime(2026, 1, 14, 8, 0, tzinfo=VN)  # a Wednesday morning
OFFICE = "ttpvhcc-long-xuyen"
Q1 = CounterInfo(id="lx-q1", office_id=OFFICE, number=1, fields=frozenset({"ho_tich", "chung_thuc"}))
Q2 = CounterInfo(id="lx-q2", office_id=OFFICE, number=2, fields=frozenset({"cu_tru"}))
Q3 = CounterInfo(id="lx-q3", office_id=OFFICE, number=3, fields=frozenset({"ho_tich"}))
RULES = QueueRules()
_seq = itertools.count(1)


def ticket(
    minute: float,
    *,
    field: str = "ho_tich",
    priority: Priority = Priority.NONE,
    appointment_at: datetime | None = None,
) -> Ticket:
    at = T0 + timedelta(minutes=minute)
    seq = next(_seq)
    return Ticket(
        id=f"t{seq}",
        office_id=OFFICE,
        unit_code="30307",
        unit_path=["30307", "91"],
        day=m.local_day(at),
        prefix="A",
        seq=seq,
        number=m.format_number("A", seq),
        field_code=field,
        priority=priority,
        appointment_at=appointment_at,
        issued_at=at,
        issued_hour=m.local_hour(at),
        queued_at=at,
    )


def numbers(tickets: list[Ticket]) -> list[str]:
    return [t.id for t in tickets]


def test_first_come_first_served_within_the_fields_of_the_counter() -> None:
    a, b, c = ticket(0), ticket(1, field="cu_tru"), ticket(2, field="chung_thuc")
    assert numbers(m.waiting_for(Q1, [c, b, a], RULES)) == [a.id, c.id]
    assert numbers(m.waiting_for(Q2, [c, b, a], RULES)) == [b.id]
    assert m.pick_next(Q2, [a, c], RULES) is None


def test_tickets_issued_at_the_same_moment_are_called_in_number_order() -> None:
    a, b = ticket(0), ticket(0)
    assert numbers(m.waiting_for(Q1, [b, a], RULES)) == [a.id, b.id]


def test_priority_citizens_are_served_first_then_in_arrival_order() -> None:
    a = ticket(0)
    elderly = ticket(5, priority=Priority.ELDERLY)
    b = ticket(6)
    pregnant = ticket(7, priority=Priority.PREGNANT)
    assert numbers(m.waiting_for(Q1, [a, elderly, b, pregnant], RULES)) == [elderly.id, pregnant.id, a.id, b.id]
    assert m.lane_of(elderly, RULES) is Lane.PRIORITY and m.lane_of(a, RULES) is Lane.REGULAR


def test_an_appointment_checked_in_goes_to_the_head_of_its_queue_by_booked_time() -> None:
    a = ticket(0, priority=Priority.DISABILITY)
    late_booking = ticket(1, appointment_at=T0 + timedelta(minutes=40))
    early_booking = ticket(2, appointment_at=T0 + timedelta(minutes=30))
    other_field = ticket(3, field="cu_tru", appointment_at=T0)
    order = m.waiting_for(Q1, [a, late_booking, early_booking, other_field], RULES)
    assert numbers(order) == [early_booking.id, late_booking.id, a.id]
    # the ranking of lanes is configurable: here priority citizens come before appointments
    rules = QueueRules(order=(Lane.PRIORITY, Lane.APPOINTMENT, Lane.TRANSFER, Lane.REGULAR))
    assert numbers(m.waiting_for(Q1, [a, late_booking, early_booking], rules))[0] == a.id


def test_lane_order_must_name_every_lane_once() -> None:
    with pytest.raises(ValueError, match="each lane exactly once"):
        QueueRules(order=(Lane.PRIORITY, Lane.PRIORITY, Lane.TRANSFER, Lane.REGULAR))


def test_appointment_window_and_day() -> None:
    booked = T0 + timedelta(hours=2)
    assert m.appointment_on_time(booked, booked - timedelta(minutes=60), RULES)
    assert not m.appointment_on_time(booked, booked - timedelta(minutes=61), RULES)
    assert m.appointment_on_time(booked, booked + timedelta(minutes=15), RULES)
    assert not m.appointment_on_time(booked, booked + timedelta(minutes=16), RULES)
    with pytest.raises(QueueError) as err:
        m.check_appointment_day(booked + timedelta(days=1), booked)
    assert err.value.code == "appointment_not_today"


def test_a_transferred_ticket_is_called_only_by_its_target_counter_ahead_of_regular_tickets() -> None:
    waiting_at_q3 = ticket(0)
    moved = ticket(1)
    m.call(moved, Q1, T0 + timedelta(minutes=10))
    m.start_serving(moved, T0 + timedelta(minutes=11))
    m.transfer(moved, Q3, T0 + timedelta(minutes=20))
    assert moved.status is TicketStatus.WAITING and moved.target_counter_id == "lx-q3" and moved.transferred
    assert moved.segments[-1].outcome == "transferred" and moved.segments[-1].service_s == 540
    # Q1 serves ho_tich too, but the ticket was sent to Q3
    assert numbers(m.waiting_for(Q1, [waiting_at_q3, moved], RULES)) == [waiting_at_q3.id]
    assert numbers(m.waiting_for(Q3, [waiting_at_q3, moved], RULES)) == [moved.id, waiting_at_q3.id]
    elderly = ticket(25, priority=Priority.ELDERLY)
    assert numbers(m.waiting_for(Q3, [waiting_at_q3, moved, elderly], RULES)) == [
        elderly.id,
        moved.id,
        waiting_at_q3.id,
    ]
    # and it is served there, its waiting time at Q3 counted from the transfer
    m.call(moved, Q3, T0 + timedelta(minutes=26))
    assert moved.segments[-1].wait_s == 360 and moved.wait_s == 540  # first wait: issue → first call


def test_transfer_rules() -> None:
    t = ticket(0)
    with pytest.raises(InvalidState):
        m.transfer(t, Q3, T0)  # not at a counter
    m.call(t, Q1, T0)
    with pytest.raises(QueueError, match="already at counter"):
        m.transfer(t, Q1, T0)
    elsewhere = CounterInfo(id="x-q1", office_id="other", number=1, fields=frozenset({"ho_tich"}))
    with pytest.raises(QueueError) as err:
        m.transfer(t, elsewhere, T0)
    assert err.value.code == "counter_of_another_office"


def test_recalls_are_limited_and_skipping_after_one_plus_n_calls_is_a_no_show() -> None:
    rules = QueueRules(recalls_before_no_show=2)
    t = ticket(0)
    m.call(t, Q1, T0 + timedelta(minutes=1))
    m.recall(t, T0 + timedelta(minutes=2), rules)
    m.recall(t, T0 + timedelta(minutes=3), rules)
    assert t.calls == 3 and t.total_calls == 3
    with pytest.raises(QueueError) as err:
        m.recall(t, T0 + timedelta(minutes=4), rules)
    assert err.value.code == "recall_limit_reached"
    assert m.skip(t, T0 + timedelta(minutes=4), rules) is True
    assert t.status is TicketStatus.NO_SHOW and t.finished_at is not None
    assert t.segments[-1].outcome == "no_show"


def test_skipping_early_sends_the_ticket_back_behind_its_lane_until_it_is_a_no_show() -> None:
    rules = QueueRules(recalls_before_no_show=1)
    t, other = ticket(0), ticket(1)
    m.call(t, Q1, T0 + timedelta(minutes=2))
    assert m.skip(t, T0 + timedelta(minutes=3), rules) is False
    assert t.status is TicketStatus.WAITING and t.counter_id is None and t.skips == 1
    assert numbers(m.waiting_for(Q1, [t, other], rules)) == [other.id, t.id]  # requeued behind
    m.call(t, Q1, T0 + timedelta(minutes=5))  # second unanswered call
    assert m.skip(t, T0 + timedelta(minutes=6), rules) is True
    assert t.status is TicketStatus.NO_SHOW
    # an officer can also give up at once
    u = ticket(2)
    m.call(u, Q1, T0 + timedelta(minutes=7))
    assert m.skip(u, T0 + timedelta(minutes=8), rules, no_show=True) is True


def test_serving_answers_the_call_and_finishing_records_the_times() -> None:
    t = ticket(0)
    m.call(t, Q1, T0 + timedelta(minutes=12))
    m.recall(t, T0 + timedelta(minutes=13), RULES)
    m.start_serving(t, T0 + timedelta(minutes=14))
    assert t.calls == 0 and t.status is TicketStatus.SERVING
    with pytest.raises(InvalidState):
        m.recall(t, T0 + timedelta(minutes=15), RULES)
    m.finish(t, T0 + timedelta(minutes=24))
    assert t.status is TicketStatus.DONE and t.wait_s == 720 and t.service_s == 600
    seg = t.segments[-1]
    assert (seg.queued_hour, seg.service_hour, seg.outcome) == (8, 8, "done")
    with pytest.raises(InvalidState):
        m.call(t, Q1, T0 + timedelta(minutes=30))


def test_a_counter_cannot_call_a_ticket_of_a_field_it_does_not_serve() -> None:
    t = ticket(0, field="cu_tru")
    with pytest.raises(QueueError) as err:
        m.call(t, Q1, T0)
    assert err.value.code == "counter_cannot_serve"


def test_several_dossiers_per_ticket_each_linked_once() -> None:
    t = ticket(0)
    with pytest.raises(InvalidState):
        m.link_dossier(t, LinkedDossier(dossier_id="d1", linked_at=T0))  # still waiting
    m.call(t, Q1, T0)
    assert m.link_dossier(t, LinkedDossier(dossier_id="d1", procedure_code="1.001193", linked_at=T0))
    assert m.link_dossier(t, LinkedDossier(dossier_id="d2", procedure_code="2.000815", linked_at=T0))
    assert not m.link_dossier(t, LinkedDossier(dossier_id="d1", procedure_code="1.001193", linked_at=T0))
    assert t.services == ["1.001193", "2.000815"]


def test_people_ahead_counts_only_the_same_queue() -> None:
    a, b = ticket(0), ticket(1)
    c = ticket(2, field="cu_tru")
    elderly = ticket(3, priority=Priority.ELDERLY)
    d = ticket(4)
    everyone = [a, b, c, elderly, d]
    assert m.waiting_ahead(d, everyone, RULES) == 3
    assert m.waiting_ahead(elderly, everyone, RULES) == 0
    assert m.waiting_ahead(c, everyone, RULES) == 0


def test_numbers_and_prefixes() -> None:
    assert m.format_number("A", 12) == "A012"
    assert m.format_number("B", 1000) == "B1000"
    prefixes = m.assign_prefixes(["ho_tich", "chung_thuc", "cu_tru"], {"cu_tru": "a"})
    assert prefixes == {"ho_tich": "B", "chung_thuc": "C", "cu_tru": "A"}
    many = m.assign_prefixes([f"f{i}" for i in range(30)])
    assert len(set(many.values())) == 30 and many["f26"] == "AA"
    # the day and hour of a ticket are local (Asia/Ho_Chi_Minh), whatever the offset given
    late_utc = datetime(2026, 1, 13, 17, 30, tzinfo=m.ZoneInfo("UTC"))
    assert m.local_day(late_utc) == "2026-01-14" and m.local_hour(late_utc) == 0


def test_token_bucket() -> None:
    bucket = TokenBucket.per_minute(60, 2)  # the kiosk's limiter (kit.ratelimit)
    assert bucket.take("kiosk", 0.0) is None and bucket.take("kiosk", 0.0) is None
    wait = bucket.take("kiosk", 0.0)
    assert wait == pytest.approx(1.0)
    assert bucket.take("other", 0.0) is None
    assert bucket.take("kiosk", 1.0) is None


def test_pager_label_is_the_ticket_or_the_dossier_sequence() -> None:
    assert m.pager_label("A012", "000.01.30.H01-260114-0042", "07") == "A012"
    assert m.pager_label(None, "000.01.30.H01-260114-0042", "07") == "0042"
    assert m.pager_label(None, None, "07") == "07"


def test_statistics_periods() -> None:
    assert m.days_between("2026-01-30", "2026-02-02") == ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
    assert m.days_between("2026-01-14", "2026-01-14") == ["2026-01-14"]
    for start, end, code in (
        ("2026-01-15", "2026-01-14", "invalid_range"),
        ("2025-01-01", "2026-12-31", "range_too_long"),
    ):
        with pytest.raises(QueueError) as err:
            m.days_between(start, end)
        assert err.value.code == code
