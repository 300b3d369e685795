"""Queue tickets and counter calls (số thứ tự, gọi số): the rules. Pure — time comes in as an argument.

A ticket is issued by a kiosk for a field (lĩnh vực) or a procedure at an office: its number is a
prefix per field plus a daily sequence per office and prefix (`A012`). A counter serves the
fields listed on it; the next ticket a counter calls is chosen by `pick_next`:

1. Only waiting tickets the counter may serve: sent to this counter by a transfer, or not sent
   anywhere and of a field the counter serves.
2. Each ticket is in the best *lane* it qualifies for, lanes ranked by `QueueRules.order`
   (default: an online appointment checked in on time goes to the head of its queue, then
   priority citizens — elderly, people with disabilities, pregnant women, people with small
   children — then tickets transferred from another counter, then everyone else).
3. Within a lane, first come first served: the booked time for appointments, otherwise the
   moment the ticket entered the queue (issue, check-in, transfer or requeue after a skip).

Calls: `call` → `recall` (at most `recalls_before_no_show` times) → `start_serving` → `finish`;
`skip` sends an unanswered ticket back to its queue, and after 1 + N unanswered calls makes it a
no-show; `transfer` sends it to another counter; dossiers are linked to a ticket (several
services per ticket). Each step records a segment (one counter's call and service) from which
waiting and service times are computed.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Priority(StrEnum):
    """Who is served first by rule (đối tượng ưu tiên) [check the province's list]."""

    NONE = "none"
    ELDERLY = "elderly"  # người cao tuổi
    DISABILITY = "disability"  # người khuyết tật
    PREGNANT = "pregnant"  # phụ nữ mang thai
    SMALL_CHILD = "small_child"  # người đi cùng trẻ nhỏ (dưới 36 tháng tuổi)


PRIORITY_LABELS_VI: dict[Priority, str] = {
    Priority.NONE: "",
    Priority.ELDERLY: "Người cao tuổi",
    Priority.DISABILITY: "Người khuyết tật",
    Priority.PREGNANT: "Phụ nữ mang thai",
    Priority.SMALL_CHILD: "Người có con nhỏ",
}


class TicketStatus(StrEnum):
    WAITING = "waiting"  # đang chờ
    CALLED = "called"  # đã gọi, chờ công dân đến quầy
    SERVING = "serving"  # đang phục vụ
    DONE = "done"  # đã phục vụ xong
    NO_SHOW = "no_show"  # vắng mặt (bỏ qua sau N lần gọi lại)


FINAL: frozenset[TicketStatus] = frozenset({TicketStatus.DONE, TicketStatus.NO_SHOW})
AT_COUNTER: frozenset[TicketStatus] = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})


class Lane(StrEnum):
    APPOINTMENT = "appointment"
    PRIORITY = "priority"
    TRANSFER = "transfer"
    REGULAR = "regular"


DEFAULT_ORDER: tuple[Lane, ...] = (Lane.APPOINTMENT, Lane.PRIORITY, Lane.TRANSFER, Lane.REGULAR)


class QueueError(ValueError):
    """A queue step the rules refuse; `code` is stable for API clients, `status` the HTTP status."""

    status = 422

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidState(QueueError):
    """Not allowed from the ticket's (or counter's) current state."""

    status = 409


class QueueRules(BaseModel):
    """The office floor's configurable rules."""

    model_config = ConfigDict(frozen=True)

    order: tuple[Lane, ...] = DEFAULT_ORDER
    recalls_before_no_show: int = Field(2, ge=0, le=20, description="N: skipping after 1 + N calls is a no-show")
    number_digits: int = Field(3, ge=2, le=6)
    appointment_early: timedelta = timedelta(minutes=60)
    appointment_late: timedelta = timedelta(minutes=15)

    @field_validator("order")
    @classmethod
    def _every_lane_once(cls, value: tuple[Lane, ...]) -> tuple[Lane, ...]:
        if sorted(value) != sorted(Lane):
            raise ValueError(f"order must name each lane exactly once: {', '.join(Lane)}")
        return value

    @property
    def max_calls(self) -> int:
        return 1 + self.recalls_before_no_show


# ---- numbering -------------------------------------------------------------------------------


