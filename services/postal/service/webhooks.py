"""The operator's status webhooks (and its tracking API): authenticated, once per event id,
forward only, unknown items rejected — for deliveries and for pickup items alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from services.kit.auth import Principal, Role
from services.kit.errors import AppError
from services.postal.adapters.base import TrackingEvent, WebhookRejected
from services.postal.model.common import HistoryEntry
from services.postal.model.delivery import Delivery
from services.postal.model.pickup import PickupOrder, PickupStatus
from services.postal.model.status import ShipmentStatus
from services.postal.repository import DELIVERIES, PICKUPS, Tx
from services.postal.service import events as ev
from services.postal.service.deliveries import DeliveryUseCases

log = logging.getLogger("motcua.postal.webhooks")


class UnknownShipment(AppError):
    status_code = 404
    code = "unknown_shipment"


class OrderInFlight(Exception):
    """A webhook for an order whose placement we have not recorded yet (retry later)."""


@dataclass(frozen=True)
class WebhookOutcome:
    http_status: int
    result: str  # applied | stale | duplicate | not_ready | rejected:<reason> | unknown
    shipment_id: str | None = None
    status: str | None = None
    unit_path: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"result": self.result, "shipment_id": self.shipment_id, "status": self.status}


class WebhookUseCases(DeliveryUseCases):
    # ---- the operator's statuses ------------------------------------------------------------
    async def handle_webhook(self, operator: str, body: bytes, headers: dict[str, str]) -> WebhookOutcome:
        if operator not in self.adapters:
            return WebhookOutcome(404, "unknown_operator")
        adapter = self.adapter(operator)
        now = self.clock()
        record: dict[str, Any] = {"operator": operator, "received_at": now, "size": len(body)}
        try:
            event = adapter.read_webhook(body, headers, now=now)
        except WebhookRejected as exc:
            outcome = WebhookOutcome(401, f"rejected:{exc.reason}")
            await self.repo.log_webhook({**record, "result": outcome.result, "detail": exc.detail[:300]})
            log.warning("postal webhook rejected (%s): %s", operator, exc)
            return outcome
        outcome = await self.apply_event(adapter.name, event)
        await self.repo.log_webhook(
            {
                **record,
                "result": outcome.result,
                "event_id": event.event_id,
                "tracking_number": event.tracking_number,
                "status": event.status.value,
                "attempt": event.attempt,
                "shipment_id": outcome.shipment_id,
                **({"unit_path": list(outcome.unit_path)} if outcome.unit_path else {}),
            }
        )
        return outcome

    async def apply_event(self, operator: str, event: TrackingEvent) -> WebhookOutcome:
        """Apply one operator status to its shipment: once per event id, forward only."""

        async def work(tx: Tx) -> WebhookOutcome:
            delivery = await tx.get(Delivery, DELIVERIES, {"tracking_number": event.tracking_number})
            pickup = None
            if delivery is None:
                pickup = await tx.get(PickupOrder, PICKUPS, {"tracking_number": event.tracking_number})
            if delivery is None and pickup is None:
                if event.client_ref and (
                    await tx.find_one(DELIVERIES, {"_id": event.client_ref, "tracking_number": None})
                    or await tx.find_one(PICKUPS, {"_id": event.client_ref, "tracking_number": None})
                ):
                    # our order call is still in flight: the operator retries the webhook later
                    raise OrderInFlight(event.client_ref)
                raise UnknownShipment(f"No shipment {event.tracking_number}")
            target = delivery or pickup
            assert target is not None
            if not await tx.mark(f"webhook:{operator}", event.event_id):
                return WebhookOutcome(
                    200, "duplicate", target.id, target.shipment_status.value, tuple(target.unit_path)
                )
            if delivery is not None:
                return await self._apply_to_delivery(tx, delivery, event)
            assert pickup is not None
            return await self._apply_to_pickup(tx, pickup, event)

        try:
            outcome = await self.repo.run(work)
        except UnknownShipment:
            log.warning("operator %s reported %s for an unknown item", operator, event.status.value)
            return WebhookOutcome(404, "unknown")
        except OrderInFlight:
            return WebhookOutcome(409, "not_ready", event.client_ref)
        self.wake()
        if outcome.result == "applied" and outcome.shipment_id:
            delivery = await self.repo.get(Delivery, DELIVERIES, {"_id": outcome.shipment_id})
            if delivery is not None and delivery.next_action is not None:
                self.spawn(self.process_action(delivery.id))
        return outcome

    async def _apply_to_delivery(self, tx: Tx, delivery: Delivery, event: TrackingEvent) -> WebhookOutcome:
        previous = delivery.shipment_status
        applied = delivery.apply_operator_status(
            event.status,
            attempt=event.attempt,
            at=event.at,
            event_id=event.event_id,
            reason_code=event.reason_code,
            note=event.note,
            tariff=self.tariff,
        )
        path = tuple(delivery.unit_path)
        if not applied.moved:
            return WebhookOutcome(200, "stale", delivery.id, delivery.shipment_status.value, path)
        await tx.save(DELIVERIES, delivery)
        tx.emit(
            ev.delivery_shipment(
                delivery,
                delivery.shipment_status,
                previous,
                reason_code=event.reason_code,
                reason=applied.reason,
                fault=applied.fault.value if applied.fault else None,
                charge=applied.charge,
            )
        )
        return WebhookOutcome(200, "applied", delivery.id, delivery.shipment_status.value, path)

    async def _apply_to_pickup(self, tx: Tx, pickup: PickupOrder, event: TrackingEvent) -> WebhookOutcome:
        previous = pickup.shipment_status
        path = tuple(pickup.unit_path)
        if event.status not in (
            ShipmentStatus.PICKED_UP,
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.LOST,
            ShipmentStatus.CANCELLED,
        ):
            return WebhookOutcome(200, "stale", pickup.id, previous.value, path)
        moved = pickup.advance(
            event.status,
            at=event.at,
            source="operator",
            event_id=event.event_id,
            reason_code=event.reason_code,
            note=event.note,
        )
        if not moved:
            return WebhookOutcome(200, "stale", pickup.id, previous.value, path)
        now = self.clock()
        if event.status is ShipmentStatus.CANCELLED and pickup.status in (
            PickupStatus.REQUESTED,
            PickupStatus.SCHEDULED,
        ):
            pickup.status = PickupStatus.CANCELLED
            pickup.cancel_reason = f"huỷ bởi bưu điện: {event.note}".strip(": ")
        pickup.history.append(
            HistoryEntry(
                at=now, action=f"operator_{event.status.value}", by=f"operator:{event.operator_status}", note=event.note
            )
        )
        pickup.updated_at = now
        await tx.save(PICKUPS, pickup)
        tx.emit(ev.pickup_shipment(pickup, pickup.shipment_status, previous, reason=event.note or None))
        return WebhookOutcome(200, "applied", pickup.id, pickup.shipment_status.value, path)

    async def track(self, principal: Principal, delivery_id: str) -> Delivery:
        """Pull the operator's tracking history and apply what the webhooks missed."""
        delivery = await self.get_delivery(principal, delivery_id)
        if not delivery.tracking_number:
            return delivery
        adapter = self.adapter(delivery.operator)
        for event in await adapter.track(delivery.tracking_number):
            await self.apply_event(adapter.name, event)
        return await self._delivery(delivery_id)

    async def webhook_log(self, principal: Principal, limit: int) -> list[dict[str, Any]]:
        """Webhooks about the caller's units; province administrators also see the unattributable
        ones (forged, unreadable, unknown items)."""
        queries: list[dict[str, Any]] = [{"unit_path": principal.unit_code}]
        if Role.PROVINCE_ADMIN in principal.roles:
            queries.append({"unit_path": None})
        return await self.repo.webhook_log(queries, limit)
