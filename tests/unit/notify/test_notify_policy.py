"""Consent and quiet hours, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.notify.model.common import VN_TZ, Channel, Purpose
from services.notify.model.policy import Action, OptOut, Preferences, QuietHours, allowed_route, decide

QUIET = QuietHours()  # 21:00–07:00 Asia/Ho_Chi_Minh


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=VN_TZ)


def test_default_quiet_hours_span_midnight() -> None:
    assert not QUIET.is_quiet(vn(10, 20, 59))
    assert QUIET.is_quiet(vn(10, 21, 0)) and QUIET.is_quiet(vn(11, 3, 0)) and QUIET.is_quiet(vn(11, 6, 59))
    assert not QUIET.is_quiet(vn(11, 7, 0))


def test_a_notice_in_quiet_hours_is_deferred_to_seven_not_dropped() -> None:
    assert QUIET.resume_at(vn(10, 22, 30)) == vn(11, 7, 0)
    assert QUIET.resume_at(vn(11, 0, 5)) == vn(11, 7, 0)
    assert QUIET.resume_at(vn(11, 9, 0)) is None
    decision = decide(
        vn(10, 22, 30),
        channel=Channel.SMS,
        purpose=Purpose.DOSSIER,
        essential=False,
        preferences=None,
        quiet_hours=QUIET,
    )
    assert decision.action is Action.DEFER and decision.at == vn(11, 7, 0)


def test_a_daytime_window_and_a_disabled_one() -> None:
    lunch = QuietHours(start=time(11, 30), end=time(13, 30))
    assert lunch.is_quiet(vn(10, 12, 0)) and not lunch.is_quiet(vn(10, 13, 30))
    assert lunch.resume_at(vn(10, 12, 0)) == vn(10, 13, 30)
    assert not QuietHours(start=time(0), end=time(0)).is_quiet(vn(10, 3, 0))


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_resume_is_always_the_next_end_of_quiet_hours(now: datetime) -> None:
    resume = QUIET.resume_at(now)
    if resume is None:
        assert not QUIET.is_quiet(now)
    else:
        assert now < resume <= now + timedelta(hours=10)
        assert not QUIET.is_quiet(resume) and resume.astimezone(VN_TZ).time() == time(7, 0)


def test_essential_notices_ignore_opt_outs_and_quiet_hours() -> None:
    prefs = Preferences(contact="84987654321", opted_out=[OptOut(channel="*", purpose="*")])
    decision = decide(
        vn(10, 23, 0),
        channel=Channel.SMS,
        purpose=Purpose.DOSSIER,
        essential=True,
        preferences=prefs,
        quiet_hours=QUIET,
    )
    assert decision.action is Action.SEND and decision.at == vn(10, 23, 0)
    assert allowed_route([Channel.ZALO, Channel.SMS], purpose=Purpose.DOSSIER, essential=True, preferences=prefs) == [
        Channel.ZALO,
        Channel.SMS,
    ]


def test_opt_outs_are_per_channel_and_purpose() -> None:
    prefs = Preferences(
        contact="84987654321",
        opted_out=[OptOut(channel="zalo", purpose="*"), OptOut(channel="sms", purpose="shipment")],
    )
    assert allowed_route([Channel.ZALO, Channel.SMS], purpose=Purpose.DOSSIER, essential=False, preferences=prefs) == [
        Channel.SMS
    ]
    assert (
        allowed_route([Channel.ZALO, Channel.SMS], purpose=Purpose.SHIPMENT, essential=False, preferences=prefs) == []
    )
    suppressed = decide(
        vn(10, 10),
        channel=Channel.SMS,
        purpose=Purpose.SHIPMENT,
        essential=False,
        preferences=prefs,
        quiet_hours=QUIET,
    )
    assert suppressed.action is Action.SUPPRESS
    assert prefs.allows(Channel.SMS, Purpose.PAYMENT) and not prefs.allows(Channel.ZALO, Purpose.PAYMENT)


def test_an_applicants_own_quiet_hours_override_the_default() -> None:
    prefs = Preferences(contact="a@example.vn", quiet_hours=QuietHours(start=time(20), end=time(8)))
    decision = decide(
        vn(11, 7, 30),
        channel=Channel.EMAIL,
        purpose=Purpose.PAYMENT,
        essential=False,
        preferences=prefs,
        quiet_hours=QUIET,
    )
    assert decision.action is Action.DEFER and decision.at == vn(11, 8, 0)