def local_day(at: datetime) -> str:
    return at.astimezone(VN_TZ).date().isoformat()


def local_hour(at: datetime) -> int:
    return at.astimezone(VN_TZ).hour


MAX_STATS_DAYS = 366


def days_between(start: str, end: str) -> list[str]:
    """Every ISO day from `start` to `end`, both included (a statistics period, at most a year)."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise QueueError("invalid_date", "Days are written YYYY-MM-DD") from None
    if last < first:
        raise QueueError("invalid_range", "`to` is before `from`")
    span = (last - first).days + 1
    if span > MAX_STATS_DAYS:
        raise QueueError("range_too_long", f"At most {MAX_STATS_DAYS} days at a time")
    return [(first + timedelta(days=i)).isoformat() for i in range(span)]


def format_number(prefix: str, seq: int, digits: int = 3) -> str:
    """`A` + 12 → `A012`; past 999 the number just grows (`A1000`), it never wraps."""
    return f"{prefix}{seq:0{digits}d}"


def _letters() -> Iterable[str]:
    yield from string.ascii_uppercase
    for a in string.ascii_uppercase:
        for b in string.ascii_uppercase:
            yield a + b


def assign_prefixes(field_codes: Iterable[str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A distinct letter per field, in catalogue order (A, B, …), overrides kept as given."""
    overrides = {k: v.upper() for k, v in (overrides or {}).items()}
    taken = set(overrides.values())
    letters = (p for p in _letters() if p not in taken)
    out: dict[str, str] = {}
    for code in field_codes:
        out[code] = overrides.get(code) or next(letters)
    return out


# ---- the ticket ------------------------------------------------------------------------------


class Segment(BaseModel):
    """One call of the ticket at one counter, and the service that followed (if any)."""

    counter_id: str
    counter_number: int
    queued_at: datetime
    called_at: datetime
    queued_hour: int
    wait_s: float
    officer: str = ""
    started_at: datetime | None = None
    service_hour: int | None = None
    ended_at: datetime | None = None
    service_s: float | None = None
    outcome: str | None = Field(None, description="done | transferred | requeued | no_show")


class LinkedDossier(BaseModel):
    dossier_id: str
    dossier_code: str | None = None
    procedure_code: str | None = None
    linked_at: datetime


class Ticket(BaseModel):
    id: str
    office_id: str
    unit_code: str
    unit_path: list[str]
    day: str
    prefix: str
    seq: int
    number: str
    field_code: str
    field_name: str = ""
    procedure_code: str | None = None
    priority: Priority = Priority.NONE
    kiosk_id: str | None = None
    appointment_id: str | None = None
    appointment_at: datetime | None = Field(None, description="Booked time, when checked in on time")
    status: TicketStatus = TicketStatus.WAITING
    issued_at: datetime
    issued_hour: int
    queued_at: datetime
    target_counter_id: str | None = Field(None, description="Set by a transfer: only that counter calls it")
    transferred: bool = False
    counter_id: str | None = None
    counter_number: int | None = None
    calls: int = Field(0, description="Unanswered calls in the current round")
    total_calls: int = 0
    skips: int = 0
    called_at: datetime | None = None
    first_called_at: datetime | None = None
    wait_s: float | None = Field(None, description="Issue → first call")
    service_s: float = Field(0.0, description="Sum of the service times at every counter")
    finished_at: datetime | None = None
    segments: list[Segment] = Field(default_factory=list)
    dossiers: list[LinkedDossier] = Field(default_factory=list)
    version: int = 0

    @property
    def services(self) -> list[str]:
        return sorted({d.procedure_code for d in self.dossiers if d.procedure_code})

    def to_doc(self) -> dict[str, object]:
        doc = self.model_dump(mode="python")
        doc["_id"] = doc.pop("id")
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> Ticket:
        data = dict(doc)
        data["id"] = data.pop("_id")
        return cls.model_validate(data)


class CounterInfo(BaseModel):
    """What the rules need to know about a counter (from intake's reference data)."""

    model_config = ConfigDict(frozen=True)

    id: str
    office_id: str
    number: int
    name: str = ""
    fields: frozenset[str] = frozenset()


# ---- ordering --------------------------------------------------------------------------------


