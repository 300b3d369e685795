"""What the queue shows: a ticket to its holder, a counter's screen, an office's tickets, the
queue now, statistics, and the `motcua_queue_length` gauge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.intake.model.reception import ReceptionError
from services.intake.queue import model as m
from services.intake.queue.model import AT_COUNTER, TicketStatus
from services.intake.queue.views import public_ticket_view, ticket_view
from services.kit.auth import Principal
from services.kit.errors import NotFound
from services.kit.metrics import QUEUE_LENGTH, set_gauge

if TYPE_CHECKING:
    from services.intake.queue.service import QueueService


async def public_ticket(q: QueueService, ticket_id: str) -> dict[str, Any]:
    ticket = await q.repo.get_ticket(ticket_id)
    if ticket is None:
        raise NotFound("No such ticket", code="unknown_ticket")
    ahead = 0
    if ticket.status is TicketStatus.WAITING:
        ahead = m.waiting_ahead(
            ticket, await q.repo.tickets(ticket.office_id, ticket.day, [TicketStatus.WAITING.value]), q.rules
        )
    return public_ticket_view(ticket, ahead)


async def counter_view(q: QueueService, counter_id: str, principal: Principal) -> dict[str, Any]:
    counter = q.counter(counter_id)
    office = q.office(counter.office_id)
    q.authorize(principal, office)
    day = m.local_day(q.clock())
    today = await q.repo.tickets(office.id, day)
    current = next((t for t in today if t.counter_id == counter.id and t.status in AT_COUNTER), None)
    upcoming = m.waiting_for(counter, today, q.rules)
    return {
        "counter": counter.model_dump(mode="json"),
        "current": ticket_view(current) if current else None,
        "waiting": [{**public_ticket_view(t, i), "lane": m.lane_of(t, q.rules).value} for i, t in enumerate(upcoming)],
        "max_calls": q.rules.max_calls,
    }


async def office_tickets(
    q: QueueService, office_id: str, principal: Principal, day: str | None, statuses: list[str] | None
) -> list[dict[str, Any]]:
    office = q.office(office_id)
    q.authorize(principal, office)
    tickets = await q.repo.tickets(office.id, day or m.local_day(q.clock()), statuses)
    return [ticket_view(t) for t in tickets]


async def queue_now(q: QueueService, office_id: str, principal: Principal | None = None) -> dict[str, Any]:
    """Queue length now: waiting per field and counter, and what each counter is doing."""
    office = q.office(office_id)
    if principal is not None:
        q.authorize(principal, office)
    day = m.local_day(q.clock())
    groups = await q.repo.queue_now(office.id, day)
    waiting = await q.repo.tickets(office.id, day, [TicketStatus.WAITING.value])
    occupancy = {d["_id"]: d for d in await q.repo.counters(office.id)}
    counters = []
    for c in q.counters(office.id):
        occ = occupancy.get(c.id) or {}
        counters.append(
            {
                "counter_id": c.id,
                "counter_number": c.number,
                "fields": sorted(c.fields),
                "current_number": occ.get("number"),
                "waiting": len(m.waiting_for(c, waiting, q.rules)),
            }
        )
    return {
        "office_id": office.id,
        "day": day,
        "waiting_total": len(waiting),
        "by_field": [
            {
                "field_code": g["_id"]["field_code"],
                "target_counter_id": g["_id"].get("target_counter_id"),
                "waiting": g["waiting"],
                "priority": g["priority"],
                "oldest_queued_at": g["oldest_queued_at"],
            }
            for g in groups
        ],
        "counters": counters,
    }


async def refresh_length_gauge(q: QueueService) -> None:
    """Scrape hook: `motcua_queue_length{office_id}` — tickets waiting now, every active office."""
    waiting = await q.repo.waiting_by_office(m.local_day(q.clock()))
    try:
        offices = [o.id for o in q.reference.units.offices if o.active]
    except ReceptionError:  # nothing loaded yet (`motcua seed`)
        offices = []
    set_gauge(QUEUE_LENGTH, {o: float(waiting.get(o, 0)) for o in sorted({*offices, *waiting})})


async def stats(
    q: QueueService, office_id: str, principal: Principal, day_from: str | None, day_to: str | None
) -> dict[str, Any]:
    office = q.office(office_id)
    q.authorize(principal, office)
    today = m.local_day(q.clock())
    start, end = day_from or today, day_to or day_from or today
    days = m.days_between(start, end)
    result = await q.repo.stats(office.id, days)
    return {"office_id": office.id, "from": start, "to": end, **result, "now": await q.now(office.id)}
