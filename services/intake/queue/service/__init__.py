"""Queue use cases: kiosk tickets, appointments, counter calls, dossier links, statistics (pagers: pagers.py).

Each state change and its `queue.*` events are written in one transaction (outbox); the relay
is woken after the commit so the display board hears about a call at once. Reference data
(offices, counters, fields, procedures, units) and the clock are intake's, passed in as
callables so a reload of the catalogue or a test clock is seen at once.

`QueueService` holds the ports, the rules and the reference lookups every use case shares;
each use case lives in the module of its concern and takes the service as its first argument:

- `kiosk`         the kiosk menu and a new ticket
- `appointments`  online booking and the check-in at the kiosk
- `counter`       call next, recall, serve, finish, skip, transfer, link a dossier
- `reads`         a ticket, a counter's screen, the queue now, statistics, the length gauge
- `events`        the `queue.*` events those moves publish
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from services.intake.model.reference import ReferenceData
from services.intake.model.units import Office
from services.intake.queue import model as m
from services.intake.queue.model import CounterInfo, Priority, QueueError, QueueRules, Ticket
from services.intake.queue.repository import QueueRepository, QueueTx
from services.intake.queue.service import appointments, counter, kiosk, reads
from services.intake.queue.service.appointments import AppointmentRequest
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import Forbidden, NotFound

__all__ = ["AppointmentRequest", "DossierLookup", "QueueService"]

DossierLookup = Callable[[str], Awaitable[Mapping[str, Any] | None]]


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

    def field_of(self, office: Office, field_code: str | None, procedure_code: str | None) -> tuple[str, str | None]:
        """The field a ticket or booking is for (a procedure names its own); served at the office."""
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

    # ---- ports ------------------------------------------------------------------------------

    async def commit(self, work: Callable[[QueueTx], Awaitable[Any]]) -> Any:
        result = await self.repo.transaction(work)
        self.on_commit()
        return result

    async def dossier(self, dossier_id: str, office: Office) -> Mapping[str, Any] | None:
        if self.dossier_lookup is None:
            return None
        dossier = await self.dossier_lookup(dossier_id)
        if dossier is None:
            raise NotFound(f"No dossier {dossier_id}", code="unknown_dossier")
        if dossier.get("office_id") != office.id:
            raise QueueError("dossier_of_another_office", "The dossier was received at another office")
        return dossier

    # ---- kiosk and appointments (kiosk.py, appointments.py) ---------------------------------

    def kiosk_menu(self, office_id: str) -> dict[str, Any]:
        return kiosk.kiosk_menu(self, office_id)

    async def issue(
        self,
        office_id: str,
        *,
        field_code: str | None = None,
        procedure_code: str | None = None,
        priority: Priority = Priority.NONE,
        kiosk_id: str | None = None,
    ) -> tuple[Ticket, int]:
        """A kiosk ticket (`kiosk.issue`)."""
        return await kiosk.issue(
            self, office_id, field_code=field_code, procedure_code=procedure_code, priority=priority, kiosk_id=kiosk_id
        )

    async def book(self, request: AppointmentRequest) -> dict[str, Any]:
        return await appointments.book(self, request)

    async def check_in(self, office_id: str, code: str, kiosk_id: str | None = None) -> tuple[Ticket, int, bool]:
        """Check in an online appointment at the kiosk: on time → head of its queue."""
        return await appointments.check_in(self, office_id, code, kiosk_id)

    # ---- counters (counter.py) --------------------------------------------------------------

    async def call_next(self, counter_id: str, principal: Principal) -> Ticket | None:
        return await counter.call_next(self, counter_id, principal)

    async def recall(self, ticket_id: str, principal: Principal) -> Ticket:
        return await counter.recall(self, ticket_id, principal)

    async def serve(self, ticket_id: str, principal: Principal) -> Ticket:
        return await counter.serve(self, ticket_id, principal)

    async def finish(self, ticket_id: str, principal: Principal) -> Ticket:
        return await counter.finish(self, ticket_id, principal)

    async def skip(self, ticket_id: str, principal: Principal, *, no_show: bool = False) -> Ticket:
        return await counter.skip(self, ticket_id, principal, no_show=no_show)

    async def transfer(self, ticket_id: str, principal: Principal, to_counter_id: str) -> Ticket:
        return await counter.transfer(self, ticket_id, principal, to_counter_id)

    async def link_dossier(
        self, ticket_id: str, principal: Principal, dossier_id: str, dossier_code: str | None = None
    ) -> Ticket:
        """Link a dossier received for this ticket (one ticket may bring several services)."""
        return await counter.link_dossier(self, ticket_id, principal, dossier_id, dossier_code)

    # ---- reads (reads.py) -------------------------------------------------------------------

    async def public_ticket(self, ticket_id: str) -> dict[str, Any]:
        return await reads.public_ticket(self, ticket_id)

    async def counter_view(self, counter_id: str, principal: Principal) -> dict[str, Any]:
        return await reads.counter_view(self, counter_id, principal)

    async def office_tickets(
        self, office_id: str, principal: Principal, day: str | None, statuses: list[str] | None
    ) -> list[dict[str, Any]]:
        return await reads.office_tickets(self, office_id, principal, day, statuses)

    async def now(self, office_id: str, principal: Principal | None = None) -> dict[str, Any]:
        """Queue length now: waiting per field and counter, and what each counter is doing."""
        return await reads.queue_now(self, office_id, principal)

    async def refresh_length_gauge(self) -> None:
        """Scrape hook: `motcua_queue_length{office_id}` — tickets waiting now, every active office."""
        await reads.refresh_length_gauge(self)

    async def stats(
        self, office_id: str, principal: Principal, day_from: str | None, day_to: str | None
    ) -> dict[str, Any]:
        return await reads.stats(self, office_id, principal, day_from, day_to)
