"""Hand-over records: list collected slips for an office, both sides count and sign; the second
signature submits every listed dossier (`postal.handover_signed` + `shipment.handed_over`,
all in the same transaction as the record and the pickups)."""

from __future__ import annotations

from typing import Any

from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import Conflict, Forbidden, Invalid
from services.postal.model.common import PostalError
from services.postal.model.handover import HandoverItem, HandoverRecord, HandoverStatus, Side
from services.postal.model.pickup import PickupOrder
from services.postal.repository import HANDOVERS, PICKUPS, Tx
from services.postal.service import events as ev
from services.postal.service.base import VN_TZ, ServiceBase, actor_of, domain_error, log, new_id


def side_for(principal: Principal, requested: Side | None) -> Side:
    """Which side the caller signs for: postal agents for the post, one-stop officers for the office."""
    allowed = set()
    if Role.POSTAL_AGENT in principal.roles:
        allowed.add(Side.POSTAL)
    if Role.RECEPTION_OFFICER in principal.roles:
        allowed.add(Side.OFFICE)
    if requested is not None:
        if requested not in allowed:
            raise Forbidden(f"Your roles do not let you sign for the {requested.value} side", code="wrong_side")
        return requested
    if len(allowed) != 1:
        raise Invalid("Say which side you sign for (side=postal|office)", code="side_required")
    return next(iter(allowed))