def lane_of(ticket: Ticket, rules: QueueRules) -> Lane:
    """The best-ranked lane the ticket qualifies for."""
    lanes = [Lane.REGULAR]
    if ticket.appointment_at is not None:
        lanes.append(Lane.APPOINTMENT)
    if ticket.priority is not Priority.NONE:
        lanes.append(Lane.PRIORITY)
    if ticket.transferred:
        lanes.append(Lane.TRANSFER)
    return min(lanes, key=rules.order.index)


def order_key(ticket: Ticket, rules: QueueRules) -> tuple[int, datetime, int]:
    lane = lane_of(ticket, rules)
    since = ticket.appointment_at if lane is Lane.APPOINTMENT and ticket.appointment_at else ticket.queued_at
    return (rules.order.index(lane), since, ticket.seq)


def can_serve(counter: CounterInfo, ticket: Ticket) -> bool:
    if ticket.target_counter_id is not None:
        return ticket.target_counter_id == counter.id
    return ticket.field_code in counter.fields


def waiting_for(counter: CounterInfo, tickets: Iterable[Ticket], rules: QueueRules) -> list[Ticket]:
    """The waiting tickets this counter may call, in the order it would call them."""
    eligible = [
        t
        for t in tickets
        if t.status is TicketStatus.WAITING and t.office_id == counter.office_id and can_serve(counter, t)
    ]
    return sorted(eligible, key=lambda t: order_key(t, rules))


def pick_next(counter: CounterInfo, tickets: Iterable[Ticket], rules: QueueRules) -> Ticket | None:
    ordered = waiting_for(counter, tickets, rules)
    return ordered[0] if ordered else None


def waiting_ahead(ticket: Ticket, tickets: Iterable[Ticket], rules: QueueRules) -> int:
    """How many waiting tickets of the same queue (field, or target counter) come before it."""
    mine = order_key(ticket, rules)
    return sum(
        1
        for t in tickets
        if t.id != ticket.id
        and t.status is TicketStatus.WAITING
        and t.target_counter_id == ticket.target_counter_id
        and (t.target_counter_id is not None or t.field_code == ticket.field_code)
        and order_key(t, rules) < mine
    )


# ---- appointments ----------------------------------------------------------------------------


def appointment_on_time(appointment_at: datetime, now: datetime, rules: QueueRules) -> bool:
    """Checked in within the window around the booked time (early/late margins are configurable)."""
    return appointment_at - rules.appointment_early <= now <= appointment_at + rules.appointment_late


def check_appointment_day(appointment_at: datetime, now: datetime) -> None:
    if local_day(appointment_at) != local_day(now):
        raise QueueError(
            "appointment_not_today",
            f"The appointment is for {local_day(appointment_at)}; check in on that day",
        )


# ---- steps -----------------------------------------------------------------------------------


def _seconds(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds())


def _require(ticket: Ticket, allowed: Iterable[TicketStatus], action: str) -> None:
    allowed = frozenset(allowed)
    if ticket.status not in allowed:
        raise InvalidState(
            "invalid_ticket_state",
            f"Cannot {action} ticket {ticket.number}: it is {ticket.status.value}",
            details={"status": ticket.status.value, "allowed": sorted(s.value for s in allowed)},
        )


def _current(ticket: Ticket) -> Segment:
    assert ticket.segments, "a ticket at a counter has a segment"
    return ticket.segments[-1]


def call(ticket: Ticket, counter: CounterInfo, now: datetime, officer: str = "") -> None:
    """The counter calls a waiting ticket (gọi số)."""
    _require(ticket, {TicketStatus.WAITING}, "call")
    if not can_serve(counter, ticket):
        raise QueueError("counter_cannot_serve", f"Counter {counter.number} does not serve ticket {ticket.number}")
    ticket.status = TicketStatus.CALLED
    ticket.counter_id, ticket.counter_number = counter.id, counter.number
    ticket.calls += 1
    ticket.total_calls += 1
    ticket.called_at = now
    if ticket.first_called_at is None:
        ticket.first_called_at = now
        ticket.wait_s = _seconds(ticket.issued_at, now)
    ticket.segments.append(
        Segment(
            counter_id=counter.id,
            counter_number=counter.number,
            queued_at=ticket.queued_at,
            called_at=now,
            queued_hour=local_hour(ticket.queued_at),
            wait_s=_seconds(ticket.queued_at, now),
            officer=officer,
        )
    )


