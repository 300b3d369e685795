"""The working calendar (lịch làm việc): working days, office hours and legal deadlines.

Pure domain module: no I/O, no clock. Every "now" comes in as an argument, and every
datetime must be timezone-aware (a naive one is rejected, because MongoDB hands back naive
UTC datetimes and reading them as local time would shift deadlines by 7 hours).

Sources of truth, in order of precedence for a given date:

1. the province's overrides (``CalendarOverrides``): extra days off, then extra working days;
2. the public holidays of ``holidays.country_holidays("VN")`` (Tết, Hùng Kings, 30/4, 1/5,
   2/9 + adjacent day, Culture Day 24/11 from 2026, days in lieu) and the package's own
   swapped working Saturdays (``weekend_workdays``);
3. Saturday and Sunday are days off, other days are working days.

Working time is the union of the office sessions (ca làm việc) on working days; a session
is half-open ``[start, end)``, so 17:00 itself is not working time, but a deadline may fall
*exactly* at the end of a session ("by 17:00").
"""

import datetime as _dt
import enum
import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_SESSIONS: tuple[tuple[time, time], ...] = (
    (time(7, 0), time(11, 30)),
    (time(13, 30), time(17, 0)),
)
DEFAULT_TRANSFER_CUTOFF = time(15, 0)
DEFAULT_MIN_YEAR = 2015
DEFAULT_MAX_YEAR = 2040

_WEEKEND = frozenset({5, 6})  # Saturday, Sunday
_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)


class CalendarRangeError(ValueError):
    """A date outside the years the calendar supports (holiday data is not trusted there)."""


class Timeliness(enum.StrEnum):
    """Trạng thái đúng hạn: early / on time / late, or still pending."""

    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # trễ hạn
    PENDING = "pending"  # chưa đến hạn, chưa xong