class HandoverUseCases(ServiceBase):
    async def create_handover(self, principal: Principal, office_id: str, pickup_ids: list[str]) -> HandoverRecord:
        by = actor_of(principal, Role.POSTAL_AGENT)
        if len(set(pickup_ids)) != len(pickup_ids):
            raise Invalid("A pickup is listed twice", code="duplicate_slip")

        async def work(tx: Tx) -> HandoverRecord:
            now = self.clock()
            pickups = await tx.find(PickupOrder, PICKUPS, {"_id": {"$in": pickup_ids}})
            found = {p.id: p for p in pickups}
            missing = [i for i in pickup_ids if i not in found]
            if missing:
                raise self.not_found("pickup", ", ".join(missing))
            ordered = [found[i] for i in pickup_ids]
            for pickup in ordered:
                ensure_unit(principal, pickup.unit_path)
                if pickup.office_id != office_id:
                    raise Conflict(f"Pickup {pickup.ref} goes to office {pickup.office_id}", code="other_office")
            first = ordered[0] if ordered else None
            unit_path = first.unit_path if first else [principal.unit_code]
            day = now.astimezone(VN_TZ)
            seq = await tx.next_number(f"handover:{unit_path[0]}:{day:%Y%m%d}")
            record_id = new_id()
            number = f"BBGN-{unit_path[0]}-{day:%y%m%d}-{seq:03d}"
            items = [
                HandoverItem(
                    pickup_id=p.id,
                    slip_number=p.tracking_number or "",
                    dossier_id=p.dossier_id,
                    procedure_code=p.procedure_code,
                    procedure_name=p.procedure_name,
                    applicant_name=p.applicant.full_name,
                    papers=sum(c.count for c in p.components),
                )
                for p in ordered
            ]
            try:
                record = HandoverRecord.draft(
                    id=record_id,
                    number=number,
                    office_id=office_id,
                    office_name=first.office_name if first else "",
                    unit_path=unit_path,
                    items=items,
                    by=by,
                    now=now,
                )
                for pickup in ordered:
                    pickup.put_on_record(record_id, number)
            except PostalError as exc:
                raise domain_error(exc) from exc
            for pickup in ordered:
                pickup.updated_at = now
                await tx.save(PICKUPS, pickup)
            await tx.insert(HANDOVERS, record)
            return record

        record = await self.repo.run(work)
        log.info("hand-over record %s drafted with %d slips", record.number, len(record.items))
        return record

    async def get_handover(self, principal: Principal, record_id: str) -> HandoverRecord:
        record = await self.repo.get(HandoverRecord, HANDOVERS, {"_id": record_id})
        if record is None:
            raise self.not_found("handover", record_id)
        ensure_unit(principal, record.unit_path)
        return record

    async def list_handovers(
        self, principal: Principal, *, status: str | None, office_id: str | None, limit: int, skip: int
    ) -> list[HandoverRecord]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["status"] = status
        if office_id:
            query["office_id"] = office_id
        return await self.repo.find(HandoverRecord, HANDOVERS, query, limit=limit, skip=skip)

    async def sign_handover(
        self, principal: Principal, record_id: str, *, counted: int, side: Side | None
    ) -> HandoverRecord:
        chosen = side_for(principal, side)
        by = actor_of(principal, Role.POSTAL_AGENT if chosen is Side.POSTAL else Role.RECEPTION_OFFICER)

        async def work(tx: Tx) -> HandoverRecord:
            record = await tx.get(HandoverRecord, HANDOVERS, {"_id": record_id})
            if record is None:
                raise self.not_found("handover", record_id)
            ensure_unit(principal, record.unit_path)
            now = self.clock()
            try:
                complete = record.sign(chosen, by=by, counted=counted, now=now)
            except PostalError as exc:
                raise domain_error(exc) from exc
            if complete:
                assert record.signed_at is not None
                pickups = await tx.find(PickupOrder, PICKUPS, {"_id": {"$in": [i.pickup_id for i in record.items]}})
                by_id = {p.id: p for p in pickups}
                for item in record.items:
                    pickup = by_id[item.pickup_id]
                    previous = pickup.shipment_status
                    try:
                        pickup.handed_over(handover_id=record.id, at=record.signed_at)
                    except PostalError as exc:
                        raise domain_error(exc) from exc
                    await tx.save(PICKUPS, pickup)
                    tx.emit(ev.handover_signed(pickup, record))
                    tx.emit(ev.pickup_shipment(pickup, pickup.shipment_status, previous))
            await tx.save(HANDOVERS, record)
            return record

        record = await self.repo.run(work)
        self.wake()
        if record.status is HandoverStatus.SIGNED:
            log.info(
                "hand-over record %s signed by both sides: %d dossiers submitted", record.number, len(record.items)
            )
        return record

    async def remove_from_handover(self, principal: Principal, record_id: str, pickup_id: str) -> HandoverRecord:
        by = actor_of(principal)

        async def work(tx: Tx) -> HandoverRecord:
            record = await tx.get(HandoverRecord, HANDOVERS, {"_id": record_id})
            if record is None:
                raise self.not_found("handover", record_id)
            ensure_unit(principal, record.unit_path)
            now = self.clock()
            try:
                record.remove(pickup_id, by=by, now=now)
            except PostalError as exc:
                raise domain_error(exc) from exc
            pickup = await tx.get(PickupOrder, PICKUPS, {"_id": pickup_id})
            if pickup is not None:
                pickup.take_off_record(record.id, now)
                await tx.save(PICKUPS, pickup)
            await tx.save(HANDOVERS, record)
            return record

        return await self.repo.run(work)

    async def cancel_handover(self, principal: Principal, record_id: str, reason: str) -> HandoverRecord:
        by = actor_of(principal)

        async def work(tx: Tx) -> HandoverRecord:
            record = await tx.get(HandoverRecord, HANDOVERS, {"_id": record_id})
            if record is None:
                raise self.not_found("handover", record_id)
            ensure_unit(principal, record.unit_path)
            now = self.clock()
            try:
                record.cancel(reason, by=by, now=now)
            except PostalError as exc:
                raise domain_error(exc) from exc
            for pickup in await tx.find(PickupOrder, PICKUPS, {"handover_id": record.id}):
                pickup.take_off_record(record.id, now)
                await tx.save(PICKUPS, pickup)
            await tx.save(HANDOVERS, record)
            return record

        return await self.repo.run(work)
