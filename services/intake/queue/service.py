"""Queue use cases: kiosk tickets, appointments, counter calls, dossier links, statistics (pagers: pagers.py).

Each state change and its `queue.*` events are written in one transaction (outbox); the relay
is woken after the commit so the display board hears about a call at once. Reference data
(offices, counters, fields, procedures, units) and the clock are intake's, passed in as
callables so a reload of the catalogue or a test clock is seen at once.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from services.contracts.events import Event
from services.contracts.queue import (
    TicketCalled,
    TicketCalledPayload,
    TicketCompleted,
    TicketCompletedPayload,
    TicketDossierLinked,
    TicketDossierLinkedPayload,
    TicketIssued,
    TicketIssuedPayload,
    TicketServing,
    TicketServingPayload,
    TicketSkipped,
    TicketSkippedPayload,
    TicketTransferred,
    TicketTransferredPayload,
)
from services.intake.model.reception import ReceptionError
from services.intake.model.reference import ReferenceData
from services.intake.model.units import Office
from services.intake.queue import model as m
from services.intake.queue.model import (
    AT_COUNTER,
    CounterInfo,
    InvalidState,
    LinkedDossier,
    Priority,
    QueueError,
    QueueRules,
    Ticket,
    TicketStatus,
)
from services.intake.queue.repository import QueueRepository, QueueTx
from services.intake.queue.views import appointment_view, public_ticket_view, ticket_view
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import Forbidden, NotFound
from services.kit.metrics import QUEUE_LENGTH, queue_waited, set_gauge

log = logging.getLogger("motcua.intake.queue")

DossierLookup = Callable[[str], Awaitable[Mapping[str, Any] | None]]

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class AppointmentRequest(BaseModel):
    """An online booking (đặt lịch hẹn) for a field or procedure at an office."""

    office_id: str = Field(min_length=1, max_length=100)
    field_code: str | None = Field(default=None, max_length=60)
    procedure_code: str | None = Field(default=None, max_length=50)
    at: datetime = Field(description="Booked moment, with its offset")
    name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=20)


class QueueService:
    def __init__(
        self,
        repo: QueueRepository,
        reference: Callable[[], ReferenceData],
        *,
        clock: Callable[[], datetime],
        rules: QueueRules | None = None,
        prefixes: Mapping[str, str] | None = None,
        dossier_lookup: DossierLookup | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self._reference = reference
        self.clock = clock
        self.rules = rules or QueueRules()
        self.prefix_overrides = dict(prefixes or {})
        self.dossier_lookup = dossier_lookup
        self.on_commit = on_commit

    # ---- reference data ---------------------------------------------------------------------

    @property
    def reference(self) -> ReferenceData:
        return self._reference()

    def office(self, office_id: str) -> Office:
        office = {o.id: o for o in self.reference.units.offices}.get(office_id)
        if office is None or not office.active:
            raise NotFound(f"Unknown office {office_id!r}", code="unknown_office")
        return office

    def counters(self, office_id: str) -> list[CounterInfo]:
        return [
            CounterInfo(id=c.id, office_id=c.office_id, number=c.number, name=c.name, fields=frozenset(c.fields))
            for c in self.reference.units.counters_of(office_id)
        ]

    def counter(self, counter_id: str) -> CounterInfo:
        for c in self.reference.units.counters:
            if c.id == counter_id:
                return CounterInfo(
                    id=c.id, office_id=c.office_id, number=c.number, name=c.name, fields=frozenset(c.fields)
                )
        raise NotFound(f"Unknown counter {counter_id!r}", code="unknown_counter")

    def prefixes(self) -> dict[str, str]:
        return m.assign_prefixes([f.code for f in self.reference.units.fields], self.prefix_overrides)

    def unit_path(self, office: Office) -> list[str]:
        return self.reference.unit_path(office.unit_code)

    def authorize(self, principal: Principal, office: Office) -> None:
        """The caller's unit must cover the office's unit; an office claim must name this office."""
        ensure_unit(principal, self.unit_path(office))
        if principal.office_id and principal.office_id != office.id:
            raise Forbidden("This counter belongs to another office", code="office_not_allowed")

    def _field_of(self, office: Office, field_code: str | None, procedure_code: str | None) -> tuple[str, str | None]:
        if procedure_code:
            try:
                field_code = self.reference.catalogue.get(procedure_code).field_code
            except Exception:
                raise NotFound(f"Unknown procedure {procedure_code!r}", code="unknown_procedure") from None
        if not field_code:
            raise QueueError("field_required", "Choose a field (lĩnh vực) or a procedure")
        if field_code not in self.reference.fields_served(office.id):
            raise QueueError(
                "field_not_served", f"No counter of {office.name} serves the field {field_code!r}", details=field_code
            )
        return field_code, procedure_code

    # ---- events -----------------------------------------------------------------------------

    def _envelope(self, t: Ticket) -> dict[str, Any]:
        return {"unit_code": t.unit_code, "unit_path": t.unit_path}

    def _ref(self, t: Ticket) -> dict[str, Any]:
        return {
            "ticket_id": t.id,
            "office_id": t.office_id,
            "day": t.day,
            "number": t.number,
            "field_code": t.field_code,
            "field_name": t.field_name,
            "procedure_code": t.procedure_code,
            "priority": t.priority.value,
            "appointment": t.appointment_at is not None,
        }

    @staticmethod
    def _counter_ref(c: CounterInfo) -> dict[str, Any]:
        return {"counter_id": c.id, "counter_number": c.number, "counter_name": c.name}

    async def commit(self, work: Callable[[QueueTx], Awaitable[Any]]) -> Any:
        result = await self.repo.transaction(work)
        self.on_commit()
        return result

    # ---- kiosk ------------------------------------------------------------------------------

    def kiosk_menu(self, office_id: str) -> dict[str, Any]:
        office = self.office(office_id)
        names = self.reference.units.field_names()
        prefixes = self.prefixes()
        served = sorted(self.reference.fields_served(office.id), key=lambda f: prefixes.get(f, f))
        return {
            "office_id": office.id,
            "office_name": office.name,
            "fields": [{"code": f, "name": names.get(f, f), "prefix": prefixes[f]} for f in served],
            "priorities": [
                {"code": p.value, "label": m.PRIORITY_LABELS_VI[p]} for p in Priority if p is not Priority.NONE
            ],
        }

    def _new_ticket(
        self,
        office: Office,
        field_code: str,
        procedure_code: str | None,
        priority: Priority,
        kiosk_id: str | None,
        seq: int,
        now: datetime,
    ) -> Ticket:
        prefix = self.prefixes()[field_code]
        return Ticket(
            id=uuid.uuid4().hex,
            office_id=office.id,
            unit_code=office.unit_code,
            unit_path=self.unit_path(office),
            day=m.local_day(now),
            prefix=prefix,
            seq=seq,
            number=m.format_number(prefix, seq, self.rules.number_digits),
            field_code=field_code,
            field_name=self.reference.units.field_names().get(field_code, ""),
            procedure_code=procedure_code,
            priority=priority,
            kiosk_id=kiosk_id,
            issued_at=now,
            issued_hour=m.local_hour(now),
            queued_at=now,
        )

    def _issued_event(self, t: Ticket, ahead: int) -> TicketIssued:
        return TicketIssued(
            **self._envelope(t),
            payload=TicketIssuedPayload(
                **self._ref(t), issued_at=t.issued_at, kiosk_id=t.kiosk_id, waiting_ahead=ahead
            ),
        )

    async def issue(
        self,
        office_id: str,
        *,
        field_code: str | None = None,
        procedure_code: str | None = None,
        priority: Priority = Priority.NONE,
        kiosk_id: str | None = None,
    ) -> tuple[Ticket, int]:
        """A kiosk ticket: the next number of the field's prefix today, never repeated."""
        office = self.office(office_id)
        field_code, procedure_code = self._field_of(office, field_code, procedure_code)
        now = self.clock()
        prefix = self.prefixes()[field_code]
        seq, now = await self.repo.next_seq(office.id, m.local_day(now), prefix, now)
        ticket = self._new_ticket(office, field_code, procedure_code, priority, kiosk_id, seq, now)

        async def work(tx: QueueTx) -> int:
            ahead = m.waiting_ahead(ticket, await tx.waiting(office.id, ticket.day), self.rules)
            await tx.insert(ticket)
            tx.emit(self._issued_event(ticket, ahead))
            return ahead

        ahead = await self.commit(work)
        return ticket, ahead

    # ---- appointments -----------------------------------------------------------------------

    async def book(self, request: AppointmentRequest) -> dict[str, Any]:
        office = self.office(request.office_id)
        field_code, procedure_code = self._field_of(office, request.field_code, request.procedure_code)
        now = self.clock()
        if request.at.tzinfo is None:
            raise QueueError("offset_required", "Give the appointment time with its offset (+07:00)")
        if request.at <= now:
            raise QueueError("appointment_in_past", "The appointment must be in the future")
        try:
            open_then = self.reference.calendar(office).is_working_time(request.at)
        except Exception:
            open_then = False
        if not open_then:
            raise QueueError("office_closed", "The office is not open at that time")
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        doc = {
            "_id": code,
            "office_id": office.id,
            "field_code": field_code,
            "procedure_code": procedure_code,
            "at": request.at,
            "name": request.name,
            "phone": request.phone,
            "booked_at": now,
            "ticket_id": None,
        }
        await self.repo.insert_appointment(doc)
        return appointment_view(doc)

    async def check_in(self, office_id: str, code: str, kiosk_id: str | None = None) -> tuple[Ticket, int, bool]:
        """Check in an online appointment at the kiosk: on time → head of its queue.

        Returns (ticket, waiting ahead, created). A second check-in returns the same ticket.
        """
        office = self.office(office_id)
        code = code.strip().upper()
        appointment = await self.repo.get_appointment(code)
        if appointment is None or appointment["office_id"] != office.id:
            raise NotFound("No such appointment at this office", code="unknown_appointment")
        if appointment.get("ticket_id"):
            existing = await self.repo.get_ticket(appointment["ticket_id"])
            if existing is not None:
                return existing, 0, False
        now = self.clock()
        at: datetime = appointment["at"]
        m.check_appointment_day(at, now)
        field_code = appointment["field_code"]
        if field_code not in self.reference.fields_served(office.id):
            raise QueueError("field_not_served", f"No counter serves the field {field_code!r} any more")
        prefix = self.prefixes()[field_code]
        seq, issued = await self.repo.next_seq(office.id, m.local_day(now), prefix, now)
        ticket = self._new_ticket(
            office, field_code, appointment.get("procedure_code"), Priority.NONE, kiosk_id, seq, issued
        )
        ticket.appointment_id = code
        if m.appointment_on_time(at, now, self.rules):
            ticket.appointment_at = at

        async def work(tx: QueueTx) -> int:
            ahead = m.waiting_ahead(ticket, await tx.waiting(office.id, ticket.day), self.rules)
            await tx.insert(ticket, appointment_ref=code)
            await tx.mark_checked_in(code, ticket.id, now)
            tx.emit(self._issued_event(ticket, ahead))
            return ahead

        try:
            ahead = await self.commit(work)
        except DuplicateKeyError:  # a double tap on the kiosk: the other check-in won
            again = await self.repo.get_appointment(code)
            existing = await self.repo.get_ticket(again["ticket_id"]) if again and again.get("ticket_id") else None
            if existing is None:
                raise
            return existing, 0, False
        return ticket, ahead, True

    # ---- counters ---------------------------------------------------------------------------

    async def call_next(self, counter_id: str, principal: Principal) -> Ticket | None:
        counter = self.counter(counter_id)
        office = self.office(counter.office_id)
        self.authorize(principal, office)
        now = self.clock()
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
            ticket = m.pick_next(counter, await tx.waiting(office.id, day), self.rules)
            if ticket is None:
                return None
            first_call = ticket.first_called_at is None
            m.call(ticket, counter, now, principal.subject)
            await tx.save(ticket)
            await tx.occupy(counter.id, office.id, ticket, now)
            tx.emit(self._called(ticket, counter, now))
            return ticket

        ticket: Ticket | None = await self.commit(work)
        if ticket is not None and first_call:
            queue_waited(office.id, ticket.wait_s)  # issued → first called, once per ticket
        return ticket

    def _called(self, t: Ticket, counter: CounterInfo, now: datetime) -> TicketCalled:
        return TicketCalled(
            **self._envelope(t),
            payload=TicketCalledPayload(
                **self._ref(t), **self._counter_ref(counter), called_at=now, attempt=t.calls or 1
            ),
        )

    async def _ticket_step(
        self,
        ticket_id: str,
        principal: Principal,
        step: Callable[[Ticket, QueueTx, datetime], Awaitable[list[Event]]],
    ) -> Ticket:
        now = self.clock()

        async def work(tx: QueueTx) -> Ticket:
            ticket = await tx.ticket(ticket_id)
            if ticket is None:
                raise NotFound(f"No ticket {ticket_id}", code="unknown_ticket")
            self.authorize(principal, self.office(ticket.office_id))
            events = await step(ticket, tx, now)
            await tx.save(ticket)
            tx.emit(*events)
            return ticket

        ticket: Ticket = await self.commit(work)
        return ticket

    def _counter_of(self, t: Ticket) -> CounterInfo:
        assert t.counter_id is not None
        return self.counter(t.counter_id)

    async def recall(self, ticket_id: str, principal: Principal) -> Ticket:
        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            m.recall(t, now, self.rules)
            return [self._called(t, self._counter_of(t), now)]

        return await self._ticket_step(ticket_id, principal, step)

    async def serve(self, ticket_id: str, principal: Principal) -> Ticket:
        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            m.start_serving(t, now)
            payload = TicketServingPayload(**self._ref(t), **self._counter_ref(self._counter_of(t)), started_at=now)
            return [TicketServing(**self._envelope(t), payload=payload)]

        return await self._ticket_step(ticket_id, principal, step)

    async def finish(self, ticket_id: str, principal: Principal) -> Ticket:
        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            counter = self._counter_of(t) if t.counter_id else None
            was_called = t.status is TicketStatus.CALLED
            m.finish(t, now)
            await tx.release_counter_of(t, now)
            assert counter is not None
            events: list[Event] = []
            if was_called:
                events.append(
                    TicketServing(
                        **self._envelope(t),
                        payload=TicketServingPayload(**self._ref(t), **self._counter_ref(counter), started_at=now),
                    )
                )
            events.append(
                TicketCompleted(
                    **self._envelope(t),
                    payload=TicketCompletedPayload(
                        **self._ref(t), **self._counter_ref(counter), finished_at=now, services=t.services
                    ),
                )
            )
            return events

        return await self._ticket_step(ticket_id, principal, step)

    async def skip(self, ticket_id: str, principal: Principal, *, no_show: bool = False) -> Ticket:
        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            counter = self._counter_of(t) if t.counter_id else None
            calls = t.calls
            final = m.skip(t, now, self.rules, no_show=no_show)
            await tx.release_counter_of(t, now)
            assert counter is not None
            payload = TicketSkippedPayload(
                **self._ref(t), **self._counter_ref(counter), skipped_at=now, no_show=final, calls=calls
            )
            return [TicketSkipped(**self._envelope(t), payload=payload)]

        return await self._ticket_step(ticket_id, principal, step)

    async def transfer(self, ticket_id: str, principal: Principal, to_counter_id: str) -> Ticket:
        to = self.counter(to_counter_id)

        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            origin = self._counter_of(t) if t.counter_id else None
            m.transfer(t, to, now)
            await tx.release_counter_of(t, now)
            assert origin is not None
            payload = TicketTransferredPayload(
                **self._ref(t),
                from_counter_id=origin.id,
                from_counter_number=origin.number,
                to_counter_id=to.id,
                to_counter_number=to.number,
                transferred_at=now,
            )
            return [TicketTransferred(**self._envelope(t), payload=payload)]

        return await self._ticket_step(ticket_id, principal, step)

    async def dossier(self, dossier_id: str, office: Office) -> Mapping[str, Any] | None:
        if self.dossier_lookup is None:
            return None
        dossier = await self.dossier_lookup(dossier_id)
        if dossier is None:
            raise NotFound(f"No dossier {dossier_id}", code="unknown_dossier")
        if dossier.get("office_id") != office.id:
            raise QueueError("dossier_of_another_office", "The dossier was received at another office")
        return dossier

    async def link_dossier(
        self, ticket_id: str, principal: Principal, dossier_id: str, dossier_code: str | None = None
    ) -> Ticket:
        """Link a dossier received for this ticket (one ticket may bring several services)."""
        ticket = await self.repo.get_ticket(ticket_id)
        if ticket is None:
            raise NotFound(f"No ticket {ticket_id}", code="unknown_ticket")
        office = self.office(ticket.office_id)
        self.authorize(principal, office)
        dossier = await self.dossier(dossier_id, office)
        code = (dossier or {}).get("code") or dossier_code
        procedure = (dossier or {}).get("procedure_code")

        async def step(t: Ticket, tx: QueueTx, now: datetime) -> list[Event]:
            linked = LinkedDossier(dossier_id=dossier_id, dossier_code=code, procedure_code=procedure, linked_at=now)
            if not m.link_dossier(t, linked):
                return []
            payload = TicketDossierLinkedPayload(
                **self._ref(t),
                dossier_id=dossier_id,
                dossier_code=code,
                procedure_code_linked=procedure,
                linked_at=now,
            )
            return [TicketDossierLinked(**self._envelope(t), payload=payload)]

        return await self._ticket_step(ticket_id, principal, step)

    # ---- reads ------------------------------------------------------------------------------

    async def public_ticket(self, ticket_id: str) -> dict[str, Any]:
        ticket = await self.repo.get_ticket(ticket_id)
        if ticket is None:
            raise NotFound("No such ticket", code="unknown_ticket")
        ahead = 0
        if ticket.status is TicketStatus.WAITING:
            ahead = m.waiting_ahead(
                ticket, await self.repo.tickets(ticket.office_id, ticket.day, [TicketStatus.WAITING.value]), self.rules
            )
        return public_ticket_view(ticket, ahead)

    async def counter_view(self, counter_id: str, principal: Principal) -> dict[str, Any]:
        counter = self.counter(counter_id)
        office = self.office(counter.office_id)
        self.authorize(principal, office)
        day = m.local_day(self.clock())
        today = await self.repo.tickets(office.id, day)
        current = next((t for t in today if t.counter_id == counter.id and t.status in AT_COUNTER), None)
        upcoming = m.waiting_for(counter, today, self.rules)
        return {
            "counter": counter.model_dump(mode="json"),
            "current": ticket_view(current) if current else None,
            "waiting": [
                {**public_ticket_view(t, i), "lane": m.lane_of(t, self.rules).value} for i, t in enumerate(upcoming)
            ],
            "max_calls": self.rules.max_calls,
        }

    async def office_tickets(
        self, office_id: str, principal: Principal, day: str | None, statuses: list[str] | None
    ) -> list[dict[str, Any]]:
        office = self.office(office_id)
        self.authorize(principal, office)
        tickets = await self.repo.tickets(office.id, day or m.local_day(self.clock()), statuses)
        return [ticket_view(t) for t in tickets]

    async def now(self, office_id: str, principal: Principal | None = None) -> dict[str, Any]:
        """Queue length now: waiting per field and counter, and what each counter is doing."""
        office = self.office(office_id)
        if principal is not None:
            self.authorize(principal, office)
        day = m.local_day(self.clock())
        groups = await self.repo.queue_now(office.id, day)
        waiting = await self.repo.tickets(office.id, day, [TicketStatus.WAITING.value])
        occupancy = {d["_id"]: d for d in await self.repo.counters(office.id)}
        counters = []
        for c in self.counters(office.id):
            occ = occupancy.get(c.id) or {}
            counters.append(
                {
                    "counter_id": c.id,
                    "counter_number": c.number,
                    "fields": sorted(c.fields),
                    "current_number": occ.get("number"),
                    "waiting": len(m.waiting_for(c, waiting, self.rules)),
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

    async def refresh_length_gauge(self) -> None:
        """Scrape hook: `motcua_queue_length{office_id}` — tickets waiting now, every active office."""
        waiting = await self.repo.waiting_by_office(m.local_day(self.clock()))
        try:
            offices = [o.id for o in self.reference.units.offices if o.active]
        except ReceptionError:  # nothing loaded yet (`motcua seed`)
            offices = []
        set_gauge(QUEUE_LENGTH, {o: float(waiting.get(o, 0)) for o in sorted({*offices, *waiting})})

    async def stats(
        self, office_id: str, principal: Principal, day_from: str | None, day_to: str | None
    ) -> dict[str, Any]:
        office = self.office(office_id)
        self.authorize(principal, office)
        today = m.local_day(self.clock())
        start, end = day_from or today, day_to or day_from or today
        days = m.days_between(start, end)
        result = await self.repo.stats(office.id, days)
        return {"office_id": office.id, "from": start, "to": end, **result, "now": await self.now(office.id)}
