"""The display board of an office (bảng hiển thị) and pager calls: the rules. Pure.

The board's state is a projection of the `queue.*` and `dossier.result_ready/returned` events:
the number at each counter, the last calls, the results ready for pickup. Every change is
also an *entry* of the office's board log (its sequence number is the SSE event id), so a
board that reconnects with `Last-Event-ID` replays exactly what it missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

LAST_CALLS = 10
RESULTS_SHOWN = 30
OFFICE_ID_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
TICKET_NUMBER_PATTERN = r"^[A-Z0-9]{1,12}$"


class CounterShown(BaseModel):
    counter_id: str
    counter_number: int
    counter_name: str = ""
    number: str | None = None
    ticket_id: str | None = None
    status: str | None = Field(None, description="called | serving | None (free)")
    since: datetime | None = None


class CallShown(BaseModel):
    kind: str = Field(description="ticket | pager")
    number: str
    counter_number: int | None = None
    pager_number: str | None = None
    attempt: int = 1
    reason: str | None = None
    at: datetime


class ResultShown(BaseModel):
    number: str
    dossier_id: str | None = None
    pager_number: str | None = None
    at: datetime


class BoardState(BaseModel):
    office_id: str
    seq: int = 0
    counters: dict[str, CounterShown] = Field(default_factory=dict)
    last_calls: list[CallShown] = Field(default_factory=list)
    results_ready: list[ResultShown] = Field(default_factory=list)
    updated_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"counters"})
        data["counters"] = [
            c.model_dump(mode="json") for c in sorted(self.counters.values(), key=lambda c: c.counter_number)
        ]
        return data


class Entry(BaseModel):
    """One line of the board log: an SSE event `kind` with its JSON `data`."""

    kind: str
    data: dict[str, Any]
    seq: int = 0


class PagerCallOrder(BaseModel):
    """A call to send to the office's pager gateway (idempotent on `call_id`)."""

    call_id: str
    office_id: str
    pager_number: str
    label: str
    reason: str
    message: str
    counter_number: int | None = None


# ---- phrases ---------------------------------------------------------------------------------


def call_text(number: str, counter_number: int | None) -> str:
    """What the board shows and says: "Mời số A012 đến quầy 3"."""
    if counter_number is None:
        return f"Mời số {number} đến quầy trả kết quả"
    return f"Mời số {number} đến quầy {counter_number}"


def speech_text(number: str, counter_number: int | None) -> str:
    """The same phrase for a speech synthesiser: the number read character by character."""
    spelled = " ".join(number)
    where = f"quầy số {counter_number}" if counter_number is not None else "quầy trả kết quả"
    return f"Mời số {spelled}, đến {where}"


def result_text(number: str) -> str:
    return f"Đã có kết quả hồ sơ số {number}, mời đến quầy trả kết quả"


# ---- reducer ---------------------------------------------------------------------------------


def _remember_call(state: BoardState, call: CallShown, keep: int) -> None:
    state.last_calls.insert(0, call)
    del state.last_calls[keep:]


def _counter_entry(c: CounterShown) -> Entry:
    return Entry(kind="counter", data=c.model_dump(mode="json"))


def ticket_called(state: BoardState, p: dict[str, Any], at: datetime, *, keep: int = LAST_CALLS) -> list[Entry]:
    """A number called to a counter (or recalled): the counter shows it, the call is announced."""
    cid = p["counter_id"]
    shown = state.counters.get(cid)
    called_at = parse_moment(p.get("called_at")) or at
    if shown is not None and shown.since is not None and shown.since > called_at:
        return []  # an older call arriving late: the counter has moved on
    counter = CounterShown(
        counter_id=cid,
        counter_number=p["counter_number"],
        counter_name=p.get("counter_name", ""),
        number=p["number"],
        ticket_id=p["ticket_id"],
        status="called",
        since=called_at,
    )
    state.counters[cid] = counter
    attempt = int(p.get("attempt") or 1)
    _remember_call(
        state,
        CallShown(kind="ticket", number=p["number"], counter_number=p["counter_number"], attempt=attempt, at=called_at),
        keep,
    )
    call = {
        "number": p["number"],
        "counter_id": cid,
        "counter_number": p["counter_number"],
        "attempt": attempt,
        "priority": p.get("priority", "none"),
        "text": call_text(p["number"], p["counter_number"]),
        "at": called_at.isoformat(),
    }
    return [Entry(kind="call", data=call), _counter_entry(counter)]


