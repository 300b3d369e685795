"""The lifecycle actions: each checks the table and the rules, changes the dossier, writes one
line of the process control slip and says what happened (`Outcome`). Pure."""

from __future__ import annotations

from datetime import datetime

from services.intake.model.catalogue import InterAgencyRoute, RouteMode
from services.intake.model.dossier import (
    Apology,
    Dossier,
    DossierComponent,
    Handling,
    MissingRecord,
    ResultRecord,
    ReturnRecord,
    RoutingRecord,
    StepStatus,
    SupplementRequest,
)
from services.intake.model.lifecycle.clock import (
    _finish,
    is_late,
    late_steps,
    latest_apology_moment,
    plan_steps,
    recompute_due,
    step_deadline,
    supplement_window_end,
)
from services.intake.model.lifecycle.machine import (
    SUPPLEMENT_WINDOW_WORKING_DAYS,
    Action,
    AlreadyDone,
    Ctx,
    InvalidTransition,
    Outcome,
    RuleViolation,
    S,
    _check,
    _end_pause,
    _line,
    _note,
    _pause,
    _require,
)
from services.intake.model.routing import check_forward


def transfer(d: Dossier, ctx: Ctx, target: Handling) -> Outcome:
    """Received → transferred to the competent body (same working day; after 15:00 → next)."""
    to = _check(d, Action.TRANSFER)
    on_time = d.transfer_deadline is None or ctx.now <= d.transfer_deadline
    record = RoutingRecord(
        at=ctx.now,
        kind="transfer",
        from_unit=d.unit_code,
        to_unit=target.unit_code,
        to_body=target.body_name,
        actor=ctx.actor.subject,
        reason=ctx.note,
        on_time=on_time,
    )
    d.handling = target.model_copy(update={"since": ctx.now})
    d.routing.append(record)
    change = _line(d, ctx, Action.TRANSFER, to, _note(Action.TRANSFER, ctx, f"{target.body_name} ({target.unit_name})"))
    return Outcome(Action.TRANSFER, change, True, transferred=record)


def forward(d: Dossier, ctx: Ctx, target: Handling, reason: str) -> Outcome:
    """A misdirected dossier goes on to the right body, with the same time limits and its history."""
    to = _check(d, Action.FORWARD)
    reason = _require(reason, "reason_required", "The reason for forwarding")
    if d.handling is None:
        raise RuleViolation("not_routed", "The dossier has no competent body yet; transfer it first")
    check_forward(d.handling, target)
    if d.steps and any(s.status is StepStatus.DONE for s in d.steps):
        raise RuleViolation("steps_started", "Inter-agency steps are already done; the dossier cannot be forwarded")
    record = RoutingRecord(
        at=ctx.now,
        kind="forward",
        from_unit=d.handling.unit_code,
        to_unit=target.unit_code,
        to_body=target.body_name,
        actor=ctx.actor.subject,
        reason=reason,
        on_time=ctx.now <= ctx.calendar.transfer_deadline(d.handling.since or ctx.now),
    )
    d.handling = target.model_copy(update={"since": ctx.now})
    d.routing.append(record)
    d.steps = []
    d.route_mode = d.lead_body = None
    extra = f"{target.body_name} ({target.unit_name}); lý do: {reason}"
    change = _line(d, ctx, Action.FORWARD, to, _note(Action.FORWARD, ctx, extra))
    return Outcome(Action.FORWARD, change, True, transferred=record)


def start_processing(d: Dossier, ctx: Ctx, route: InterAgencyRoute | None) -> Outcome:
    """The competent body takes the dossier up; inter-agency steps start according to the route."""
    to = _check(d, Action.START_PROCESSING)
    if d.handling is not None and d.handling.since is None:
        d.handling = d.handling.model_copy(update={"since": ctx.now})
    if route is not None and not d.steps:
        d.route_mode = route.mode.value
        d.lead_body = route.lead_body
        d.steps = plan_steps(route, ctx.now, ctx.calendar)
    change = _line(d, ctx, Action.START_PROCESSING, to, _note(Action.START_PROCESSING, ctx))
    return Outcome(Action.START_PROCESSING, change, True)


