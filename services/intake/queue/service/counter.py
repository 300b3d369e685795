"""At the counter: call the next ticket, recall, serve, finish, skip, transfer, link the dossiers
received for it. Each move and its `queue.*` events are committed together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from services.contracts.events import Event
from services.intake.queue import model as m
from services.intake.queue.model import AT_COUNTER, CounterInfo, InvalidState, LinkedDossier, Ticket, TicketStatus
from services.intake.queue.repository import QueueTx
from services.intake.queue.service import events as ev
from services.kit.auth import Principal
from services.kit.errors import NotFound
from services.kit.metrics import queue_waited

if TYPE_CHECKING:
    from services.intake.queue.service import QueueService

Step = Callable[[Ticket, QueueTx, datetime], Awaitable[list[Event]]]


async def call_next(q: QueueService, counter_id: str, principal: Principal) -> Ticket | None:
    counter = q.counter(counter_id)
    office = q.office(counter.office_id)
    q.authorize(principal, office)
    now = q.clock()
    day = m.local_day(now)

    first_call = False  # of the attempt that committed (the transaction may be retried)

    async def work(tx: QueueTx) -> Ticket | None:
        nonlocal first_call
        busy = await tx.counter_ticket(counter.id)
        if busy:
            current = await tx.ticket(busy)
            if current is not None and current.status in AT_COUNTER:
                raise InvalidState(
                    "counter_busy",
                    f"Counter {counter.number} still has ticket {current.number} ({current.status.value}): "
                    "finish, skip or transfer it first",
                    details={"ticket_id": current.id, "number": current.number},
                )
        ticket = m.pick_next(counter, await tx.waiting(office.id, day), q.rules)
        if ticket is None:
            return None
        first_call = ticket.first_called_at is None
        m.call(ticket, counter, now, principal.subject)
        await tx.save(ticket)
        await tx.occupy(counter.id, office.id, ticket, now)
        tx.emit(ev.called(ticket, counter, now))
        return ticket

    ticket: Ticket | None = await q.commit(work)
    if ticket is not None and first_call:
        queue_waited(office.id, ticket.wait_s)  # issued → first called, once per ticket
    return ticket


async def ticket_step(q: QueueService, ticket_id: str, principal: Principal, step: Step) -> Ticket:
    """Load the ticket, check the caller's office, apply `step`, save it with the step's events."""
    now = q.clock()

    async def work(tx: QueueTx) -> Ticket:
        ticket = await tx.ticket(ticket_id)
        if ticket is None:
            raise NotFound(f"No ticket {ticket_id}", code="unknown_ticket")
        q.authorize(principal, q.office(ticket.office_id))
        events = await step(ticket, tx, now)
        await tx.save(ticket)
        tx.emit(*events)
        return ticket

    ticket: Ticket = await q.commit(work)
    return ticket


def _counter_of(q: QueueService, t: Ticket) -> CounterInfo:
    assert t.counter_id is not None
    return q.counter(t.counter_id)


async def recall(q: QueueService, ticket_id: str, principal: Principal) -> Ticket:
    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        m.recall(t, now, q.rules)
        return [ev.called(t, _counter_of(q, t), now)]

    return await ticket_step(q, ticket_id, principal, step)


async def serve(q: QueueService, ticket_id: str, principal: Principal) -> Ticket:
    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        m.start_serving(t, now)
        return [ev.serving(t, _counter_of(q, t), now)]

    return await ticket_step(q, ticket_id, principal, step)


async def finish(q: QueueService, ticket_id: str, principal: Principal) -> Ticket:
    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        counter = _counter_of(q, t) if t.counter_id else None
        was_called = t.status is TicketStatus.CALLED
        m.finish(t, now)
        await tx.release_counter_of(t, now)
        assert counter is not None
        events: list[Event] = []
        if was_called:
            events.append(ev.serving(t, counter, now))
        events.append(ev.completed(t, counter, now))
        return events

    return await ticket_step(q, ticket_id, principal, step)


async def skip(q: QueueService, ticket_id: str, principal: Principal, *, no_show: bool = False) -> Ticket:
    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        counter = _counter_of(q, t) if t.counter_id else None
        calls = t.calls
        final = m.skip(t, now, q.rules, no_show=no_show)
        await tx.release_counter_of(t, now)
        assert counter is not None
        return [ev.skipped(t, counter, now, no_show=final, calls=calls)]

    return await ticket_step(q, ticket_id, principal, step)


async def transfer(q: QueueService, ticket_id: str, principal: Principal, to_counter_id: str) -> Ticket:
    to = q.counter(to_counter_id)

    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        origin = _counter_of(q, t) if t.counter_id else None
        m.transfer(t, to, now)
        await tx.release_counter_of(t, now)
        assert origin is not None
        return [ev.transferred(t, origin, to, now)]

    return await ticket_step(q, ticket_id, principal, step)


async def link_dossier(
    q: QueueService, ticket_id: str, principal: Principal, dossier_id: str, dossier_code: str | None = None
) -> Ticket:
    """Link a dossier received for this ticket (one ticket may bring several services)."""
    ticket = await q.repo.get_ticket(ticket_id)
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id}", code="unknown_ticket")
    office = q.office(ticket.office_id)
    q.authorize(principal, office)
    dossier = await q.dossier(dossier_id, office)
    code = (dossier or {}).get("code") or dossier_code
    procedure = (dossier or {}).get("procedure_code")

    async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
        linked = LinkedDossier(dossier_id=dossier_id, dossier_code=code, procedure_code=procedure, linked_at=now)
        if not m.link_dossier(t, linked):
            return []
        return [ev.dossier_linked(t, dossier_id, code, procedure, now)]

    return await ticket_step(q, ticket_id, principal, step)