def recall(ticket: Ticket, now: datetime, rules: QueueRules) -> None:
    """Call the same number again (gọi lại); at most N times before it must be skipped."""
    _require(ticket, {TicketStatus.CALLED}, "recall")
    if ticket.calls >= rules.max_calls:
        raise QueueError(
            "recall_limit_reached",
            f"Ticket {ticket.number} was called {ticket.calls} times: skip it (no-show)",
            details={"calls": ticket.calls, "max_calls": rules.max_calls},
        )
    ticket.calls += 1
    ticket.total_calls += 1
    ticket.called_at = now


def start_serving(ticket: Ticket, now: datetime) -> None:
    """The citizen came to the counter."""
    _require(ticket, {TicketStatus.CALLED}, "serve")
    ticket.status = TicketStatus.SERVING
    ticket.calls = 0
    seg = _current(ticket)
    seg.started_at = now
    seg.service_hour = local_hour(now)


def _end_service(ticket: Ticket, now: datetime, outcome: str) -> None:
    seg = _current(ticket)
    seg.ended_at = now
    seg.outcome = outcome
    if seg.started_at is not None:
        seg.service_s = _seconds(seg.started_at, now)
        ticket.service_s += seg.service_s


def finish(ticket: Ticket, now: datetime) -> None:
    """Service done. A called ticket may be finished directly (served without a separate 'serve')."""
    _require(ticket, AT_COUNTER, "finish")
    if ticket.status is TicketStatus.CALLED:
        start_serving(ticket, now)
    _end_service(ticket, now, "done")
    ticket.status = TicketStatus.DONE
    ticket.finished_at = now


def skip(ticket: Ticket, now: datetime, rules: QueueRules, *, no_show: bool = False) -> bool:
    """The called citizen did not come. Returns True when the ticket became a no-show.

    Before 1 + N unanswered calls the ticket goes back to its queue (behind the others of its
    lane); at that count, or when the officer says so, it is a no-show (vắng mặt).
    """
    _require(ticket, {TicketStatus.CALLED}, "skip")
    final = no_show or ticket.calls >= rules.max_calls
    _end_service(ticket, now, "no_show" if final else "requeued")
    ticket.skips += 1
    if final:
        ticket.status = TicketStatus.NO_SHOW
        ticket.finished_at = now
    else:
        ticket.status = TicketStatus.WAITING
        ticket.queued_at = now
        ticket.counter_id = ticket.counter_number = None
    return final


def transfer(ticket: Ticket, to: CounterInfo, now: datetime) -> None:
    """Send the ticket to another counter of the office (chuyển quầy); it waits there in the transfer lane."""
    _require(ticket, AT_COUNTER, "transfer")
    if to.office_id != ticket.office_id:
        raise QueueError("counter_of_another_office", f"Counter {to.id} belongs to another office")
    if to.id == ticket.counter_id:
        raise QueueError("same_counter", f"Ticket {ticket.number} is already at counter {to.number}")
    _end_service(ticket, now, "transferred")
    ticket.status = TicketStatus.WAITING
    ticket.target_counter_id = to.id
    ticket.transferred = True
    ticket.calls = 0
    ticket.queued_at = now
    ticket.counter_id = ticket.counter_number = None


def link_dossier(ticket: Ticket, dossier: LinkedDossier) -> bool:
    """Record a dossier received for this ticket; False when it was already linked."""
    _require(ticket, {TicketStatus.CALLED, TicketStatus.SERVING, TicketStatus.DONE}, "link a dossier to")
    if any(d.dossier_id == dossier.dossier_id for d in ticket.dossiers):
        return False
    ticket.dossiers.append(dossier)
    return True


# ---- pagers ----------------------------------------------------------------------------------

PAGER_NUMBER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z-]{0,19}$"


def pager_label(ticket_number: str | None, dossier_code: str | None, pager_number: str) -> str:
    """The number the citizen waits for: the ticket's, else the dossier's daily sequence (seed 004)."""
    if ticket_number:
        return ticket_number
    if dossier_code and "-" in dossier_code:
        return dossier_code.rsplit("-", 1)[1]
    return pager_number
