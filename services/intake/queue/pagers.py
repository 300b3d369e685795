"""Vibrating pagers (thẻ rung) at the counter: bind to a dossier, call, release.

On a No-appointment day the officer hands the citizen a pager for the dossier being processed
on the spot (seed 004). Its label is the number the citizen waits for: the ticket's, else the
dossier code's daily sequence. "Call" publishes `queue.pager_called` through intake's outbox;
notify buzzes the pager through the office's gateway and shows the call on the board. When
the result is marked ready, notify buzzes the bound pager by itself (it learnt the binding
from `queue.pager_bound`), so the officer need not retype the number.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.contracts.queue import (
    PagerBound,
    PagerBoundPayload,
    PagerCalled,
    PagerCalledPayload,
    PagerReleased,
    PagerReleasedPayload,
)
from services.intake.queue import model as m
from services.intake.queue.model import InvalidState
from services.intake.queue.repository import QueueTx, pager_key
from services.intake.queue.service import QueueService
from services.intake.queue.views import pager_view
from services.kit.auth import Principal
from services.kit.errors import NotFound


class PagerDesk:
    def __init__(self, queue: QueueService) -> None:
        self.q = queue

    async def bind_pager(
        self,
        office_id: str,
        principal: Principal,
        pager_number: str,
        dossier_id: str,
        *,
        ticket_id: str | None = None,
        dossier_code: str | None = None,
    ) -> dict[str, Any]:
        """Hand a pager to the citizen for a dossier (No-appointment day: the result comes back within hours)."""
        office = self.q.office(office_id)
        self.q.authorize(principal, office)
        dossier = await self.q.dossier(dossier_id, office)
        code = (dossier or {}).get("code") or dossier_code
        now = self.q.clock()

        async def work(tx: QueueTx) -> dict[str, Any]:
            existing = await tx.pager(office.id, pager_number)
            if existing and existing.get("status") == "bound":
                if existing.get("dossier_id") == dossier_id:
                    return existing
                raise InvalidState(
                    "pager_in_use",
                    f"Pager {pager_number} is bound to another dossier: release it first",
                    details={"dossier_id": existing.get("dossier_id")},
                )
            ticket = await tx.ticket(ticket_id) if ticket_id else await tx.ticket_of_dossier(dossier_id)
            if ticket_id and (ticket is None or ticket.office_id != office.id):
                raise NotFound(f"No ticket {ticket_id} at this office", code="unknown_ticket")
            label = m.pager_label(ticket.number if ticket else None, code, pager_number)
            doc = {
                "_id": pager_key(office.id, pager_number),
                "office_id": office.id,
                "pager_number": pager_number,
                "status": "bound",
                "dossier_id": dossier_id,
                "dossier_code": code,
                "ticket_id": ticket.id if ticket else None,
                "label": label,
                "bound_at": now,
                "bound_by": principal.subject,
                "calls": 0,
                "last_called_at": None,
                "unit_code": office.unit_code,
                "unit_path": self.q.unit_path(office),
            }
            await tx.save_pager(doc)
            tx.emit(
                PagerBound(
                    unit_code=office.unit_code,
                    unit_path=doc["unit_path"],
                    payload=PagerBoundPayload(
                        office_id=office.id,
                        pager_number=pager_number,
                        label=label,
                        dossier_id=dossier_id,
                        dossier_code=code,
                        ticket_id=doc["ticket_id"],
                        bound_at=now,
                    ),
                )
            )
            return doc

        doc: dict[str, Any] = await self.q.commit(work)
        return pager_view(doc)

    async def call_pager(
        self, office_id: str, principal: Principal, pager_number: str, counter_number: int | None = None
    ) -> dict[str, Any]:
        """The officer presses the pager's number: `queue.pager_called` → notify buzzes it."""
        office = self.q.office(office_id)
        self.q.authorize(principal, office)
        now = self.q.clock()

        async def work(tx: QueueTx) -> dict[str, Any]:
            doc = await tx.pager(office.id, pager_number)
            if doc is None or doc.get("status") != "bound":
                raise InvalidState("pager_not_bound", f"Pager {pager_number} is not bound to a dossier")
            call_id = uuid.uuid4().hex
            doc["calls"] = int(doc.get("calls") or 0) + 1
            doc["last_called_at"] = now
            doc["last_call_id"] = call_id
            await tx.save_pager(doc)
            tx.emit(
                PagerCalled(
                    unit_code=doc["unit_code"],
                    unit_path=doc["unit_path"],
                    payload=PagerCalledPayload(
                        office_id=office.id,
                        pager_number=pager_number,
                        label=doc["label"],
                        dossier_id=doc.get("dossier_id"),
                        dossier_code=doc.get("dossier_code"),
                        ticket_id=doc.get("ticket_id"),
                        call_id=call_id,
                        reason="officer_call",
                        counter_number=counter_number,
                        called_at=now,
                    ),
                )
            )
            return doc

        doc: dict[str, Any] = await self.q.commit(work)
        return pager_view(doc)

    async def release_pager(self, office_id: str, principal: Principal, pager_number: str) -> dict[str, Any]:
        """The pager came back (result handed over): free for the next citizen."""
        office = self.q.office(office_id)
        self.q.authorize(principal, office)
        now = self.q.clock()

        async def work(tx: QueueTx) -> dict[str, Any]:
            doc = await tx.pager(office.id, pager_number)
            if doc is None or doc.get("status") != "bound":
                raise InvalidState("pager_not_bound", f"Pager {pager_number} is not bound")
            payload = PagerReleasedPayload(
                office_id=office.id,
                pager_number=pager_number,
                label=doc["label"],
                dossier_id=doc.get("dossier_id"),
                dossier_code=doc.get("dossier_code"),
                ticket_id=doc.get("ticket_id"),
                released_at=now,
            )
            doc.update(status="released", released_at=now)
            await tx.save_pager(doc)
            tx.emit(PagerReleased(unit_code=doc["unit_code"], unit_path=doc["unit_path"], payload=payload))
            return doc

        doc: dict[str, Any] = await self.q.commit(work)
        return pager_view(doc)

    async def pagers(self, office_id: str, principal: Principal) -> list[dict[str, Any]]:
        office = self.q.office(office_id)
        self.q.authorize(principal, office)
        return [pager_view(d) for d in await self.q.repo.pagers(office.id)]
