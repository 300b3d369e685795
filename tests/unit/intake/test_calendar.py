"""The working calendar: concrete legal examples and properties (hypothesis)."""

import time as _time
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake.model import calendar as calendar_module
from services.intake.model.calendar import (
    CalendarOverrides,
    CalendarRangeError,
    DayOverride,
    OfficeHours,
    Pause,
    Timeliness,
    WorkingCalendar,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SAMPLE_FILE = Path(__file__).resolve().parents[3] / "services/intake/data/calendar_overrides.json"
AN_GIANG = CalendarOverrides.model_validate_json(SAMPLE_FILE.read_text(encoding="utf-8"))

CAL = WorkingCalendar()
AG = WorkingCalendar(AN_GIANG)


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ)


# ------------------------------------------------------------------ strategies

moments = st.datetimes(
    min_value=datetime(2015, 1, 1),
    max_value=datetime(2039, 12, 31),
    timezones=st.sampled_from([TZ, UTC]),
)
day_counts = st.integers(min_value=0, max_value=60)
hour_counts = st.one_of(
    st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=24 * 60).map(lambda minutes: minutes / 60),
)
calendars = st.sampled_from([CAL, AG])
PROPS = settings(max_examples=300, deadline=None)


def lands_in_working_time(cal: WorkingCalendar, due: datetime) -> bool:
    return cal.is_working_time(due, include_session_end=True)


# ------------------------------------------------------------------ properties


@PROPS
@given(cal=calendars, start=moments, n=day_counts)
def test_working_days_due_is_closing_time_of_a_working_day(cal: WorkingCalendar, start: datetime, n: int) -> None:
    due = cal.add_working_days(start, n)
    assert due.tzinfo is not None
    assert cal.is_working_day(due.date())
    assert due.timetz().replace(tzinfo=None) == time(17, 0)
    assert lands_in_working_time(cal, due)
    assert due > start


@PROPS
@given(cal=calendars, start=moments, n=day_counts)
def test_working_days_monotonic_and_counts_exactly_n_days(cal: WorkingCalendar, start: datetime, n: int) -> None:
    due = cal.add_working_days(start, n)
    later = cal.add_working_days(start, n + 1)
    assert later > due
    assert cal.next_working_day(due.date()) == later.date()
    # Exactly n working days lie strictly after the reception day, up to the due day.
    reception_day = cal.next_working_moment(start).date()
    counted = 0
    day = reception_day + timedelta(days=1)
    while day <= due.date():
        counted += cal.is_working_day(day)
        day += timedelta(days=1)
    assert counted == n


@PROPS
@given(cal=calendars, start=moments, hours=hour_counts)
def test_working_hours_round_trip_and_land_in_working_time(cal: WorkingCalendar, start: datetime, hours: float) -> None:
    due = cal.add_working_hours(start, hours)
    period = timedelta(hours=hours)  # rounded to microseconds, as the calendar does
    effective_start = cal.next_working_moment(start)
    assert lands_in_working_time(cal, due)
    assert due >= effective_start
    assert cal.working_time_between(effective_start, due) == period
    assert cal.working_time_between(start, due) == period
    if period > timedelta(0):
        # Earliest such moment: one microsecond less is not enough.
        assert cal.working_time_between(effective_start, due - timedelta(microseconds=1)) < period
    else:
        assert due == effective_start


@PROPS
@given(cal=calendars, moment=moments)
def test_next_working_moment_is_working_time_with_nothing_skipped(cal: WorkingCalendar, moment: datetime) -> None:
    nxt = cal.next_working_moment(moment)
    assert nxt >= moment
    assert cal.is_working_time(nxt)
    assert cal.working_time_between(moment, nxt) == timedelta(0)
    if cal.is_working_time(moment):
        assert nxt == moment


