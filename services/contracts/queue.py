"""Queue tickets, counter calls and vibrating pagers on the bus (số thứ tự, gọi số, thẻ rung).

Intake owns the queue (tickets, counters, pager bindings) and publishes every change through
its outbox on the QUEUE stream, whose subjects are `queue.>`. Notify's display-board
subpackage consumes them to build the live board feed of each office and to buzz pagers;
it never reads intake's database.

Subject names: the issue calls the pager event `pager.called`. A `pager.*` subject would need a
stream of its own (and `pager` is not a producing service), while the QUEUE stream owned by
intake captures `queue.>` only, so the event is published as **`queue.pager_called`** (and its
siblings as `queue.pager_bound` / `queue.pager_released`).

Two triggers end in a pager call at notify:

- the officer presses "call" → intake publishes `queue.pager_called`;
- `dossier.result_ready` arrives (intake's DOSSIER stream; its `pager_number` is used when the
  officer typed it, otherwise the binding notify learnt from `queue.pager_bound`) → notify
  records the same kind of pager call, keyed by that event's `event_id`.

Either way notify writes the call, the board-log entries and the consumed `event_id` in one
transaction, then sends the call to the office's pager gateway with `Idempotency-Key =
call_id`, so the pager and the board receive each call exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from services.contracts.events import Event
from services.contracts.streams import DOSSIER, QUEUE, ConsumerSpec

# ---- payloads ---------------------------------------------------------------------------------


class TicketRef(BaseModel):
    """What every ticket event carries (no personal data: a ticket is a number)."""

    ticket_id: str
    office_id: str
    day: str = Field(description="Local day of issue (Asia/Ho_Chi_Minh), YYYY-MM-DD")
    number: str = Field(description="Prefix per field + daily sequence, e.g. A012")
    field_code: str
    field_name: str = ""
    procedure_code: str | None = None
    priority: str = Field("none", description="none | elderly | disability | pregnant | small_child")
    appointment: bool = Field(False, description="Checked in for an online appointment")


class CounterRef(BaseModel):
    counter_id: str
    counter_number: int
    counter_name: str = ""


class TicketIssuedPayload(TicketRef):
    issued_at: datetime
    kiosk_id: str | None = None
    waiting_ahead: int = 0


class TicketCalledPayload(TicketRef, CounterRef):
    called_at: datetime
    attempt: int = Field(1, description="1 for the first call, 2+ for recalls")


class TicketServingPayload(TicketRef, CounterRef):
    started_at: datetime


class TicketCompletedPayload(TicketRef, CounterRef):
    finished_at: datetime
    services: list[str] = Field(default_factory=list, description="Procedure codes handled for this ticket")


class TicketSkippedPayload(TicketRef, CounterRef):
    skipped_at: datetime
    no_show: bool = Field(description="True: given up (no-show); False: back in the queue")
    calls: int


class TicketTransferredPayload(TicketRef):
    from_counter_id: str
    from_counter_number: int
    to_counter_id: str
    to_counter_number: int
    transferred_at: datetime


class TicketDossierLinkedPayload(TicketRef):
    dossier_id: str
    dossier_code: str | None = None
    procedure_code_linked: str | None = None
    linked_at: datetime


class PagerPayload(BaseModel):
    office_id: str
    pager_number: str
    label: str = Field(description="What the citizen hears/sees: the ticket or dossier queue number")
    dossier_id: str | None = None
    dossier_code: str | None = None
    ticket_id: str | None = None


class PagerBoundPayload(PagerPayload):
    bound_at: datetime


class PagerCalledPayload(PagerPayload):
    call_id: str = Field(description="Idempotency key of this call at the pager gateway")
    reason: str = Field("officer_call", description="officer_call | result_ready")
    counter_number: int | None = None
    called_at: datetime


class PagerReleasedPayload(PagerPayload):
    released_at: datetime


# ---- events -----------------------------------------------------------------------------------


class TicketIssued(Event):
    """A kiosk issued a ticket (or an online appointment was checked in)."""

    subject: ClassVar[str] = "queue.ticket_issued"
    payload: TicketIssuedPayload


class TicketCalled(Event):
    """A counter called a ticket (`attempt` > 1: a recall)."""

    subject: ClassVar[str] = "queue.ticket_called"
    payload: TicketCalledPayload


class TicketServing(Event):
    """The citizen came to the counter: service started."""

    subject: ClassVar[str] = "queue.ticket_serving"
    payload: TicketServingPayload


class TicketCompleted(Event):
    """Service finished at the counter."""

    subject: ClassVar[str] = "queue.ticket_completed"
    payload: TicketCompletedPayload


class TicketSkipped(Event):
    """The called citizen did not come: back in the queue, or a no-show after N recalls."""

    subject: ClassVar[str] = "queue.ticket_skipped"
    payload: TicketSkippedPayload


class TicketTransferred(Event):
    """The ticket was sent to another counter of the office."""

    subject: ClassVar[str] = "queue.ticket_transferred"
    payload: TicketTransferredPayload


class TicketDossierLinked(Event):
    """A dossier received for this ticket (several per ticket are allowed)."""

    subject: ClassVar[str] = "queue.ticket_dossier_linked"
    payload: TicketDossierLinkedPayload


class PagerBound(Event):
    """A vibrating pager (thẻ rung) was handed to the citizen for a dossier."""

    subject: ClassVar[str] = "queue.pager_bound"
    payload: PagerBoundPayload


class PagerCalled(Event):
    """The issue's `pager.called`, on the QUEUE stream as `queue.pager_called` (see the module doc)."""

    subject: ClassVar[str] = "queue.pager_called"
    payload: PagerCalledPayload


class PagerReleased(Event):
    """The pager was handed back; it can be bound again."""

    subject: ClassVar[str] = "queue.pager_released"
    payload: PagerReleasedPayload


QUEUE_EVENTS: list[type[Event]] = [
    TicketIssued,
    TicketCalled,
    TicketServing,
    TicketCompleted,
    TicketSkipped,
    TicketTransferred,
    TicketDossierLinked,
    PagerBound,
    PagerCalled,
    PagerReleased,
]

EVENT_BY_SUBJECT: dict[str, type[Event]] = {e.subject: e for e in QUEUE_EVENTS}

# ---- consumers (notify's display board and pager dispatch) ------------------------------------

NOTIFY_BOARD_QUEUE = ConsumerSpec(
    durable="notify-board-queue",
    stream=QUEUE.name,
    subjects=("queue.>",),
    service="notify",
    description="notify's display board follows tickets and counters, and buzzes pagers on queue.pager_called",
)

NOTIFY_BOARD_RESULT_READY = ConsumerSpec(
    durable="notify-board-result-ready",
    stream=DOSSIER.name,
    subjects=("dossier.result_ready",),
    service="notify",
    description="notify shows a ready result on the office's board and buzzes the dossier's pager",
)

NOTIFY_BOARD_RETURNED = ConsumerSpec(
    durable="notify-board-returned",
    stream=DOSSIER.name,
    subjects=("dossier.returned",),
    service="notify",
    description="notify takes a collected result off the office's board",
)

QUEUE_CONSUMERS: tuple[ConsumerSpec, ...] = (NOTIFY_BOARD_QUEUE, NOTIFY_BOARD_RESULT_READY, NOTIFY_BOARD_RETURNED)
