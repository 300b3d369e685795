"""Officers' reminders: dossiers due within one working day and late ones, once per dossier and day.

`tick` is safe to run from any number of notify processes and across restarts: reminders are
unique per dossier × day in MongoDB, digests are claimed before they are sent, and a digest
a crash left open is finished by a later tick (its deliveries are keyed by the digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.kit.telemetry import current_trace_id
from services.notify.model.common import Purpose, RecipientRole, vn_day
from services.notify.model.policy import QuietHours
from services.notify.model.reminders import digest_variables, reminder_kind, reminder_row
from services.notify.model.routing import Audience, Notice
from services.notify.repository import ContactRepository, DossierRepository, ReminderRepository
from services.notify.service.dispatcher import Dispatcher
from services.notify.service.planner import Planner

log = logging.getLogger("motcua.notify.reminders")


class ReminderService:
    def __init__(
        self,
        dossiers: DossierRepository,
        reminders: ReminderRepository,
        contacts: ContactRepository,
        planner: Planner,
        dispatcher: Dispatcher,
        *,
        quiet_hours: QuietHours,
        clock: Callable[[], datetime],
        stale_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.dossiers = dossiers
        self.reminders = reminders
        self.contacts = contacts
        self.planner = planner
        self.dispatcher = dispatcher
        self.quiet_hours = quiet_hours
        self.clock = clock
        self.stale_after = stale_after

    async def tick(self) -> dict[str, int]:
        """Record today's reminders and send each office's officers a digest of the new ones."""
        now = self.clock()
        summary = {"new": 0, "digests": 0, "recovered": 0}
        for digest in await self.reminders.stale_digests(now - self.stale_after):
            await self._send_digest(digest["_id"], digest["office_id"])
            summary["recovered"] += 1
        if self.quiet_hours.is_quiet(now):
            return summary  # officers are reminded in working hours; tomorrow morning's tick does it
        for view in await self.dossiers.candidates(now):
            kind = reminder_kind(view, now)
            if kind is not None and await self.reminders.add(reminder_row(view, kind, now)):
                summary["new"] += 1
        for office_id in await self.reminders.offices_waiting():
            digest_id = f"digest-{uuid.uuid4().hex}"
            await self.reminders.start_digest(
                {"_id": digest_id, "office_id": office_id, "day": vn_day(now), "status": "open", "created_at": now}
            )
            if await self.reminders.claim_for_digest(office_id, digest_id):
                await self._send_digest(digest_id, office_id)
                summary["digests"] += 1
            else:
                await self.reminders.finish_digest(digest_id, {"rows": 0, "deliveries": 0})
        return summary

    async def _send_digest(self, digest_id: str, office_id: str) -> None:
        rows = await self.reminders.rows_of(digest_id)
        if not rows:
            await self.reminders.finish_digest(digest_id, {"rows": 0, "deliveries": 0})
            return
        now = self.clock()
        notice = Notice(
            template_key="officer_reminder",
            purpose=Purpose.WORK,
            audience=Audience.OFFICERS,
            role=RecipientRole.OFFICER,
            office_id=office_id,
            variables=digest_variables(office_id, rows, now),
        )
        contacts = await self.contacts.get(office_id)
        unit_path: list[str] = (contacts or {}).get("unit_path") or rows[0].get("unit_path") or []
        unit_code = unit_path[0] if unit_path else rows[0].get("unit_code", "")
        records = await self.planner.records(
            [notice],
            event_id=digest_id,
            event_type="notify.officer_reminder",
            unit_code=unit_code,
            unit_path=unit_path,
            trace_id=current_trace_id() or rows[0].get("trace_id"),
        )
        for record in records:
            record["dossier_codes"] = [r["dossier_code"] for r in rows]
        await self.dispatcher.submit(records)
        await self.reminders.finish_digest(digest_id, {"rows": len(rows), "deliveries": len(records), "sent_at": now})
        log.info("reminder digest %s for %s: %d dossiers, %d deliveries", digest_id, office_id, len(rows), len(records))

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reminder tick: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval_s)

    async def list(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return await self.reminders.list(query, limit)


async def cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