@PROPS
@given(cal=calendars, a=moments, b=moments, c=moments)
def test_working_time_between_is_additive(cal: WorkingCalendar, a: datetime, b: datetime, c: datetime) -> None:
    # Keep spans short enough for 300 examples to stay fast.
    b = a + (b - a) % timedelta(days=40)
    c = b + (c - b) % timedelta(days=40)
    ab, bc, ac = (cal.working_time_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab >= timedelta(0)
    assert ab + bc == ac
    assert cal.working_time_between(b, a) == -ab


@PROPS
@given(
    cal=calendars,
    start=moments,
    n=st.integers(min_value=0, max_value=20),
    pause_specs=st.lists(
        st.tuples(
            st.timedeltas(min_value=timedelta(hours=-48), max_value=timedelta(days=30)),
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
        ),
        max_size=4,
    ),
)
def test_pauses_stop_the_clock(
    cal: WorkingCalendar, start: datetime, n: int, pause_specs: list[tuple[timedelta, timedelta]]
) -> None:
    pauses = [Pause(start=start + offset, end=start + offset + length) for offset, length in pause_specs]
    plain = cal.add_working_days(start, n)
    due = cal.due_with_pauses(start, days=n, pauses=pauses)
    assert due >= plain
    assert lands_in_working_time(cal, due)
    # Working time outside pauses, from the effective start to the due moment, is the period.
    effective_start = cal.next_working_moment(start)
    period = cal.working_time_between(effective_start, plain)
    paused = _union_working_time(cal, pauses, effective_start, due)
    assert cal.working_time_between(effective_start, due) - paused == period


def _union_working_time(cal: WorkingCalendar, pauses: list[Pause], low: datetime, high: datetime) -> timedelta:
    spans = sorted(
        (max(p.start, low), min(p.end, high))
        for p in pauses
        if p.end is not None and min(p.end, high) > max(p.start, low)
    )
    total, cursor = timedelta(0), low
    for s, e in spans:
        s = max(s, cursor)
        if e > s:
            total += cal.working_time_between(s, e)
            cursor = e
    return total


@PROPS
@given(cal=calendars, received=moments)
def test_transfer_deadline_is_closing_time_within_next_working_day(cal: WorkingCalendar, received: datetime) -> None:
    deadline = cal.transfer_deadline(received)
    local_day = received.astimezone(TZ).date()
    assert deadline > received
    assert cal.is_working_day(deadline.date())
    assert deadline.date() in (local_day, cal.next_working_day(local_day))
    assert deadline.timetz().replace(tzinfo=None) == time(17, 0)


# ------------------------------------------------------------------ holidays


def test_tet_2026_is_off_from_16_to_20_february() -> None:
    for day in range(16, 21):
        assert not CAL.is_working_day(date(2026, 2, day))
    assert CAL.is_working_day(date(2026, 2, 13))
    assert CAL.is_working_day(date(2026, 2, 23))
    assert "Lunar New Year" in (CAL.day_off_reason(date(2026, 2, 17)) or "")
    assert CAL.add_working_days(vn(2026, 2, 13, 10), 1) == vn(2026, 2, 23, 17)
    assert CAL.add_working_hours(vn(2026, 2, 13, 16), 2) == vn(2026, 2, 23, 8)


def test_30_april_and_1_may() -> None:
    assert not CAL.is_working_day(date(2026, 4, 30))
    assert not CAL.is_working_day(date(2026, 5, 1))
    assert CAL.add_working_days(vn(2026, 4, 29, 9), 1) == vn(2026, 5, 4, 17)
    assert CAL.add_working_days(vn(2026, 4, 29, 9), 2) == vn(2026, 5, 5, 17)


def test_national_day_with_adjacent_day_and_swapped_saturday_2026() -> None:
    for day in (date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 2)):
        assert not CAL.is_working_day(day)
    # The `holidays` package knows Saturday 22/8/2026 is worked in exchange for 31/8.
    assert CAL.is_working_day(date(2026, 8, 22))
    assert CAL.add_working_days(vn(2026, 8, 28, 10), 1) == vn(2026, 9, 3, 17)


def test_culture_day_2026() -> None:
    assert not CAL.is_working_day(date(2026, 11, 24))
    assert CAL.add_working_days(vn(2026, 11, 23, 9), 1) == vn(2026, 11, 25, 17)


def test_weekend_is_off() -> None:
    assert not CAL.is_working_day(date(2026, 3, 7))
    assert not CAL.is_working_day(date(2026, 3, 8))
    assert CAL.day_off_reason(date(2026, 3, 7)) == "weekend"
    assert CAL.day_off_reason(date(2026, 3, 9)) is None


def test_sample_overrides_file_is_an_giang_sample() -> None:
    assert AN_GIANG.province_code == "91"
    assert AN_GIANG.sample
    assert "SAMPLE" in AN_GIANG.note
    assert all(o.date.weekday() == 5 for o in AN_GIANG.extra_working_days)
    assert all(o.date.weekday() < 5 for o in AN_GIANG.extra_days_off)


