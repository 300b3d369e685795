"""Result deliveries: opened from `dossier.result_ready`, placed with the operator, moved by
its webhooks (webhooks.py), re-delivered or returned after failures. Calls to the operator
are made outside transactions: the delivery records what is owed (`next_action`) and the
sweeper retries until the operator accepted it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from services.contracts.events import DossierResultReady
from services.contracts.postal import POSTAL_RESULT_READY
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import AppError
from services.postal.adapters.base import (
    OperatorRejected,
    OperatorUnavailable,
    OrderRequest,
    Party,
)
from services.postal.model.common import Actor, Address, Contact, PostalError
from services.postal.model.counter import CounterReception, CounterStatus
from services.postal.model.delivery import Delivery, NextAction, Recipient
from services.postal.model.pickup import PickupOrder, PickupStatus
from services.postal.model.status import ShipmentStatus, is_terminal
from services.postal.model.tariff import same_province
from services.postal.repository import COUNTER, DELIVERIES, PICKUPS, Tx
from services.postal.service import events as ev
from services.postal.service.base import ServiceBase, actor_of, domain_error, new_id

log = logging.getLogger("motcua.postal.deliveries")


class DeliveryUseCases(ServiceBase):
    def spawn(self, coro: Any) -> None:
        """Run an operator call in the background (the sweeper covers a crash meanwhile)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _lock(self, key: str) -> asyncio.Lock:
        """One operator call at a time per delivery in this process."""
        return self._locks.setdefault(key, asyncio.Lock())

    # ---- opening a delivery ------------------------------------------------------------------
    async def on_result_ready(self, event: DossierResultReady) -> Delivery | None:
        """Open the delivery of a result going back by post (once per event and per dossier)."""
        p = event.payload
        if p.return_channel != "postal":
            return None

        async def work(tx: Tx) -> Delivery | None:
            if not await tx.mark(POSTAL_RESULT_READY.durable, event.event_id):
                return None
            open_ones = await tx.find(Delivery, DELIVERIES, {"dossier_id": p.dossier_id})
            if any(
                not is_terminal(d.shipment_status) or d.shipment_status is ShipmentStatus.DELIVERED for d in open_ones
            ):
                log.info("dossier %s already has a delivery; result_ready %s ignored", p.dossier_code, event.event_id)
                return None
            address, contact, source_id, prepaid = await self._return_address(tx, p.dossier_id, p.dossier_code)
            delivery = Delivery.for_result(
                id=new_id(),
                dossier_id=p.dossier_id,
                dossier_code=p.dossier_code,
                procedure_code=p.procedure_code,
                procedure_name=p.procedure_name,
                office_id=p.office_id,
                unit_path=list(event.unit_path) or [event.unit_code],
                recipient=Recipient(name=p.applicant.name, phone=p.applicant.phone, email=p.applicant.email),
                address=address,
                contact=contact,
                pickup_id=source_id,
                return_prepaid=prepaid,
                source_event_id=event.event_id,
                tariff=self.tariff,
                now=self.clock(),
            )
            await tx.insert(DELIVERIES, delivery)
            return delivery

        delivery = await self.repo.run(work)
        if delivery is not None:
            log.info(
                "delivery %s opened for dossier %s (%s)", delivery.id, p.dossier_code, delivery.shipment_status.value
            )
            if delivery.next_action is not None:
                await self.process_action(delivery.id)
        return delivery

    async def _return_address(
        self, tx: Tx, dossier_id: str, dossier_code: str
    ) -> tuple[Address | None, Contact | None, str | None, bool]:
        pickup = await tx.get(PickupOrder, PICKUPS, {"dossier_id": dossier_id})
        if pickup is None:
            pickup = await tx.get(
                PickupOrder,
                PICKUPS,
                {"dossier_code": dossier_code.strip().upper(), "status": PickupStatus.AWAITING_RESULT.value},
            )
        if pickup is not None and pickup.return_address is not None:
            return pickup.return_address, pickup.return_contact or pickup.contact, pickup.id, pickup.return_prepaid
        reception = await tx.get(CounterReception, COUNTER, {"dossier_id": dossier_id})
        if reception is not None and reception.status is CounterStatus.CONFIRMED and reception.return_address:
            return reception.return_address, reception.return_contact, reception.id, False
        return None, None, None, False

    # ---- reads and staff actions ---------------------------------------------------------------
    async def _delivery(self, delivery_id: str) -> Delivery:
        found = await self.repo.get(Delivery, DELIVERIES, {"_id": delivery_id})
        if found is None:
            raise self.not_found("delivery", delivery_id)
        return found

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery:
        delivery = await self._delivery(delivery_id)
        ensure_unit(principal, delivery.unit_path)
        return delivery

    async def list_deliveries(
        self, principal: Principal, *, status: str | None, dossier_code: str | None, limit: int, skip: int
    ) -> list[Delivery]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["shipment_status"] = status
        if dossier_code:
            query["dossier_code"] = dossier_code.strip().upper()
        return await self.repo.find(Delivery, DELIVERIES, query, limit=limit, skip=skip)

    async def _change_delivery(self, principal: Principal | None, delivery_id: str, mutate: Any) -> Delivery:
        async def work(tx: Tx) -> Delivery:
            delivery = await tx.get(Delivery, DELIVERIES, {"_id": delivery_id})
            if delivery is None:
                raise self.not_found("delivery", delivery_id)
            if principal is not None:
                ensure_unit(principal, delivery.unit_path)
            previous = delivery.shipment_status
            try:
                extra = mutate(delivery)
            except PostalError as exc:
                raise domain_error(exc) from exc
            await tx.save(DELIVERIES, delivery)
            if delivery.shipment_status is not previous and delivery.shipment_status not in ev.UNANNOUNCED:
                tx.emit(ev.delivery_shipment(delivery, delivery.shipment_status, previous, **(extra or {})))
            return delivery

        result = await self.repo.run(work)
        self.wake()
        return result

    async def set_address(self, principal: Principal, delivery_id: str, address: Address, contact: Contact) -> Delivery:
        by = actor_of(principal)
        delivery = await self._change_delivery(
            principal, delivery_id, lambda d: d.set_address(address, contact, by=by, now=self.clock())
        )
        await self.process_action(delivery.id)
        return await self._delivery(delivery.id)

    async def report_loss(self, principal: Principal, delivery_id: str, note: str) -> Delivery:
        by: Actor = actor_of(principal)

        def mutate(d: Delivery) -> dict[str, Any]:
            applied = d.report_lost(by=by, note=note, tariff=self.tariff, now=self.clock())
            return {"reason": applied.reason, "fault": "operator", "charge": applied.charge}

        return await self._change_delivery(principal, delivery_id, mutate)

    # ---- operator calls owed ---------------------------------------------------------------
    async def process_action(self, delivery_id: str) -> bool:
        """Make the operator call the delivery owes (place order, re-deliver, return)."""
        async with self._lock(delivery_id):
            delivery = await self._delivery(delivery_id)
            action = delivery.next_action
            if action is None:
                return False
            adapter = self.adapter(delivery.operator)
            placed = None
            try:
                if action is NextAction.PLACE_ORDER:
                    placed = await adapter.create_order(self._order_request(delivery))
                elif action is NextAction.REDELIVER:
                    assert delivery.tracking_number
                    await adapter.redeliver(delivery.tracking_number, f"Phát lại lần {delivery.attempt + 1}")
                else:
                    assert delivery.tracking_number
                    await adapter.return_to_sender(delivery.tracking_number, "Phát không thành công, chuyển hoàn")
            except (OperatorUnavailable, OperatorRejected) as exc:
                message = exc.message

                def failed(d: Delivery) -> None:
                    if d.next_action is action:
                        d.action_failed(message, self.clock())

                await self._change_delivery(None, delivery_id, failed)
                log.warning("delivery %s: %s not done yet: %s", delivery_id, action.value, message)
                return False

            def done(d: Delivery) -> None:
                if placed is not None:
                    d.order_placed(
                        operator=adapter.name,
                        order_code=placed.order_code,
                        tracking_number=placed.tracking_number,
                        fee=placed.fee,
                        tariff=self.tariff,
                        now=self.clock(),
                    )
                else:
                    d.action_done(action, self.clock())

            await self._change_delivery(None, delivery_id, done)
            return True

    def _order_request(self, delivery: Delivery) -> OrderRequest:
        assert delivery.address is not None and delivery.contact is not None
        office = Address(
            province_code=delivery.province_code
            if delivery.province_code and len(delivery.province_code) == 2
            else None,
            province=delivery.address.province,
            commune=delivery.office_id,
            street=self.config.sender_name,
        )
        carriage = 0
        if not delivery.return_prepaid:
            carriage = self.tariff.carriage(
                same_province=same_province(delivery.address.province_code, delivery.province_code)
            )
        return OrderRequest(
            client_ref=delivery.id,
            kind="delivery",
            sender=Party(self.config.sender_name, self.config.sender_phone, office),
            receiver=Party(delivery.contact.name, delivery.contact.phone, delivery.address),
            content=f"Kết quả giải quyết TTHC — hồ sơ {delivery.dossier_code}",
            cod_amount=carriage,
        )

    async def sweep_deliveries(self) -> int:
        """Retry every owed operator call of deliveries (orders not placed, re-deliveries, returns)."""
        done = 0
        limit = self.config.action_retry_limit
        queries = [{"next_action": action.value} for action in NextAction]
        owed = await self.repo.ids(
            DELIVERIES, queries, lambda d: int(d.get("action_attempts") or 0) < limit, ("action_attempts",)
        )
        for delivery_id in owed:
            with contextlib.suppress(AppError):
                done += int(await self.process_action(delivery_id))
        return done

    async def sweep(self) -> dict[str, int]:
        return {"deliveries": await self.sweep_deliveries()}

    async def run_sweeper(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep sweeping after an outage
                log.warning("postal sweep: %s: %s", type(exc).__name__, exc)
