"""Notify's use cases: events in, deliveries out; templates, consent, contacts, reminders.

`NotifyService.handle` is what the bus subscribers call. It keeps the projection of open
dossiers, turns the event into notices, the notices into delivery records (idempotent per
event × channel × recipient) and hands them to the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.contracts.events import DossierAnonymised, DossierErased, DossierReceived, Event
from services.contracts.payments import PaymentPaid
from services.notify.model.reminders import project, repeats_reception
from services.notify.model.routing import (
    DOSSIER_EVENTS,
    LooseEvent,
    Notice,
    dossier_notices,
    payment_notices,
    shipment_notices,
)
from services.notify.repository import (
    ContactRepository,
    DeliveryRepository,
    DossierRepository,
    PreferenceRepository,
)
from services.notify.service.dispatcher import DispatchConfig, Dispatcher
from services.notify.service.planner import Planner
from services.notify.service.reminders import ReminderService
from services.notify.service.templates import TemplateService, load_default_sources

log = logging.getLogger("motcua.notify")

__all__ = [
    "DispatchConfig",
    "Dispatcher",
    "NotifyParts",
    "NotifyService",
    "Planner",
    "ReceiptKeys",
    "ReminderService",
    "TemplateService",
    "load_default_sources",
]


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class NotifyService:
    def __init__(
        self,
        planner: Planner,
        dispatcher: Dispatcher,
        dossiers: DossierRepository,
        reminders: ReminderService,
        *,
        clock: Callable[[], datetime],
        notify_statuses: frozenset[str] = frozenset({"suspended", "withdrawn"}),
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.planner = planner
        self.dispatcher = dispatcher
        self.dossiers = dossiers
        self.reminders = reminders
        self.clock = clock
        # Dossier events are handled several at once (contracts: workers); the projection's
        # read-merge-write of one dossier must not interleave with itself.
        self._dossier_locks = KeyedLocks()
        self.notify_statuses = notify_statuses
        self.wake = wake  # the outbox relay, after a write of events

    async def handle(self, subject: str, body: dict[str, Any], trace_id: str | None) -> list[str]:
        """One bus message; returns the ids of the deliveries it caused (existing ones included)."""
        family = subject.split(".", 1)[0]
        if subject == DossierAnonymised.subject:
            await self.erase(DossierAnonymised.model_validate(body))
            return []
        if family == "dossier":
            return await self._dossier_event(subject, body, trace_id)
        if subject == PaymentPaid.subject:
            event = PaymentPaid.model_validate(body)
            return await self._deliver(event, payment_notices(event), trace_id)
        if family == "shipment":
            try:
                loose = LooseEvent.model_validate({**body, "type": body.get("type") or subject})
            except ValidationError as exc:
                log.warning("shipment event %s without a usable envelope: %s", subject, exc.error_count())
                return []
            return await self._deliver(loose, shipment_notices(loose), trace_id)
        return []

    async def erase(self, event: DossierAnonymised) -> int:
        """A deletion request anonymised the dossier in intake: erase its delivery records."""
        code = event.payload.dossier_code
        deliveries = self.dispatcher.deliveries
        erased = await deliveries.erase_dossier(code, self.clock()) if code else 0
        # after the erasure, not with it (no transaction spans its writes): a crash in between
        # redelivers the event, which erases nothing more and confirms then
        await deliveries.queue_events([DossierErased.for_service("notify", event, erased)])
        self.wake()
        log.info("dossier %s anonymised: %d delivery record(s) erased", code or event.payload.dossier_id, erased)
        return erased

    async def erase_old_messages(self, retention: timedelta) -> int:
        """Data minimisation: the messages' addresses and text go once they are `retention` old
        (statuses, channels and times stay for the statistics)."""
        now = self.clock()
        erased = await self.dispatcher.deliveries.erase_created_before(now - retention, now)
        if erased:
            log.info("%d delivery record(s) older than %d days erased", erased, retention.days)
        return erased

    async def _dossier_event(self, subject: str, body: dict[str, Any], trace_id: str | None) -> list[str]:
        cls = DOSSIER_EVENTS.get(subject)
        if cls is None:
            return []
        event = cls.model_validate(body)
        async with self._dossier_locks.hold(event.payload.dossier_id):
            # Without a read first, where the stored view adds nothing: a reception is the
            # dossier's first event (save() refuses it if a later one got there first), and a
            # later event with the same due moment only keeps the stored lateness and trace.
            # Otherwise (another due moment, no view yet, an older event): read and merge.
            alone = None if repeats_reception(event) else project(None, event, trace_id)
            if alone is None:
                pass  # nothing to project
            elif isinstance(event, DossierReceived):
                await self.dossiers.save(alone)
            elif not await self.dossiers.save_over_same_due(
                alone, keep_late_since=alone.late_since is None, keep_trace=trace_id is None
            ):
                view = project(await self.dossiers.get(event.payload.dossier_id), event, trace_id)
                if view is not None:
                    await self.dossiers.save(view)
        return await self._deliver(event, dossier_notices(event, notify_statuses=self.notify_statuses), trace_id)

    async def _deliver(self, event: Event, notices: list[Notice], trace_id: str | None) -> list[str]:
        if not notices:
            return []
        records = await self.planner.records(
            notices,
            event_id=event.event_id,
            event_type=event.type,
            unit_code=event.unit_code,
            unit_path=event.unit_path or [event.unit_code],
            trace_id=trace_id,
        )
        return await self.dispatcher.submit(records)


class ReceiptKeys:
    """Secrets that authenticate providers' delivery receipts."""

    def __init__(self, sms: dict[str, str], zalo_app_id: str = "", zalo_oa_secret: str = "") -> None:
        self.sms = sms
        self.zalo_app_id = zalo_app_id
        self.zalo_oa_secret = zalo_oa_secret


class NotifyParts:
    """Everything the HTTP API needs, built once in the app's lifespan."""

    def __init__(
        self,
        service: NotifyService,
        templates: TemplateService,
        deliveries: DeliveryRepository,
        preferences: PreferenceRepository,
        contacts: ContactRepository,
        keys: ReceiptKeys,
    ) -> None:
        self.service = service
        self.dispatcher = service.dispatcher
        self.reminders = service.reminders
        self.templates = templates
        self.deliveries = deliveries
        self.preferences = preferences
        self.contacts = contacts
        self.keys = keys
        self.clock = service.clock