def test_swapped_working_saturday_from_overrides_counts_as_working() -> None:
    saturday = date(2027, 1, 30)
    assert not CAL.is_working_day(saturday)
    assert AG.is_working_day(saturday)
    assert AG.is_working_time(vn(2027, 1, 30, 8))
    assert AG.add_working_days(vn(2027, 1, 29, 10), 1) == vn(2027, 1, 30, 17)
    assert CAL.add_working_days(vn(2027, 1, 29, 10), 1) == vn(2027, 2, 1, 17)
    # ... and the weekday given in exchange is off, with the reason from the data.
    assert CAL.is_working_day(date(2027, 2, 11))
    assert not AG.is_working_day(date(2027, 2, 11))
    assert "2027" in (AG.day_off_reason(date(2027, 2, 11)) or "")


# ------------------------------------------------------------------ office hours


def test_reception_at_16_59_friday_plus_two_working_hours() -> None:
    assert CAL.add_working_hours(vn(2026, 3, 6, 16, 59), 2) == vn(2026, 3, 9, 8, 59)


def test_reception_after_closing() -> None:
    friday_evening = vn(2026, 3, 6, 17, 30)
    assert CAL.next_working_moment(friday_evening) == vn(2026, 3, 9, 7)
    assert CAL.add_working_hours(friday_evening, 2) == vn(2026, 3, 9, 9)
    # Received after closing = received next working day, so one day runs to Tuesday.
    assert CAL.add_working_days(friday_evening, 1) == vn(2026, 3, 10, 17)
    assert CAL.add_working_days(vn(2026, 3, 6, 17), 1) == vn(2026, 3, 10, 17)
    assert CAL.add_working_days(vn(2026, 3, 6, 16, 59), 1) == vn(2026, 3, 9, 17)
    # Before opening on a working day: that same day.
    assert CAL.add_working_days(vn(2026, 3, 9, 6, 30), 1) == vn(2026, 3, 10, 17)


def test_lunch_gap_is_skipped() -> None:
    assert not CAL.is_working_time(vn(2026, 3, 9, 12, 15))
    assert CAL.next_working_moment(vn(2026, 3, 9, 12, 15)) == vn(2026, 3, 9, 13, 30)
    assert CAL.add_working_hours(vn(2026, 3, 9, 10, 30), 2) == vn(2026, 3, 9, 14, 30)
    assert CAL.add_working_hours(vn(2026, 3, 9, 12, 0), 1) == vn(2026, 3, 9, 14, 30)
    # Reaching the end of the morning session stays at 11:30.
    assert CAL.add_working_hours(vn(2026, 3, 9, 11, 0), 0.5) == vn(2026, 3, 9, 11, 30)
    assert CAL.working_time_between(vn(2026, 3, 9, 11, 0), vn(2026, 3, 9, 14, 0)) == timedelta(hours=1)


def test_session_boundaries() -> None:
    assert CAL.is_working_time(vn(2026, 3, 9, 7))
    assert not CAL.is_working_time(vn(2026, 3, 9, 11, 30))
    assert CAL.is_working_time(vn(2026, 3, 9, 11, 30), include_session_end=True)
    assert not CAL.is_working_time(vn(2026, 3, 9, 17))
    assert CAL.is_working_time(vn(2026, 3, 9, 17), include_session_end=True)
    assert not CAL.is_working_time(vn(2026, 3, 7, 9))
    assert CAL.working_day_length == timedelta(hours=8)


def test_utc_input_is_read_in_local_time() -> None:
    # 09:30 UTC = 16:30 in Vietnam.
    received = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)
    assert CAL.add_working_hours(received, 1) == vn(2026, 3, 9, 7, 30)
    assert CAL.add_working_hours(received, 1).tzinfo == TZ


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_hours(datetime(2026, 3, 9, 9), 1)


def test_negative_or_invalid_periods_are_rejected() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(vn(2026, 3, 9, 9), -1)
    with pytest.raises(ValueError):
        CAL.add_working_hours(vn(2026, 3, 9, 9), -0.5)
    with pytest.raises(ValueError):
        CAL.add_working_hours(vn(2026, 3, 9, 9), float("nan"))


