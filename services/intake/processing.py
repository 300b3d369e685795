"""Use cases of the dossier lifecycle after reception: routing, processing, inter-agency steps,
supplements, payment, suspension, resolution, apology, result, return, withdrawal, late flags.

Each use case loads the dossier, checks the caller's unit against the dossier's units (the
receiving unit's path and the handling body's), applies one pure lifecycle function, and
writes the dossier with its events in one transaction (optimistic version + outbox).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from services.intake.events_out import events_for
from services.intake.model import lifecycle as lc
from services.intake.model.calendar import CalendarRangeError, WorkingCalendar
from services.intake.model.dossier import STATUS_LABELS_VI, ActorRef, Dossier, Handling, MissingRecord
from services.intake.model.reception import ReceptionError
from services.intake.model.routing import RoutingError, handling_for_unit, route_to_competent_body
from services.intake.repository import DossierRepository
from services.intake.service import IntakeService
from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import AppError, Conflict, Invalid, NotFound
from services.kit.metrics import DOSSIERS_LATE, dossier_finished, set_gauge

log = logging.getLogger("motcua.intake.processing")

# The role written on the process control slip when the caller holds several.
_ROLE_PRIORITY = (
    Role.SIGNING_LEADER,
    Role.SPECIALIST,
    Role.RECEPTION_OFFICER,
    Role.POSTAL_AGENT,
    Role.CASHIER,
    Role.UNIT_ADMIN,
    Role.PROVINCE_ADMIN,
    Role.INSPECTOR,
)


def actor_of(principal: Principal, preferred: Iterable[Role] = ()) -> ActorRef:
    roles = [r for r in preferred if r in principal.roles] or [r for r in _ROLE_PRIORITY if r in principal.roles]
    return ActorRef(
        subject=principal.subject,
        name=principal.name,
        role=roles[0].value if roles else "",
        unit_code=principal.unit_code,
    )


def to_app_error(exc: Exception) -> AppError:
    """Model errors → the HTTP error renderer's typed errors."""
    if isinstance(exc, lc.InvalidTransition | lc.AlreadyDone):
        return Conflict(exc.message, code=exc.code, details=exc.details)
    if isinstance(exc, lc.LifecycleError):
        return Invalid(exc.message, code=exc.code, details=exc.details)
    if isinstance(exc, RoutingError | ReceptionError):
        return Invalid(exc.message, code=exc.code)
    if isinstance(exc, CalendarRangeError):
        return Invalid(str(exc), code="calendar_out_of_range")
    raise exc


Step = Callable[[Dossier, lc.Ctx], lc.Outcome]

# The actions that finish a dossier (stamp `finished_at` and `timeliness`): kit.metrics'
# `motcua_dossiers_finished_total` counts them.
FINISHING = frozenset({lc.Action.RESOLVE, lc.Action.REFUSE})
# Reads and writes of one officer action while consumers keep changing the dossier (act).
ACT_ATTEMPTS = 5


