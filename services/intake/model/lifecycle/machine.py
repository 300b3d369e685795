"""The lifecycle state machine: actions, the transition table, errors, audit lines. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.intake.model.calendar import Pause, WorkingCalendar
from services.intake.model.dossier import (
    ActorRef,
    Apology,
    Dossier,
    DossierStatus,
    InterAgencyStep,
    RoutingRecord,
    StatusChange,
    StepStatus,
    SupplementRequest,
)

S = DossierStatus

SUPPLEMENT_WINDOW_WORKING_DAYS = 3  # the body may ask for a supplement within 3 working days of reception


class LifecycleError(ValueError):
    """A lifecycle step the rules refuse; `code` is stable for API clients."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidTransition(LifecycleError):
    """The action is not allowed from the dossier's current status (HTTP 409)."""


class RuleViolation(LifecycleError):
    """The action is allowed in principle but breaks a rule here (HTTP 422)."""


class AlreadyDone(LifecycleError):
    """Something that may happen only once already happened (HTTP 409)."""


class Action(StrEnum):
    TRANSFER = "transfer"  # chuyển hồ sơ đến cơ quan có thẩm quyền
    FORWARD = "forward"  # chuyển tiếp hồ sơ gửi nhầm
    START_PROCESSING = "start_processing"  # cơ quan tiếp nhận xử lý
    REQUEST_SUPPLEMENT = "request_supplement"  # yêu cầu bổ sung
    COMPLETE_SUPPLEMENT = "complete_supplement"  # đã bổ sung đầy đủ
    COMPLETE_STEP = "complete_step"  # một cơ quan liên thông hoàn thành phần việc
    REQUEST_PAYMENT = "request_payment"  # chờ thực hiện nghĩa vụ tài chính
    PAYMENT_RECEIVED = "payment_received"  # đã thanh toán
    SUSPEND = "suspend"  # tạm dừng
    RESUME = "resume"  # tiếp tục
    RESOLVE = "resolve"  # giải quyết xong
    REFUSE = "refuse"  # từ chối giải quyết sau thẩm định
    APOLOGISE = "apologise"  # xin lỗi và hẹn lại
    RESULT_READY = "result_ready"  # có kết quả
    RETURN = "return"  # trả kết quả
    WITHDRAW = "withdraw"  # rút hồ sơ


OPEN: frozenset[DossierStatus] = frozenset(
    {S.RECEIVED, S.TRANSFERRED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.AWAITING_PAYMENT, S.SUSPENDED}
)
CLOCK_RUNNING: frozenset[DossierStatus] = frozenset({S.RECEIVED, S.TRANSFERRED, S.PROCESSING})
PAUSED: frozenset[DossierStatus] = frozenset({S.SUPPLEMENT_REQUESTED, S.AWAITING_PAYMENT, S.SUSPENDED})
DECIDED: frozenset[DossierStatus] = frozenset({S.RESOLVED, S.REFUSED, S.RESULT_READY, S.RETURNED})

# action → (allowed from, to); None = back to `resume_status`; the same status = no status change.
TRANSITIONS: dict[Action, tuple[frozenset[DossierStatus], DossierStatus | None]] = {
    Action.TRANSFER: (frozenset({S.RECEIVED}), S.TRANSFERRED),
    Action.FORWARD: (frozenset({S.TRANSFERRED, S.PROCESSING}), S.TRANSFERRED),
    Action.START_PROCESSING: (frozenset({S.RECEIVED, S.TRANSFERRED}), S.PROCESSING),
    Action.REQUEST_SUPPLEMENT: (frozenset({S.TRANSFERRED, S.PROCESSING}), S.SUPPLEMENT_REQUESTED),
    Action.COMPLETE_SUPPLEMENT: (frozenset({S.SUPPLEMENT_REQUESTED}), S.PROCESSING),
    Action.COMPLETE_STEP: (frozenset({S.PROCESSING}), S.PROCESSING),
    Action.REQUEST_PAYMENT: (frozenset({S.RECEIVED, S.TRANSFERRED, S.PROCESSING}), S.AWAITING_PAYMENT),
    Action.PAYMENT_RECEIVED: (frozenset({S.AWAITING_PAYMENT}), None),
    Action.SUSPEND: (frozenset({S.TRANSFERRED, S.PROCESSING}), S.SUSPENDED),
    Action.RESUME: (frozenset({S.SUSPENDED}), None),
    Action.RESOLVE: (frozenset({S.PROCESSING}), S.RESOLVED),
    Action.REFUSE: (frozenset({S.PROCESSING}), S.REFUSED),
    Action.APOLOGISE: (frozenset({S.RECEIVED, S.TRANSFERRED, S.PROCESSING, S.AWAITING_PAYMENT, S.SUSPENDED}), None),
    Action.RESULT_READY: (frozenset({S.RESOLVED, S.REFUSED}), S.RESULT_READY),
    Action.RETURN: (frozenset({S.RESOLVED, S.REFUSED, S.RESULT_READY}), S.RETURNED),
    Action.WITHDRAW: (OPEN | {S.REGISTERED}, S.WITHDRAWN),
}