def test_custom_office_hours() -> None:
    hours = OfficeHours.model_validate(
        {"sessions": [["07:30", "11:30"], ["13:00", "17:00"]], "transfer_cutoff": "16:00"}
    )
    cal = WorkingCalendar(office_hours=hours)
    assert cal.working_day_length == timedelta(hours=8)
    assert cal.next_working_moment(vn(2026, 3, 9, 7, 0)) == vn(2026, 3, 9, 7, 30)
    assert cal.add_working_hours(vn(2026, 3, 9, 11, 0), 1) == vn(2026, 3, 9, 13, 30)
    assert cal.transfer_deadline(vn(2026, 3, 9, 15, 30)) == vn(2026, 3, 9, 17)


@pytest.mark.parametrize(
    "sessions",
    [
        [],
        [["11:30", "07:00"]],
        [["07:00", "12:00"], ["11:00", "17:00"]],
        [["13:30", "17:00"], ["07:00", "11:30"]],
    ],
)
def test_invalid_office_sessions_are_rejected(sessions: list[list[str]]) -> None:
    with pytest.raises(ValidationError):
        OfficeHours.model_validate({"sessions": sessions})


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(ValidationError):
        OfficeHours(timezone="Asia/Nowhere")


def test_contradictory_overrides_are_rejected() -> None:
    with pytest.raises(ValidationError, match="both off and working"):
        CalendarOverrides(
            province_code="91",
            extra_days_off=[DayOverride(date=date(2026, 1, 10), reason="a")],
            extra_working_days=[DayOverride(date=date(2026, 1, 10), reason="b")],
        )


def test_day_off_override_beats_public_working_saturday() -> None:
    overrides = CalendarOverrides(
        province_code="91", extra_days_off=[DayOverride(date=date(2026, 8, 22), reason="provincial")]
    )
    assert not WorkingCalendar(overrides).is_working_day(date(2026, 8, 22))


# ------------------------------------------------------------------ pauses and restart


def test_pause_pushes_the_due_moment_by_the_paused_working_time() -> None:
    received = vn(2026, 3, 2, 8)  # Monday
    assert CAL.add_working_days(received, 5) == vn(2026, 3, 9, 17)
    supplement = Pause(start=vn(2026, 3, 3, 8), end=vn(2026, 3, 5, 8), reason="bổ sung giấy tờ")
    # Tuesday 08:00 → Thursday 08:00 = 2 × 8 working hours: two working days later.
    assert CAL.due_with_pauses(received, days=5, pauses=[supplement]) == vn(2026, 3, 11, 17)


def test_partial_day_pause_and_overlapping_pauses() -> None:
    received = vn(2026, 3, 2, 8)
    three_hours = Pause(start=vn(2026, 3, 3, 8), end=vn(2026, 3, 3, 11), reason="a")
    assert CAL.due_with_pauses(received, days=5, pauses=[three_hours]) == vn(2026, 3, 10, 10)
    overlapping = Pause(start=vn(2026, 3, 3, 9), end=vn(2026, 3, 3, 10), reason="b")
    assert CAL.due_with_pauses(received, days=5, pauses=[three_hours, overlapping]) == vn(2026, 3, 10, 10)


def test_pause_over_a_weekend_or_after_the_due_changes_nothing() -> None:
    received = vn(2026, 3, 2, 8)
    weekend = Pause(start=vn(2026, 3, 7, 0), end=vn(2026, 3, 9, 0), reason="weekend")
    after_due = Pause(start=vn(2026, 3, 10, 8), end=vn(2026, 3, 12, 8), reason="late")
    assert CAL.due_with_pauses(received, days=5, pauses=[weekend, after_due]) == vn(2026, 3, 9, 17)


def test_pause_in_working_hours_period() -> None:
    received = vn(2026, 3, 4, 8)  # No-appointment day, 2 working hours
    pause = Pause(start=vn(2026, 3, 4, 8, 30), end=vn(2026, 3, 4, 9), reason="chờ ký")
    assert CAL.due_with_pauses(received, hours=2, pauses=[pause]) == vn(2026, 3, 4, 10, 30)


def test_running_pause_needs_now() -> None:
    received = vn(2026, 3, 2, 8)
    running = Pause(start=vn(2026, 3, 3, 8), reason="bổ sung")
    with pytest.raises(ValueError, match="still running"):
        CAL.due_with_pauses(received, days=5, pauses=[running])
    due = CAL.due_with_pauses(received, days=5, pauses=[running], now=vn(2026, 3, 4, 8))
    assert due == vn(2026, 3, 10, 17)


def test_pause_validation() -> None:
    with pytest.raises(ValidationError):
        Pause(start=vn(2026, 3, 3, 8), end=vn(2026, 3, 2, 8))
    with pytest.raises(ValidationError):
        Pause(start=datetime(2026, 3, 3, 8))