def request_supplement(d: Dossier, ctx: Ctx, missing: list[MissingRecord]) -> Outcome:
    """Sent back for a supplement: everything missing listed at once; the clock stops."""
    to = _check(d, Action.REQUEST_SUPPLEMENT)
    if not missing:
        raise RuleViolation("nothing_missing", "A supplement request must list at least one missing or invalid item")
    if d.supplements:
        raise AlreadyDone(
            "supplement_already_requested",
            "A supplement was already requested: the missing items must be listed once and in full",
        )
    end = supplement_window_end(d, ctx.calendar)
    if end is not None and ctx.now > end:
        raise RuleViolation(
            "supplement_window_closed",
            f"A supplement may be requested within {SUPPLEMENT_WINDOW_WORKING_DAYS} working days of reception "
            f"by the body (until {end.isoformat()})",
        )
    request = SupplementRequest(requested_at=ctx.now, requested_by=ctx.actor, missing=missing)
    d.supplements.append(request)
    d.missing = list(missing)
    d.resume_status = S.PROCESSING
    _pause(d, ctx.now, "supplement")
    names = "; ".join(m.name for m in missing)
    change = _line(d, ctx, Action.REQUEST_SUPPLEMENT, to, _note(Action.REQUEST_SUPPLEMENT, ctx, names))
    return Outcome(Action.REQUEST_SUPPLEMENT, change, True, supplement=request)


def complete_supplement(d: Dossier, ctx: Ctx) -> Outcome:
    """The dossier is complete again: the deadline restarts from now (DOMAIN §3)."""
    to = _check(d, Action.COMPLETE_SUPPLEMENT)
    _end_pause(d, ctx.now)
    if d.supplements:
        d.supplements[-1].completed_at = ctx.now
    d.missing = []
    d.clock_start = ctx.now
    d.resume_status = None
    recompute_due(d, ctx.calendar)
    # Steps still running restart with the dossier.
    for s in d.steps:
        if s.status is StepStatus.ACTIVE:
            s.started_at = ctx.now
            s.due_at = step_deadline(ctx.calendar, ctx.now, s.deadline_working_days)
    change = _line(d, ctx, Action.COMPLETE_SUPPLEMENT, to, _note(Action.COMPLETE_SUPPLEMENT, ctx))
    return Outcome(Action.COMPLETE_SUPPLEMENT, change, True)


def complete_step(d: Dossier, ctx: Ctx, index: int) -> Outcome:
    """One body finished its part; in a sequential route the next body starts now."""
    _check(d, Action.COMPLETE_STEP)
    step = next((s for s in d.steps if s.index == index), None)
    if step is None:
        raise RuleViolation("unknown_step", f"The dossier has no inter-agency step {index}")
    if step.status is not StepStatus.ACTIVE:
        raise InvalidTransition("invalid_transition", f"Step {index} ({step.body}) is {step.status.value}, not active")
    step.status = StepStatus.DONE
    step.completed_at = ctx.now
    step.completed_by = ctx.actor.subject
    step.note = ctx.note
    if d.route_mode == RouteMode.SEQUENTIAL.value:
        following = next((s for s in d.steps if s.status is StepStatus.WAITING), None)
        if following is not None:
            following.status = StepStatus.ACTIVE
            following.started_at = ctx.now
            following.due_at = step_deadline(ctx.calendar, ctx.now, following.deadline_working_days)
    late = " (trễ hạn bước)" if step.due_at is not None and ctx.now > step.due_at else ""
    extra = f"{step.body}{': ' + step.task if step.task else ''}{late}"
    change = _line(d, ctx, Action.COMPLETE_STEP, d.status, _note(Action.COMPLETE_STEP, ctx, extra))
    return Outcome(Action.COMPLETE_STEP, change, False)


def request_payment(d: Dossier, ctx: Ctx) -> Outcome:
    """Waiting for fees or financial obligations: the clock stops until paid."""
    previous = d.status
    to = _check(d, Action.REQUEST_PAYMENT)
    d.resume_status = S.PROCESSING if previous is S.PROCESSING else previous
    _pause(d, ctx.now, "payment")
    change = _line(d, ctx, Action.REQUEST_PAYMENT, to, _note(Action.REQUEST_PAYMENT, ctx))
    return Outcome(Action.REQUEST_PAYMENT, change, True)


