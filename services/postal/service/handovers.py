"""Hand-over records. Post → office (`dossiers`): list collected slips for an office, both sides
count and sign; the second signature submits every listed dossier (`postal.handover_signed` +
`shipment.handed_over`). Office → post (`results`): the officer lists the results going home
by post; the second signature hands them to the post (`shipment.picked_up`). Each in the same
transaction as the record and its pickups or deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import AppError, Conflict, Forbidden, Invalid
from services.postal.model.common import PostalError
from services.postal.model.delivery import Delivery
from services.postal.model.handover import HandoverItem, HandoverKind, HandoverRecord, HandoverStatus, Side
from services.postal.model.pickup import PickupOrder
from services.postal.repository import DELIVERIES, HANDOVERS, PICKUPS, Tx
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


Listed = TypeVar("Listed", PickupOrder, Delivery)


class HandoverUseCases(ServiceBase):
    async def _listed(self, tx: Tx, cls: type[Listed], collection: str, ids: list[str], what: str) -> list[Listed]:
        """The records a hand-over lists, in the order given; 404 naming any that do not exist."""
        found = {r.id: r for r in await tx.find(cls, collection, {"_id": {"$in": ids}})}
        missing = [i for i in ids if i not in found]
        if missing:
            raise self.not_found(what, ", ".join(missing))
        return [found[i] for i in ids]

    async def create_handover(self, principal: Principal, office_id: str, pickup_ids: list[str]) -> HandoverRecord:
        by = actor_of(principal, Role.POSTAL_AGENT)
        if len(set(pickup_ids)) != len(pickup_ids):
            raise Invalid("A pickup is listed twice", code="duplicate_slip")

        async def work(tx: Tx) -> HandoverRecord:
            now = self.clock()
            ordered = await self._listed(tx, PickupOrder, PICKUPS, pickup_ids, "pickup")
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

    async def create_result_handover(
        self, principal: Principal, office_id: str, delivery_ids: list[str]
    ) -> HandoverRecord:
        """The one-stop officer lists the results the postal worker takes away (a draft record)."""
        by = actor_of(principal, Role.RECEPTION_OFFICER)
        if len(set(delivery_ids)) != len(delivery_ids):
            raise Invalid("A delivery is listed twice", code="duplicate_slip")
        try:
            office_name = (await self.place_of(office_id)).office_name
        except AppError:  # the name is for the paper only: the deliveries say which office they are from
            office_name = ""

        async def work(tx: Tx) -> HandoverRecord:
            now = self.clock()
            ordered = await self._listed(tx, Delivery, DELIVERIES, delivery_ids, "delivery")
            for delivery in ordered:
                ensure_unit(principal, delivery.unit_path)
                if delivery.office_id != office_id:
                    raise Conflict(
                        f"The result of {delivery.dossier_code} belongs to office {delivery.office_id}",
                        code="other_office",
                    )
            unit_path = ordered[0].unit_path
            day = now.astimezone(VN_TZ)
            seq = await tx.next_number(f"handover-results:{unit_path[0]}:{day:%Y%m%d}")
            record_id = new_id()
            number = f"BBGN-KQ-{unit_path[0]}-{day:%y%m%d}-{seq:03d}"
            items = [
                HandoverItem(
                    delivery_id=d.id,
                    slip_number=d.tracking_number or "",
                    dossier_id=d.dossier_id,
                    dossier_code=d.dossier_code,
                    procedure_code=d.procedure_code,
                    procedure_name=d.procedure_name,
                    applicant_name=d.contact.name if d.contact else d.recipient.name,
                    address=d.address.line() if d.address else "",
                )
                for d in ordered
            ]
            try:
                for delivery in ordered:
                    delivery.put_on_record(record_id, number)
                record = HandoverRecord.draft(
                    id=record_id,
                    number=number,
                    office_id=office_id,
                    office_name=office_name,
                    unit_path=unit_path,
                    items=items,
                    by=by,
                    now=now,
                    kind=HandoverKind.RESULTS,
                )
            except PostalError as exc:
                raise domain_error(exc) from exc
            for delivery in ordered:
                delivery.updated_at = now
                await tx.save(DELIVERIES, delivery)
            await tx.insert(HANDOVERS, record)
            return record

        record = await self.repo.run(work)
        log.info("results hand-over record %s drafted with %d items", record.number, len(record.items))
        return record

    async def get_handover(self, principal: Principal, record_id: str) -> HandoverRecord:
        record = await self.repo.get(HandoverRecord, HANDOVERS, {"_id": record_id})
        if record is None:
            raise self.not_found("handover", record_id)
        ensure_unit(principal, record.unit_path)
        return record

    async def list_handovers(
        self,
        principal: Principal,
        *,
        status: str | None,
        office_id: str | None,
        limit: int,
        skip: int,
        kind: str | None = None,
    ) -> list[HandoverRecord]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["status"] = status
        if kind == HandoverKind.DOSSIERS.value:
            query["kind"] = {"$in": [kind, None]}  # records made before results records existed
        elif kind:
            query["kind"] = kind
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
            if complete and record.kind is HandoverKind.RESULTS:
                await self._results_handed_over(tx, record)
            elif complete:
                assert record.signed_at is not None
                pickups = await tx.find(PickupOrder, PICKUPS, {"_id": {"$in": [i.pickup_id for i in record.items]}})
                by_id = {p.id: p for p in pickups}
                for item in record.items:
                    assert item.pickup_id is not None
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
                "hand-over record %s signed by both sides: %d %s handed over",
                record.number,
                len(record.items),
                record.kind.value,
            )
        return record

    async def _results_handed_over(self, tx: Tx, record: HandoverRecord) -> None:
        """The post holds every listed result from the signature: each delivery is picked up."""
        assert record.signed_at is not None
        ids = [i.delivery_id for i in record.items]
        deliveries = {d.id: d for d in await tx.find(Delivery, DELIVERIES, {"_id": {"$in": ids}})}
        for item in record.items:
            assert item.delivery_id is not None
            delivery = deliveries[item.delivery_id]
            previous = delivery.shipment_status
            try:
                moved = delivery.handed_to_post(record_id=record.id, at=record.signed_at)
            except PostalError as exc:
                raise domain_error(exc) from exc
            await tx.save(DELIVERIES, delivery)
            if moved:
                tx.emit(ev.delivery_shipment(delivery, delivery.shipment_status, previous))

    async def remove_from_handover(self, principal: Principal, record_id: str, item_id: str) -> HandoverRecord:
        by = actor_of(principal)

        async def work(tx: Tx) -> HandoverRecord:
            record = await tx.get(HandoverRecord, HANDOVERS, {"_id": record_id})
            if record is None:
                raise self.not_found("handover", record_id)
            ensure_unit(principal, record.unit_path)
            now = self.clock()
            try:
                record.remove(item_id, by=by, now=now)
            except PostalError as exc:
                raise domain_error(exc) from exc
            await self._free(tx, record, {"_id": item_id}, now)
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
            # by the items' ids (indexed) rather than by `handover_id`, which no index leads
            on_record = [item.item_id for item in record.items if item.item_id]
            await self._free(tx, record, {"_id": {"$in": on_record}, "handover_id": record.id}, now)
            await tx.save(HANDOVERS, record)
            return record

        return await self.repo.run(work)

    @staticmethod
    async def _free(tx: Tx, record: HandoverRecord, query: dict[str, Any], now: datetime) -> None:
        """Take pickups or deliveries off a record (removed item, cancelled record)."""
        if record.kind is HandoverKind.RESULTS:
            for delivery in await tx.find(Delivery, DELIVERIES, query):
                delivery.take_off_record(record.id, now)
                await tx.save(DELIVERIES, delivery)
            return
        for pickup in await tx.find(PickupOrder, PICKUPS, query):
            pickup.take_off_record(record.id, now)
            await tx.save(PICKUPS, pickup)
