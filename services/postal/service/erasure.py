"""Erasure of an applicant's data from postal's records of one dossier (`dossier.anonymised`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.contracts.events import DossierAnonymised, DossierErased
from services.contracts.postal import POSTAL_DOSSIER_ANONYMISED
from services.postal.model.counter import CounterReception
from services.postal.model.delivery import Delivery
from services.postal.model.erasure import erase_counter_reception, erase_delivery, erase_handover_items, erase_pickup
from services.postal.model.handover import HandoverRecord
from services.postal.model.pickup import PickupOrder
from services.postal.repository import COUNTER, DELIVERIES, HANDOVERS, PICKUPS, Tx
from services.postal.service.base import ServiceBase, log


@dataclass(frozen=True)
class Erased:
    """How many records of each kind lost the applicant's data (0 everywhere for a repeat)."""

    pickups: int = 0
    counter_receptions: int = 0
    deliveries: int = 0
    handovers: int = 0

    @property
    def total(self) -> int:
        return self.pickups + self.counter_receptions + self.deliveries + self.handovers


class ErasureUseCases(ServiceBase):
    async def on_dossier_anonymised(self, event: DossierAnonymised) -> Erased:
        """Erase names, contacts and street addresses from the dossier's pickups, counter
        receptions, deliveries and hand-over lines, in one transaction, once per event."""
        dossier_id = event.payload.dossier_id
        query = {"dossier_id": dossier_id}
        now = self.clock()

        async def work(tx: Tx) -> Erased:
            if not await tx.mark(POSTAL_DOSSIER_ANONYMISED.durable, event.event_id):
                return Erased()
            pickups = [p for p in await tx.find(PickupOrder, PICKUPS, query) if erase_pickup(p, now)]
            receptions = [r for r in await tx.find(CounterReception, COUNTER, query) if erase_counter_reception(r, now)]
            deliveries = [d for d in await tx.find(Delivery, DELIVERIES, query) if erase_delivery(d, now)]
            handover_ids = sorted({p.handover_id for p in pickups if p.handover_id}
                                  | {d.handover_id for d in deliveries if d.handover_id})
            handovers = [
                h
                for h in await tx.find(HandoverRecord, HANDOVERS, {"_id": {"$in": handover_ids}})
                if erase_handover_items(h, dossier_id)
            ] if handover_ids else []
            for collection, records in ((PICKUPS, pickups), (COUNTER, receptions), (DELIVERIES, deliveries),
                                        (HANDOVERS, handovers)):
                for record in records:
                    await tx.save(collection, record)
            erased = Erased(len(pickups), len(receptions), len(deliveries), len(handovers))
            tx.emit(DossierErased.for_service("postal", event, erased.total))
            return erased

        erased = await self.repo.run(work)
        self.wake()
        log.info("dossier %s anonymised: %s", event.payload.dossier_code or dossier_id, erased)
        return erased