def payment_received(d: Dossier, ctx: Ctx, *, proceed: bool = False) -> Outcome:
    """Paid: back to where the dossier was, or straight to processing (`proceed`: No-appointment)."""
    _check(d, Action.PAYMENT_RECEIVED)
    _end_pause(d, ctx.now)
    to = S.PROCESSING if proceed else (d.resume_status or S.PROCESSING)
    d.resume_status = None
    recompute_due(d, ctx.calendar)
    change = _line(d, ctx, Action.PAYMENT_RECEIVED, to, _note(Action.PAYMENT_RECEIVED, ctx))
    return Outcome(Action.PAYMENT_RECEIVED, change, True)


def proceed_when_paid(d: Dossier, ctx: Ctx) -> Outcome | None:
    """A No-appointment dossier proceeds as soon as it is paid (received → processing)."""
    if d.status is S.AWAITING_PAYMENT:
        return payment_received(d, ctx, proceed=d.no_appointment)
    if d.no_appointment and d.status is S.RECEIVED:
        to = _check(d, Action.START_PROCESSING)
        change = _line(d, ctx, Action.START_PROCESSING, to, _note(Action.PAYMENT_RECEIVED, ctx, "xử lý ngay"))
        return Outcome(Action.START_PROCESSING, change, True)
    return None


def suspend(d: Dossier, ctx: Ctx, reason: str) -> Outcome:
    previous = d.status
    to = _check(d, Action.SUSPEND)
    reason = _require(reason, "reason_required", "The reason for suspending")
    d.resume_status = previous
    d.status_reason = reason
    _pause(d, ctx.now, "suspension")
    change = _line(d, ctx, Action.SUSPEND, to, _note(Action.SUSPEND, ctx, reason))
    return Outcome(Action.SUSPEND, change, True)


def resume(d: Dossier, ctx: Ctx) -> Outcome:
    to = _check(d, Action.RESUME)
    _end_pause(d, ctx.now)
    d.resume_status = None
    d.status_reason = None
    recompute_due(d, ctx.calendar)
    change = _line(d, ctx, Action.RESUME, to, _note(Action.RESUME, ctx))
    return Outcome(Action.RESUME, change, True)


def resolve(d: Dossier, ctx: Ctx) -> Outcome:
    """Resolved after appraisal: every inter-agency step must be done."""
    to = _check(d, Action.RESOLVE)
    pending = [s.body for s in d.steps if s.status is not StepStatus.DONE]
    if pending:
        raise RuleViolation(
            "steps_pending", f"Inter-agency steps are not finished: {', '.join(pending)}", details=pending
        )
    _finish(d, ctx)
    change = _line(d, ctx, Action.RESOLVE, to, _note(Action.RESOLVE, ctx))
    return Outcome(Action.RESOLVE, change, True)


def refuse(d: Dossier, ctx: Ctx, reason: str) -> Outcome:
    """Refused after appraisal: a reason is required (refusal slip, form 03)."""
    to = _check(d, Action.REFUSE)
    reason = _require(reason, "refusal_reason_required", "A refusal reason")
    d.refusal_reason = reason
    _finish(d, ctx)
    change = _line(d, ctx, Action.REFUSE, to, _note(Action.REFUSE, ctx, reason))
    return Outcome(Action.REFUSE, change, True)


def apologise(d: Dossier, ctx: Ctx, reason: str, new_due_at: datetime) -> Outcome:
    """Apology and new appointment (form 04): once per dossier, ≥ 1 working day before due."""
    _check(d, Action.APOLOGISE)
    reason = _require(reason, "reason_required", "The reason for the delay")
    if d.apology is not None:
        raise AlreadyDone(
            "apology_already_recorded",
            f"A new date was already set on {d.apology.at.date().isoformat()}: it may be set only once",
        )
    if d.due_at is None:
        raise RuleViolation("no_due_date", "The dossier has no due date to move")
    latest = latest_apology_moment(d, ctx.calendar)
    assert latest is not None
    if ctx.now > latest:
        raise RuleViolation(
            "apology_too_late",
            f"An apology must be recorded no later than one working day before the due moment "
            f"(by {latest.isoformat()})",
        )
    if new_due_at <= d.due_at:
        raise RuleViolation("new_date_not_later", "The new appointment must be later than the current one")
    if not ctx.calendar.is_working_day(new_due_at):
        raise RuleViolation("new_date_not_working_day", f"{new_due_at.date().isoformat()} is not a working day")
    apology = Apology(at=ctx.now, actor=ctx.actor, reason=reason, previous_due_at=d.due_at, new_due_at=new_due_at)
    d.apology = apology
    d.due_at = new_due_at
    extra = f"hẹn lại {new_due_at.astimezone(ctx.calendar.timezone):%H:%M %d/%m/%Y}; lý do: {reason}"
    change = _line(d, ctx, Action.APOLOGISE, d.status, _note(Action.APOLOGISE, ctx, extra))
    return Outcome(Action.APOLOGISE, change, False, apology=apology)