_NO_STATUS_CHANGE = frozenset({Action.APOLOGISE, Action.COMPLETE_STEP})

_NOTES: dict[Action, str] = {
    Action.TRANSFER: "Chuyển hồ sơ đến cơ quan có thẩm quyền",
    Action.FORWARD: "Chuyển tiếp hồ sơ đến đúng cơ quan có thẩm quyền",
    Action.START_PROCESSING: "Tiếp nhận xử lý hồ sơ",
    Action.REQUEST_SUPPLEMENT: "Yêu cầu bổ sung, hoàn thiện hồ sơ",
    Action.COMPLETE_SUPPLEMENT: "Đã bổ sung đầy đủ; tính lại thời hạn giải quyết",
    Action.COMPLETE_STEP: "Hoàn thành bước liên thông",
    Action.REQUEST_PAYMENT: "Chờ thực hiện nghĩa vụ tài chính",
    Action.PAYMENT_RECEIVED: "Đã thanh toán phí, lệ phí",
    Action.SUSPEND: "Tạm dừng giải quyết",
    Action.RESUME: "Tiếp tục giải quyết",
    Action.RESOLVE: "Đã giải quyết",
    Action.REFUSE: "Từ chối giải quyết",
    Action.APOLOGISE: "Xin lỗi và hẹn lại ngày trả kết quả",
    Action.RESULT_READY: "Có kết quả, chờ trả",
    Action.RETURN: "Đã trả kết quả",
    Action.WITHDRAW: "Rút hồ sơ theo đề nghị của người nộp",
}


@dataclass(frozen=True)
class Ctx:
    actor: ActorRef
    now: datetime
    calendar: WorkingCalendar
    note: str = ""


@dataclass
class Outcome:
    """What an action did, for the service to turn into bus events."""

    action: Action | None
    change: StatusChange | None = None
    status_changed: bool = False
    transferred: RoutingRecord | None = None
    supplement: SupplementRequest | None = None
    apology: Apology | None = None
    result_ready: bool = False
    returned: bool = False
    became_late: bool = False
    late_steps: list[InterAgencyStep] = field(default_factory=list)


# ------------------------------------------------------------------------------ helpers


def allowed_actions(status: DossierStatus) -> list[Action]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def _check(d: Dossier, action: Action) -> DossierStatus:
    sources, target = TRANSITIONS[action]
    if d.status not in sources:
        raise InvalidTransition(
            "invalid_transition",
            f"Cannot {action.value.replace('_', ' ')} a dossier that is {d.status.value}",
            details={
                "status": d.status.value,
                "action": action.value,
                "allowed": [a.value for a in allowed_actions(d.status)],
            },
        )
    if action in _NO_STATUS_CHANGE:
        return d.status
    return target if target is not None else (d.resume_status or S.PROCESSING)


def holders(d: Dossier) -> list[str]:
    """Who holds the dossier now (the process control slip's current line)."""
    if d.status in (S.REGISTERED, S.RECEIVED, S.RESULT_READY, S.RETURNED, S.NOT_RECEIVED):
        return [d.office_name]
    active = [s.body for s in d.steps if s.status is StepStatus.ACTIVE]
    if d.status is S.PROCESSING and active:
        lead = [d.lead_body] if d.lead_body and d.lead_body not in active else []
        return lead + active
    if d.handling is not None:
        name = d.handling.body_name
        return [f"{name} ({d.handling.unit_name})" if d.handling.unit_name else name]
    return [d.office_name]


def _line(d: Dossier, ctx: Ctx, action: Action, to: DossierStatus, note: str) -> StatusChange:
    change = StatusChange(
        at=ctx.now,
        from_status=d.status,
        to_status=to,
        actor=ctx.actor.subject,
        role=ctx.actor.role,
        unit_code=ctx.actor.unit_code,
        note=note,
        action=action.value,
    )
    d.status = to
    change.holder = "; ".join(holders(d))
    d.history.append(change)
    return change


def _note(action: Action, ctx: Ctx, extra: str = "") -> str:
    base = _NOTES[action]
    text = f"{base}: {extra}" if extra else base
    return f"{text} — {ctx.note}" if ctx.note else text


def _require(text: str | None, code: str, what: str) -> str:
    if text is None or not text.strip():
        raise RuleViolation(code, f"{what} is required")
    return text.strip()


def _pause(d: Dossier, at: datetime, reason: str) -> None:
    d.pauses.append(Pause(start=at, reason=reason))


def _end_pause(d: Dossier, at: datetime) -> None:
    for i, p in enumerate(d.pauses):
        if p.end is None:
            d.pauses[i] = Pause(start=p.start, end=max(at, p.start), reason=p.reason)