class ProcessingService:
    def __init__(self, intake: IntakeService, dossiers: DossierRepository) -> None:
        self.intake = intake
        self.dossiers = dossiers

    # ---- plumbing ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.intake.clock.now()

    def calendar(self, d: Dossier) -> WorkingCalendar:
        ref = self.intake.reference
        try:
            return ref.calendar(ref.office(d.office_id))
        except ReceptionError:
            return WorkingCalendar()

    def lookup_url(self, d: Dossier) -> str | None:
        return self.intake.lookup_url(d.code) if d.code else None

    async def load(
        self, dossier_id: str, principal: Principal | None = None, *, for_update: bool = False
    ) -> tuple[Dossier, int]:
        doc = await self.dossiers.get(dossier_id)
        if doc is None:
            raise NotFound(f"Dossier {dossier_id} not found", code="dossier_not_found")
        d = Dossier.from_document(doc)
        if principal is not None:
            ensure_unit(principal, d.access_path())
        if for_update and doc.get("replica_of"):
            raise Conflict(
                f"This is a read-only copy of a dossier of {doc['replica_of']}: act on it at that office",
                code="read_only_replica",
            )
        return d, int(doc["version"])

    async def commit(self, d: Dossier, version: int, outcome: lc.Outcome) -> Dossier | None:
        """Write the outcome at `version`; None when the dossier changed since it was read."""
        events = events_for(d, outcome, self.calendar(d), self.lookup_url(d))
        d.version = version + 1
        if not await self.dossiers.replace_with_events(d.to_document(), version, events):
            return None
        self.intake.on_commit()
        if outcome.action in FINISHING:  # committed: once per dossier (the machine refuses a second finish)
            dossier_finished(d.unit_code, d.timeliness)
        log.info("dossier %s: %s → %s", d.code, outcome.action, d.status.value)
        return d

    async def act(
        self,
        dossier_id: str,
        principal: Principal,
        step: Step,
        *,
        note: str = "",
        roles: Iterable[Role] = (),
    ) -> Dossier:
        """Read, decide, write. The officer acted on the dossier, not on a version of it: when a
        consumer (a payment, a document, a shipment) changed it between the read and the write,
        the action is decided again on what is there now, and refused only if it no longer fits."""
        for attempt in range(ACT_ATTEMPTS):
            d, version = await self.load(dossier_id, principal, for_update=True)
            ctx = lc.Ctx(
                actor=actor_of(principal, roles), now=self.now(), calendar=self.calendar(d), note=note.strip()
            )
            try:
                outcome = step(d, ctx)
            except (lc.LifecycleError, RoutingError, ReceptionError, CalendarRangeError) as exc:
                raise to_app_error(exc) from exc
            done = await self.commit(d, version, outcome)
            if done is not None:
                return done
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise Conflict("The dossier was changed by someone else; reload it and try again", code="concurrent_update")

    # ---- routing ----------------------------------------------------------------------------
    def competent_body(self, d: Dossier, unit_code: str | None) -> Handling:
        ref = self.intake.reference
        procedure = ref.procedure(d.procedure_code)
        try:
            if unit_code is None:
                return d.handling or route_to_competent_body(procedure, ref.office(d.office_id), ref.tree)
            if d.handling is not None and unit_code == d.handling.unit_code:
                return d.handling
            target = handling_for_unit(procedure, ref.tree, unit_code)
        except RoutingError as exc:
            raise to_app_error(exc) from exc
        if ref.province_code(d.unit_code) not in target.unit_path:
            raise Invalid("The competent body must be in the dossier's province", code="outside_province")
        return target

    async def transfer(self, dossier_id: str, principal: Principal, unit_code: str | None, note: str) -> Dossier:
        d, _ = await self.load(dossier_id, principal)
        target = self.competent_body(d, unit_code)
        return await self.act(dossier_id, principal, lambda d, c: lc.transfer(d, c, target), note=note)

    async def forward(self, dossier_id: str, principal: Principal, unit_code: str, reason: str) -> Dossier:
        d, _ = await self.load(dossier_id, principal)
        target = self.competent_body(d, unit_code)
        return await self.act(dossier_id, principal, lambda d, c: lc.forward(d, c, target, reason))

    # ---- processing -------------------------------------------------------------------------
    async def start_processing(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        def step(d: Dossier, c: lc.Ctx) -> lc.Outcome:
            route = self.intake.reference.procedure(d.procedure_code).route
            return lc.start_processing(d, c, route)

        return await self.act(dossier_id, principal, step, note=note)

    async def request_supplement(
        self, dossier_id: str, principal: Principal, missing: list[MissingRecord], note: str
    ) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.request_supplement(d, c, missing), note=note)

    async def complete_supplement(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lc.complete_supplement, note=note)

    async def complete_step(self, dossier_id: str, principal: Principal, index: int, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.complete_step(d, c, index), note=note)

    async def request_payment(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lc.request_payment, note=note)

    async def payment_received(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.payment_received(d, c), note=note)

    async def suspend(self, dossier_id: str, principal: Principal, reason: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.suspend(d, c, reason))

    async def resume(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lc.resume, note=note)

    async def resolve(self, dossier_id: str, principal: Principal, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lc.resolve, note=note)

    async def refuse(self, dossier_id: str, principal: Principal, reason: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.refuse(d, c, reason))

    async def apologise(
        self,
        dossier_id: str,
        principal: Principal,
        reason: str,
        new_due_at: datetime | None,
        new_due_on: date | None,
    ) -> Dossier:
        def step(d: Dossier, c: lc.Ctx) -> lc.Outcome:
            if new_due_at is not None:
                if new_due_at.tzinfo is None:
                    raise lc.RuleViolation("naive_datetime", "new_due_at needs a timezone, e.g. +07:00")
                moment = new_due_at
            elif new_due_on is not None:
                moment = c.calendar.end_of_day(new_due_on)
            else:
                raise lc.RuleViolation("new_date_required", "Give the new appointment (new_due_on or new_due_at)")
            return lc.apologise(d, c, reason, moment)

        return await self.act(dossier_id, principal, step)

    async def result_ready(
        self, dossier_id: str, principal: Principal, pickup_place: str, pager_number: str | None, note: str
    ) -> Dossier:
        return await self.act(
            dossier_id,
            principal,
            lambda d, c: lc.mark_result_ready(d, c, pickup_place, pager_number),
            note=note,
        )

    async def return_result(self, dossier_id: str, principal: Principal, via: str, note: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.return_result(d, c, via), note=note)

    async def withdraw(self, dossier_id: str, principal: Principal, reason: str) -> Dossier:
        return await self.act(dossier_id, principal, lambda d, c: lc.withdraw(d, c, reason))

    # ---- reads ------------------------------------------------------------------------------
    async def timeline(self, dossier_id: str, principal: Principal) -> dict[str, Any]:
        d, _ = await self.load(dossier_id, principal)
        return timeline_view(d, self.calendar(d), self.now())

    async def inbox(
        self,
        principal: Principal,
        *,
        status: list[str] | None = None,
        late: bool | None = None,
        handled_here: bool = False,
        limit: int = 50,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """Dossiers the caller's unit received or handles (or, for a province, any below it)."""
        unit = principal.unit_code
        scopes: list[dict[str, Any]] = [{"handling.unit_path": unit}]
        if not handled_here:
            scopes.append({"unit_path": unit})

        def keep(doc: dict[str, Any]) -> bool:
            """The filters, checked while reading: with a scope they were collection scans."""
            if status and doc.get("status") not in status:
                return False
            return late is None or (doc.get("late") is True) == late

        filtered = bool(status) or late is not None
        docs = await self.dossiers.list_any(scopes, keep=keep if filtered else None, limit=limit, skip=skip)
        now = self.now()
        out = []
        for doc in docs:
            d = Dossier.from_document(doc)
            out.append(
                {
                    "id": d.id,
                    "code": d.code,
                    "reference": d.reference,
                    "status": d.status.value,
                    "status_label": STATUS_LABELS_VI[d.status],
                    "procedure_code": d.procedure_code,
                    "procedure_name": d.procedure_name,
                    "applicant_name": d.applicant.name,
                    "office_id": d.office_id,
                    "handling_unit": d.handling.unit_code if d.handling else None,
                    "holders": lc.holders(d),
                    "received_at": d.received_at,
                    "due_at": d.due_at,
                    "late": d.late or lc.is_late(d, now),
                    "late_steps": [s.body for s in lc.late_steps(d, now)],
                }
            )
        return out

    # ---- automatic late flag ----------------------------------------------------------------
    async def flag_late(self) -> int:
        """Flag every dossier past its legal due moment (and each late step) once; emit events.

        Restart-safe and safe with several instances: the flag and its event are written in one
        transaction guarded by the dossier's version, so a dossier is flagged exactly once.
        """
        now = self.now()
        flagged = 0
        for doc in await self.dossiers.late_candidates(now):
            flagged += await self._flag_one(doc, now)
        if flagged:
            self.intake.on_commit()
            log.info("flagged %d late dossier(s)/step(s)", flagged)
        return flagged

    async def _flag_one(self, doc: dict[str, Any] | None, now: datetime, attempts: int = 5) -> int:
        """Flag one candidate; 1 when flagged. Someone else's change between the read and the
        write (a payment event, an officer's action) is no reason to wait for the next scan:
        read the dossier again and decide again."""
        for _ in range(attempts):
            if doc is None:
                return 0
            d = Dossier.from_document(doc)
            outcome = lc.flag_late(d, now)
            if outcome is None:
                return 0
            events = events_for(d, outcome, self.calendar(d), self.lookup_url(d))
            version = int(doc["version"])
            d.version = version + 1
            if await self.dossiers.replace_with_events(d.to_document(), version, events):
                return 1
            doc = await self.dossiers.get(d.id)
        log.warning("late flag of %s lost %d races in a row: left for the next scan", doc and doc["_id"], attempts)
        return 0

    async def refresh_late_gauge(self) -> None:
        """Scrape hook: `motcua_dossiers_late{unit_code}` — open dossiers flagged late, per unit."""
        set_gauge(DOSSIERS_LATE, await self.dossiers.late_open_by_unit())


def timeline_view(d: Dossier, calendar: WorkingCalendar, now: datetime) -> dict[str, Any]:
    """The process control view (form 05 on screen): who holds it, what is late, every step."""
    late_steps = lc.late_steps(d, now)
    try:
        latest_apology = lc.latest_apology_moment(d, calendar) if d.apology is None and d.due_at else None
        supplement_until = lc.supplement_window_end(d, calendar) if not d.supplements else None
        timeliness = lc.timeliness_today(d, calendar, now).value
    except CalendarRangeError:
        latest_apology = supplement_until = None
        timeliness = "pending"
    return {
        "id": d.id,
        "code": d.code,
        "status": d.status.value,
        "status_label": STATUS_LABELS_VI[d.status],
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "holders": lc.holders(d),
        "handling": d.handling.model_dump(mode="json") if d.handling else None,
        "received_at": d.received_at,
        "due_at": d.due_at,
        "statutory_due_at": d.statutory_due_at,
        "clock_start": d.clock_start,
        "late": d.late or lc.is_late(d, now),
        "late_since": d.late_since,
        "timeliness": d.timeliness or timeliness,
        "route_mode": d.route_mode,
        "lead_body": d.lead_body,
        "steps": [
            {
                **s.model_dump(mode="json"),
                "late": s in late_steps or bool(s.completed_at and s.due_at and s.completed_at > s.due_at),
            }
            for s in d.steps
        ],
        "late_steps": [{"index": s.index, "body": s.body, "due_at": s.due_at} for s in late_steps],
        "pauses": [p.model_dump(mode="json") for p in d.pauses],
        "routing": [r.model_dump(mode="json") for r in d.routing],
        "supplements": [s.model_dump(mode="json") for s in d.supplements],
        "apology": d.apology.model_dump(mode="json") if d.apology else None,
        "latest_apology_at": latest_apology,
        "supplement_request_until": supplement_until,
        "result": d.result.model_dump(mode="json") if d.result else None,
        "returned": d.returned.model_dump(mode="json") if d.returned else None,
        "payment": d.payment.model_dump(mode="json") if d.payment else None,
        "shipment": d.shipment.model_dump(mode="json") if d.shipment else None,
        "shipments": [s.model_dump(mode="json") for s in d.shipments],
        "history": [{**h.model_dump(mode="json"), "to_label": STATUS_LABELS_VI[h.to_status]} for h in d.history],
        "allowed_actions": [a.value for a in lc.allowed_actions(d.status)],
    }
