"""Deadlines of the lifecycle: the statutory due moment (pauses, restarts), inter-agency step
deadlines, lateness, the apology and supplement windows. Pure."""

from __future__ import annotations

from datetime import date, datetime

from services.intake.model.calendar import Timeliness, WorkingCalendar
from services.intake.model.catalogue import InterAgencyRoute, RouteMode
from services.intake.model.dossier import Dossier, InterAgencyStep, StepStatus
from services.intake.model.lifecycle.machine import OPEN, PAUSED, SUPPLEMENT_WINDOW_WORKING_DAYS, Ctx


def recompute_due(d: Dossier, calendar: WorkingCalendar) -> None:
    """Statutory due moment from `clock_start`, the processing time and the ended pauses."""
    basis = d.processing_time or {}
    start = d.clock_start or d.received_at
    if start is None or "value" not in basis:
        return
    value = float(str(basis["value"]))
    if basis.get("unit") == "working_hours":
        due = calendar.due_with_pauses(start, hours=value, pauses=[p for p in d.pauses if p.end is not None])
    else:
        due = calendar.due_with_pauses(start, days=int(value), pauses=[p for p in d.pauses if p.end is not None])
    d.statutory_due_at = due
    d.due_at = max(due, d.apology.new_due_at) if d.apology is not None else due


def _finish(d: Dossier, ctx: Ctx) -> None:
    d.finished_at = ctx.now
    due = d.statutory_due_at or d.due_at
    if due is not None:
        d.timeliness = ctx.calendar.classify(due, ctx.now, ctx.now).value


def step_deadline(calendar: WorkingCalendar, start: datetime, days: float) -> datetime:
    """Due moment of an inter-agency step (whole days end at closing time; fractions in hours)."""
    if float(days).is_integer():
        return calendar.add_working_days(start, int(days))
    return calendar.add_working_time(start, calendar.working_day_length * days)


def plan_steps(route: InterAgencyRoute, start: datetime, calendar: WorkingCalendar) -> list[InterAgencyStep]:
    """Parallel: every body starts at once (with a lead body). Sequential: one after another."""
    steps = []
    for i, rs in enumerate(route.steps):
        step = InterAgencyStep(
            index=i,
            body=rs.body,
            task=rs.task,
            deadline_working_days=float(rs.deadline_working_days),
            lead=route.lead_body == rs.body,
        )
        if route.mode is RouteMode.PARALLEL or i == 0:
            step.status = StepStatus.ACTIVE
            step.started_at = start
            step.due_at = step_deadline(calendar, start, step.deadline_working_days)
        steps.append(step)
    return steps


def late_steps(d: Dossier, now: datetime) -> list[InterAgencyStep]:
    """Active steps past their own deadline."""
    return [s for s in d.steps if s.status is StepStatus.ACTIVE and s.due_at is not None and s.due_at < now]


def is_late(d: Dossier, now: datetime) -> bool:
    """Unfinished and past the statutory due moment (a paused clock counts up to the pause)."""
    due = d.statutory_due_at or d.due_at
    if due is None or d.status not in OPEN:
        return False
    if d.status in PAUSED:
        running = [p.start for p in d.pauses if p.end is None]
        return bool(running) and min(running) > due
    return now > due


def supplement_window_end(d: Dossier, calendar: WorkingCalendar) -> datetime | None:
    """The body may send the dossier back for a supplement until this moment."""
    since = (d.handling.since if d.handling is not None else None) or d.received_at
    if since is None:
        return None
    return calendar.add_working_days(since, SUPPLEMENT_WINDOW_WORKING_DAYS)


def latest_apology_moment(d: Dossier, calendar: WorkingCalendar) -> datetime | None:
    """No later than one working day before the due moment (DOMAIN §3)."""
    return calendar.one_working_day_before(d.due_at) if d.due_at is not None else None


def timeliness_today(d: Dossier, calendar: WorkingCalendar, today: date) -> Timeliness:
    """Early / on time / late now (finished dossiers by their finish time)."""
    due = d.statutory_due_at or d.due_at
    if due is None:
        return Timeliness.PENDING
    return calendar.classify(due, d.finished_at, today)