class DayOverride(BaseModel):
    """One date changed by a provincial or governmental decision, with the reason shown to officers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: _dt.date
    reason: str = Field(min_length=1)


class CalendarOverrides(BaseModel):
    """Per-province calendar changes, kept as data (one document per province).

    ``extra_days_off``: days off that the national holiday set does not know (ngày nghỉ bù,
    ngày nghỉ do hoán đổi). ``extra_working_days``: days that become working days, typically
    a swapped Saturday (ngày làm bù). ``sample`` marks illustrative data that must be replaced
    by the real decisions before production.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    province_code: str = Field(min_length=1, max_length=8)
    note: str = ""
    sample: bool = False
    extra_days_off: list[DayOverride] = Field(default_factory=list)
    extra_working_days: list[DayOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_contradiction(self) -> "CalendarOverrides":
        both = {o.date for o in self.extra_days_off} & {o.date for o in self.extra_working_days}
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates both off and working: {listed}")
        return self


class OfficeHours(BaseModel):
    """Giờ làm việc of one office: sessions (ca) in local wall time, its time zone, and the
    daily cut-off after which a received dossier is transferred the next working day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sessions: list[tuple[time, time]] = Field(default_factory=lambda: list(DEFAULT_SESSIONS))
    timezone: str = DEFAULT_TIMEZONE
    transfer_cutoff: time = DEFAULT_TRANSFER_CUTOFF

    @field_validator("sessions")
    @classmethod
    def _sessions_ordered(cls, sessions: list[tuple[time, time]]) -> list[tuple[time, time]]:
        if not sessions:
            raise ValueError("at least one office session is required")
        previous_end: time | None = None
        for start, end in sessions:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("session times are local wall times; give no time zone")
            if start >= end:
                raise ValueError(f"session {start}–{end} must start before it ends")
            if previous_end is not None and start < previous_end:
                raise ValueError("sessions must be in order and must not overlap")
            previous_end = end
        return sessions

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, key: str) -> str:
        try:
            ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {key!r}") from exc
        return key

    @field_validator("transfer_cutoff")
    @classmethod
    def _naive_cutoff(cls, cutoff: time) -> time:
        if cutoff.tzinfo is not None:
            raise ValueError("the transfer cut-off is a local wall time; give no time zone")
        return cutoff


class Pause(BaseModel):
    """A period when the clock is stopped (tạm dừng), e.g. waiting for a supplement (bổ sung).

    ``end`` is None while the pause is still running.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: AwareDatetime
    end: AwareDatetime | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _end_after_start(self) -> "Pause":
        if self.end is not None and self.end < self.start:
            raise ValueError("a pause cannot end before it starts")
        return self


def _time_offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


class WorkingCalendar:
    """Working days and working time of one office, in one province.

    All returned datetimes are aware, in the office's time zone. Arithmetic is done in local
    wall time, which is exact for Vietnam (no daylight saving time).
    """

    def __init__(
        self,
        overrides: CalendarOverrides | None = None,
        office_hours: OfficeHours | None = None,
        *,
        min_year: int = DEFAULT_MIN_YEAR,
        max_year: int = DEFAULT_MAX_YEAR,
    ) -> None:
        if min_year > max_year:
            raise ValueError(f"min_year {min_year} is after max_year {max_year}")
        self._overrides = overrides
        self._office_hours = office_hours or OfficeHours()
        self._min_year = min_year
        self._max_year = max_year
        self._tz = ZoneInfo(self._office_hours.timezone)
        self._sessions: tuple[tuple[timedelta, timedelta], ...] = tuple(
            (_time_offset(s), _time_offset(e)) for s, e in self._office_hours.sessions
        )
        self._opening = self._sessions[0][0]
        self._closing = self._sessions[-1][1]
        self._day_length = sum((e - s for s, e in self._sessions), _ZERO)
        self._cutoff = _time_offset(self._office_hours.transfer_cutoff)
        self._extra_off: dict[date, str] = {}
        self._extra_work: dict[date, str] = {}
        if overrides is not None:
            self._extra_off = {o.date: o.reason for o in overrides.extra_days_off}
            self._extra_work = {o.date: o.reason for o in overrides.extra_working_days}
        # Holiday sets are built lazily, once per year: `holidays` is slow to construct.
        self._public_off: dict[date, str] = {}
        self._public_work: set[date] = set()
        self._loaded_years: set[int] = set()
        self._ready_years: set[int] = set()

    # ----------------------------------------------------------------- configuration

    @property
    def overrides(self) -> CalendarOverrides | None:
        return self._overrides

    @property
    def office_hours(self) -> OfficeHours:
        return self._office_hours

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    @property
    def year_range(self) -> tuple[int, int]:
        return self._min_year, self._max_year

    @property
    def working_day_length(self) -> timedelta:
        """Working time in one full working day (8 hours with the default sessions)."""
        return self._day_length

    # ----------------------------------------------------------------- days

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is a working day (ngày làm việc). A datetime is read in local time."""
        day = self._as_local_date(day)
        self._ensure_year(day.year)
        if day in self._extra_off:
            return False
        if day in self._extra_work:
            return True
        if day in self._public_off:
            return False
        if day in self._public_work:
            return True
        return day.weekday() not in _WEEKEND

    def day_off_reason(self, day: date) -> str | None:
        """Why ``day`` is not a working day (holiday name, override reason, weekend), or None."""
        day = self._as_local_date(day)
        if self.is_working_day(day):
            return None
        if day in self._extra_off:
            return self._extra_off[day]
        if day in self._public_off:
            return self._public_off[day]
        return "weekend"

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day = self._as_local_date(day) + _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        day = self._as_local_date(day) - _ONE_DAY
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def one_working_day_before(self, moment: datetime) -> datetime:
        """The same wall-clock time on the previous working day (e.g. the latest moment for an
        apology, and the reminder sent to officers, one working day before a due moment)."""
        local = self._local(moment)
        return self._at(self.previous_working_day(local.date()), self._offset(local))

    # ----------------------------------------------------------------- moments

    def is_working_time(self, moment: datetime, *, include_session_end: bool = False) -> bool:
        """True if ``moment`` falls inside an office session of a working day.

        Sessions are half-open; ``include_session_end=True`` also accepts the exact end of a
        session, which is where deadlines land.
        """
        local = self._local(moment)
        if not self.is_working_day(local.date()):
            return False
        offset = self._offset(local)
        return any(s <= offset < e or (include_session_end and offset == e) for s, e in self._sessions)

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the next opening.

        After closing → next working day's opening; in the lunch gap → the afternoon opening.
        """
        local = self._local(moment)
        day = local.date()
        if self.is_working_day(day):
            offset = self._offset(local)
            for start, end in self._sessions:
                if offset < end:
                    return local if offset >= start else self._at(day, start)
        return self._at(self.next_working_day(day), self._opening)

    def end_of_day(self, day: date) -> datetime:
        """Closing time (end of the last session) of ``day``, e.g. 17:00."""
        return self._at(self._as_local_date(day), self._closing)

    # ----------------------------------------------------------------- adding time

    def add_working_days(self, received_at: datetime, n: int) -> datetime:
        """Due moment (hạn trả kết quả) of a period of ``n`` working days.

        Convention: the period starts the day after reception (law), weekends and holidays do
        not count, and the due moment is the closing time (17:00) of the n-th working day
        after the reception day. A dossier received outside working time (after closing, on a
        weekend or holiday) counts as received at the next opening, so its reception day is
        that next working day: Friday 16:59 + 1 day → Monday 17:00, Friday 17:00 + 1 day →
        Tuesday 17:00. ``n = 0`` gives the closing time of the reception day.
        """
        if n < 0:
            raise ValueError(f"a period cannot be negative: {n} working days")
        day = self.next_working_moment(received_at).date()
        for _ in range(n):
            day = self.next_working_day(day)
        return self._at(day, self._closing)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Due moment of a period of ``hours`` working hours (may be fractional).

        Only working time counts; outside it, counting starts at the next opening. A result
        that reaches the end of a session stays there (11:30, 17:00) instead of jumping to the
        next opening. E.g. No-appointment day (Ngày không hẹn): 2 working hours.
        """
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"a period must be a finite, non-negative number of hours: {hours}")
        return self.add_working_time(start, timedelta(hours=hours))

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """Like ``add_working_hours`` with a timedelta of working time."""
        if duration < _ZERO:
            raise ValueError(f"a period cannot be negative: {duration}")
        current = self.next_working_moment(start)
        day = current.date()
        offset = self._offset(current)
        remaining = duration
        for s, e in self._sessions:
            if e <= offset:
                continue
            begin = max(s, offset)
            if remaining <= e - begin:
                return self._at(day, begin + remaining)
            remaining -= e - begin
        # Whole working days go in one step each, so long periods cost one step per day.
        while True:
            day = self.next_working_day(day)
            if remaining > self._day_length:
                remaining -= self._day_length
                continue
            for s, e in self._sessions:
                if remaining <= e - s:
                    return self._at(day, s + remaining)
                remaining -= e - s

    # ----------------------------------------------------------------- measuring

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative if ``b`` is before ``a``)."""
        start, end = self._local(a), self._local(b)
        if end < start:
            return -self.working_time_between(b, a)
        first, last = start.date(), end.date()
        total = _ZERO
        day = first
        while day <= last:
            if self.is_working_day(day):
                low = self._offset(start) if day == first else _ZERO
                high = self._offset(end) if day == last else _ONE_DAY
                if low == _ZERO and high == _ONE_DAY:
                    total += self._day_length
                else:
                    for s, e in self._sessions:
                        overlap = min(e, high) - max(s, low)
                        if overlap > _ZERO:
                            total += overlap
            day += _ONE_DAY
        return total

    # ----------------------------------------------------------------- deadlines

    def due_with_pauses(
        self,
        received_at: datetime,
        *,
        days: int | None = None,
        hours: float | None = None,
        pauses: Sequence[Pause] = (),
        now: datetime | None = None,
    ) -> datetime:
        """Due moment of a period (``days`` xor ``hours``) whose clock stops during pauses.

        The due moment without pauses is pushed later by the working time spent inside the
        pauses (overlapping pauses count once; time before reception is ignored). A pause
        that starts at or after the (pushed) due moment changes nothing. A running pause
        (``end`` None) is taken to end at ``now``, which is then required: the result is the
        due moment if the pause ended now.
        """
        effective_start = self.next_working_moment(received_at)
        due = self._due(received_at, days, hours)
        for pause_start, pause_end in self._merged_pauses(pauses, effective_start, now):
            if pause_start >= due:
                break
            paused = self.working_time_between(pause_start, pause_end)
            # Adding zero would move a 17:00 due to the next opening, so it is skipped.
            if paused > _ZERO:
                due = self.add_working_time(due, paused)
        return due

    def due_after_restart(
        self, completed_at: datetime, *, days: int | None = None, hours: float | None = None
    ) -> datetime:
        """Due moment when the deadline restarts once the dossier is complete (hồ sơ đầy đủ):
        the full period (``days`` xor ``hours``) counted again from ``completed_at``."""
        return self._due(completed_at, days, hours)

    def transfer_deadline(self, received_at: datetime) -> datetime:
        """By when a received dossier must be transferred to the competent body (chuyển hồ sơ).

        Received on a working day before the cut-off (default 15:00) → closing time of that
        day; received at or after the cut-off, or on a day off → closing time of the next
        working day.
        """
        local = self._local(received_at)
        day = local.date()
        if self.is_working_day(day) and self._offset(local) < self._cutoff:
            return self._at(day, self._closing)
        return self._at(self.next_working_day(day), self._closing)

    def classify(self, due_at: datetime, finished_at: datetime | None, today: date) -> Timeliness:
        """Early / on time / late at day granularity, in the office's local dates.

        Finished before / on / after the due date → EARLY / ON_TIME / LATE. Unfinished → LATE
        once ``today`` is past the due date, else PENDING.
        """
        due_day = self._local(due_at).date()
        if finished_at is not None:
            finished_day = self._local(finished_at).date()
            if finished_day < due_day:
                return Timeliness.EARLY
            return Timeliness.ON_TIME if finished_day == due_day else Timeliness.LATE
        return Timeliness.LATE if self._as_local_date(today) > due_day else Timeliness.PENDING

    # ----------------------------------------------------------------- internals

    def _due(self, start: datetime, days: int | None, hours: float | None) -> datetime:
        if (days is None) == (hours is None):
            raise ValueError("give exactly one of days or hours")
        if days is not None:
            return self.add_working_days(start, days)
        assert hours is not None
        return self.add_working_hours(start, hours)

    def _merged_pauses(
        self, pauses: Sequence[Pause], not_before: datetime, now: datetime | None
    ) -> list[tuple[datetime, datetime]]:
        intervals: list[tuple[datetime, datetime]] = []
        for pause in pauses:
            if pause.end is not None:
                end = self._local(pause.end)
            elif now is not None:
                end = self._local(now)
            else:
                raise ValueError(f"pause {pause.reason!r} is still running: pass now=")
            start = max(self._local(pause.start), not_before)
            if end > start:
                intervals.append((start, end))
        intervals.sort()
        merged: list[tuple[datetime, datetime]] = []
        for start, end in intervals:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def _ensure_year(self, year: int) -> None:
        if year in self._ready_years:
            return
        if not self._min_year <= year <= self._max_year:
            raise CalendarRangeError(
                f"year {year} is outside the supported calendar range {self._min_year}–{self._max_year}"
            )
        # Next year's set can hold days of this year (a 1/1 in lieu on 31/12, a swapped
        # Saturday in late December), so both are loaded.
        for y in (year, year + 1):
            if y not in self._loaded_years:
                public = holidays.country_holidays("VN", years=y)
                for day, name in public.items():
                    self._public_off.setdefault(day, name)
                self._public_work.update(getattr(public, "weekend_workdays", ()))
                self._loaded_years.add(y)
        self._ready_years.add(year)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware datetime")
        return moment.astimezone(self._tz)

    def _as_local_date(self, day: date) -> date:
        # datetime is a subclass of date: read it in the office's time zone, not as given.
        if isinstance(day, datetime):
            return self._local(day).date()
        return day

    def _at(self, day: date, offset: timedelta) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self._tz) + offset

    @staticmethod
    def _offset(local: datetime) -> timedelta:
        return timedelta(hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