def ticket_serving(state: BoardState, p: dict[str, Any], at: datetime) -> list[Entry]:
    shown = state.counters.get(p["counter_id"])
    if shown is None or shown.ticket_id != p["ticket_id"]:
        return []
    shown.status = "serving"
    return [_counter_entry(shown)]


def ticket_left_counter(state: BoardState, p: dict[str, Any], counter_id: str, at: datetime) -> list[Entry]:
    """Completed, skipped or transferred: the counter is free (if it still showed this ticket)."""
    shown = state.counters.get(counter_id)
    if shown is None or shown.ticket_id != p["ticket_id"]:
        return []
    shown.number = shown.ticket_id = shown.status = None
    shown.since = at
    return [_counter_entry(shown)]


def pager_call(
    state: BoardState,
    *,
    call_id: str,
    pager_number: str,
    label: str,
    reason: str,
    counter_number: int | None,
    at: datetime,
    keep: int = LAST_CALLS,
) -> tuple[Entry, PagerCallOrder]:
    message = result_text(label) if reason == "result_ready" else call_text(label, counter_number)
    _remember_call(
        state,
        CallShown(
            kind="pager", number=label, counter_number=counter_number, pager_number=pager_number, reason=reason, at=at
        ),
        keep,
    )
    entry = Entry(
        kind="pager",
        data={
            "call_id": call_id,
            "pager_number": pager_number,
            "number": label,
            "reason": reason,
            "counter_number": counter_number,
            "text": message,
            "at": at.isoformat(),
        },
    )
    order = PagerCallOrder(
        call_id=call_id,
        office_id=state.office_id,
        pager_number=pager_number,
        label=label,
        reason=reason,
        message=message,
        counter_number=counter_number,
    )
    return entry, order


def result_ready(
    state: BoardState,
    *,
    number: str,
    dossier_id: str | None,
    pager_number: str | None,
    at: datetime,
    keep: int = RESULTS_SHOWN,
) -> list[Entry]:
    if any(r.dossier_id == dossier_id and dossier_id for r in state.results_ready):
        return []
    state.results_ready.insert(0, ResultShown(number=number, dossier_id=dossier_id, pager_number=pager_number, at=at))
    del state.results_ready[keep:]
    data = {"number": number, "pager_number": pager_number, "text": result_text(number), "at": at.isoformat()}
    return [Entry(kind="result_ready", data=data)]


def result_collected(
    state: BoardState, *, dossier_id: str | None = None, pager_number: str | None = None, at: datetime
) -> list[Entry]:
    """The result was handed over (or the pager came back): off the board."""
    gone = [
        r
        for r in state.results_ready
        if (dossier_id and r.dossier_id == dossier_id) or (pager_number and r.pager_number == pager_number)
    ]
    if not gone:
        return []
    state.results_ready = [r for r in state.results_ready if r not in gone]
    return [Entry(kind="result_collected", data={"number": r.number, "at": at.isoformat()}) for r in gone]


def label_for_result(
    *, pager_label: str | None, ticket_number: str | None, pager_number: str | None, dossier_code: str | None
) -> str:
    """The number shown for a ready result: the pager's label, the ticket, the pager, the code's sequence."""
    if pager_label:
        return pager_label
    if ticket_number:
        return ticket_number
    if pager_number:
        return pager_number
    if dossier_code and "-" in dossier_code:
        return dossier_code.rsplit("-", 1)[1]
    return dossier_code or "?"


def parse_moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# ---- pager delivery --------------------------------------------------------------------------


def next_attempt_delay(attempts: int, backoff_s: tuple[float, ...]) -> float | None:
    """Seconds before retry number `attempts` (1-based count of failures so far), None = give up."""
    if attempts > len(backoff_s):
        return None
    return backoff_s[attempts - 1]
