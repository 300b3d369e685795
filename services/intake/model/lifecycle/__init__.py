"""The dossier lifecycle after reception (DOMAIN §3): a state machine with audited steps. Pure.

    registered ─▶ received ─▶ transferred ─▶ processing ─▶ resolved ─▶ result_ready ─▶ returned
                      │            │  ▲  ⇅          │  ▲  │           ▲                 ▲
                      │            │  └─ forward    │  │  └─▶ refused ┴─────────────────┘
                      │            ▼                ▼  │
                      │   supplement_requested ◀────┤  │   (clock paused; deadline restarts)
                      │   awaiting_payment ◀────────┤  │   (clock paused; back when paid)
                      │   suspended ◀───────────────┘──┘   (clock paused; resume)
                      └──▶ withdrawn (from any open state)

Every function takes the dossier (mutated in place), a `Ctx` (who, when, the office's working
calendar, a note) and the action's own arguments; it checks the transition table and the
rules, appends one line to the history (the process control slip, form 05) and returns an
`Outcome` naming what happened, from which the service builds the bus events.

Deadlines: `clock_start` is where the statutory period counts from (reception, or the moment a
supplemented dossier became complete — the period then restarts); `pauses` stop the clock
(supplement, awaiting payment, suspension); `statutory_due_at` is the legal due moment and
decides early / on time / late; `due_at` is the appointment told to the applicant, moved only
by the one apology (form 04).
"""

from services.intake.model.lifecycle.actions import (
    apologise,
    complete_step,
    complete_supplement,
    flag_late,
    forward,
    mark_result_ready,
    payment_received,
    proceed_when_paid,
    record_component_digitised,
    record_result_digitised,
    refuse,
    request_payment,
    request_supplement,
    resolve,
    resume,
    return_result,
    start_processing,
    suspend,
    transfer,
    withdraw,
)
from services.intake.model.lifecycle.clock import (
    is_late,
    late_steps,
    latest_apology_moment,
    plan_steps,
    recompute_due,
    step_deadline,
    supplement_window_end,
    timeliness_today,
)
from services.intake.model.lifecycle.machine import (
    CLOCK_RUNNING,
    DECIDED,
    OPEN,
    PAUSED,
    SUPPLEMENT_WINDOW_WORKING_DAYS,
    TRANSITIONS,
    Action,
    AlreadyDone,
    Ctx,
    InvalidTransition,
    LifecycleError,
    Outcome,
    RuleViolation,
    S,
    allowed_actions,
    holders,
)

__all__ = [
    "CLOCK_RUNNING",
    "DECIDED",
    "OPEN",
    "PAUSED",
    "SUPPLEMENT_WINDOW_WORKING_DAYS",
    "TRANSITIONS",
    "Action",
    "AlreadyDone",
    "Ctx",
    "InvalidTransition",
    "LifecycleError",
    "Outcome",
    "RuleViolation",
    "S",
    "allowed_actions",
    "apologise",
    "complete_step",
    "complete_supplement",
    "flag_late",
    "forward",
    "holders",
    "is_late",
    "late_steps",
    "latest_apology_moment",
    "mark_result_ready",
    "payment_received",
    "plan_steps",
    "proceed_when_paid",
    "recompute_due",
    "record_component_digitised",
    "record_result_digitised",
    "refuse",
    "request_payment",
    "request_supplement",
    "resolve",
    "resume",
    "return_result",
    "start_processing",
    "step_deadline",
    "supplement_window_end",
    "suspend",
    "timeliness_today",
    "transfer",
    "withdraw",
]