def mark_result_ready(d: Dossier, ctx: Ctx, pickup_place: str = "", pager_number: str | None = None) -> Outcome:
    to = _check(d, Action.RESULT_READY)
    result = d.result or ResultRecord()
    result.ready_at = ctx.now
    result.pickup_place = pickup_place or (
        "Gửi qua dịch vụ bưu chính công ích" if d.return_channel == "postal" else d.office_name
    )
    result.pager_number = pager_number
    d.result = result
    change = _line(d, ctx, Action.RESULT_READY, to, _note(Action.RESULT_READY, ctx))
    return Outcome(Action.RESULT_READY, change, True, result_ready=True)


def return_result(d: Dossier, ctx: Ctx, via: str) -> Outcome:
    """Handed over at the counter or given to the post; originals go back to the applicant."""
    to = _check(d, Action.RETURN)
    if via not in ("counter", "postal"):
        raise RuleViolation("invalid_return_channel", "A result is returned at the counter or by post")
    d.returned = ReturnRecord(at=ctx.now, via=via, actor=ctx.actor, note=ctx.note)
    if d.result is None:
        d.result = ResultRecord(ready_at=ctx.now, pickup_place=d.office_name)
    how = "tại bộ phận một cửa" if via == "counter" else "qua dịch vụ bưu chính"
    change = _line(d, ctx, Action.RETURN, to, _note(Action.RETURN, ctx, how))
    return Outcome(Action.RETURN, change, True, returned=True)


def withdraw(d: Dossier, ctx: Ctx, reason: str) -> Outcome:
    to = _check(d, Action.WITHDRAW)
    reason = _require(reason, "reason_required", "The reason for the withdrawal")
    _end_pause(d, ctx.now)
    d.status_reason = reason
    d.resume_status = None
    change = _line(d, ctx, Action.WITHDRAW, to, _note(Action.WITHDRAW, ctx, reason))
    return Outcome(Action.WITHDRAW, change, True)


def flag_late(d: Dossier, now: datetime) -> Outcome | None:
    """The automatic late flag: the dossier once, each late step once. None when nothing new."""
    outcome = Outcome(None)
    if not d.late and is_late(d, now):
        d.late = True
        d.late_since = d.statutory_due_at or d.due_at
        d.late_flagged_at = now
        outcome.became_late = True
    if d.status is S.PROCESSING:
        for step in late_steps(d, now):
            if step.late_flagged_at is None:
                step.late_flagged_at = now
                outcome.late_steps.append(step)
    if outcome.became_late or outcome.late_steps:
        return outcome
    return None


# ------------------------------------------------------------------------------ digitisation


def record_component_digitised(d: Dossier, component_id: str, document_id: str, reused: bool) -> bool:
    """Mark a component digitised (and reused); False when nothing changed."""
    for c in d.components:
        if c.component_id == component_id:
            changed = not c.digitised or c.document_id != document_id or (reused and not c.reused)
            c.digitised = True
            c.document_id = document_id
            c.reused = c.reused or reused
            return changed
    d.components.append(
        DossierComponent(
            component_id=component_id,
            name=component_id,
            kind="electronic",
            document_id=document_id,
            digitised=True,
            reused=reused,
        )
    )
    return True


def record_result_digitised(d: Dossier, document_id: str, at: datetime) -> None:
    result = d.result or ResultRecord()
    result.document_id = document_id
    result.digitised = True
    result.digitised_at = at
    d.result = result