def test_exactly_one_of_days_or_hours() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CAL.due_with_pauses(vn(2026, 3, 2, 8))
    with pytest.raises(ValueError, match="exactly one"):
        CAL.due_after_restart(vn(2026, 3, 2, 8), days=1, hours=2)


def test_due_after_restart_counts_the_full_period_from_completion() -> None:
    completed = vn(2026, 3, 12, 16)  # Thursday
    assert CAL.due_after_restart(completed, days=5) == vn(2026, 3, 19, 17)
    assert CAL.due_after_restart(completed, hours=2) == vn(2026, 3, 13, 8)


# ------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("finished", "today", "expected"),
    [
        (vn(2026, 3, 6, 10), date(2026, 3, 20), Timeliness.EARLY),
        (vn(2026, 3, 9, 8), date(2026, 3, 20), Timeliness.ON_TIME),
        (vn(2026, 3, 9, 20), date(2026, 3, 20), Timeliness.ON_TIME),
        (vn(2026, 3, 10, 7), date(2026, 3, 20), Timeliness.LATE),
        # 18:00 UTC on the 9th is 01:00 on the 10th in Vietnam.
        (datetime(2026, 3, 9, 18, tzinfo=UTC), date(2026, 3, 20), Timeliness.LATE),
        (None, date(2026, 3, 8), Timeliness.PENDING),
        (None, date(2026, 3, 9), Timeliness.PENDING),
        (None, date(2026, 3, 10), Timeliness.LATE),
    ],
)
def test_classify(finished: datetime | None, today: date, expected: Timeliness) -> None:
    assert CAL.classify(vn(2026, 3, 9, 17), finished, today) is expected


# ------------------------------------------------------------------ transfer cut-off


def test_transfer_cut_off_14_59_vs_15_01() -> None:
    assert CAL.transfer_deadline(vn(2026, 3, 3, 14, 59)) == vn(2026, 3, 3, 17)
    assert CAL.transfer_deadline(vn(2026, 3, 3, 15, 1)) == vn(2026, 3, 4, 17)
    assert CAL.transfer_deadline(vn(2026, 3, 3, 15, 0)) == vn(2026, 3, 4, 17)


def test_transfer_after_cut_off_friday_or_on_a_day_off() -> None:
    assert CAL.transfer_deadline(vn(2026, 3, 6, 15, 1)) == vn(2026, 3, 9, 17)
    assert CAL.transfer_deadline(vn(2026, 3, 7, 9)) == vn(2026, 3, 9, 17)
    assert CAL.transfer_deadline(vn(2026, 2, 13, 16)) == vn(2026, 2, 23, 17)


# ------------------------------------------------------------------ range and caching


def test_out_of_range_dates_raise() -> None:
    with pytest.raises(CalendarRangeError, match="2015–2040"):
        CAL.is_working_day(date(2014, 12, 31))
    with pytest.raises(CalendarRangeError):
        CAL.is_working_day(date(2041, 1, 1))
    with pytest.raises(CalendarRangeError):
        CAL.add_working_days(vn(2040, 12, 28, 9), 5)
    assert issubclass(CalendarRangeError, ValueError)


def test_custom_year_range() -> None:
    cal = WorkingCalendar(min_year=2025, max_year=2026)
    assert cal.year_range == (2025, 2026)
    with pytest.raises(CalendarRangeError):
        cal.is_working_day(date(2027, 1, 4))
    with pytest.raises(ValueError):
        WorkingCalendar(min_year=2030, max_year=2020)


def test_holiday_sets_are_built_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = calendar_module.holidays.country_holidays

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(calendar_module.holidays, "country_holidays", counting)
    cal = WorkingCalendar()
    for _ in range(3):
        cal.add_working_days(vn(2026, 1, 5, 9), 300)
    assert sorted(calls) == [2026, 2027, 2028]  # type: ignore[type-var]


def test_long_periods_are_fast() -> None:
    cal = WorkingCalendar()
    cal.add_working_days(vn(2026, 1, 5, 9), 30)  # warm the holiday cache
    started = _time.perf_counter()
    for _ in range(200):
        cal.add_working_days(vn(2026, 1, 5, 9), 30)
        cal.add_working_hours(vn(2026, 1, 5, 9), 30 * 8)
    assert _time.perf_counter() - started < 5
