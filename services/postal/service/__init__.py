"""Postal use cases: pickups, hand-over records, result deliveries, operator webhooks, postal
staff at counters. State changes and the events they cause are written in one transaction
through the repository; the outbox relay is woken after each commit."""

from __future__ import annotations

from services.postal.repository import PICKUPS
from services.postal.service.base import PostalConfig, ServiceBase, actor_of, log
from services.postal.service.counter import CounterReceptionRequest, CounterUseCases
from services.postal.service.handovers import HandoverUseCases
from services.postal.service.pickups import PickupRequest, PickupUseCases, SlipRequest
from services.postal.service.webhooks import WebhookOutcome, WebhookUseCases

__all__ = [
    "CounterReceptionRequest",
    "PickupRequest",
    "PostalConfig",
    "PostalService",
    "ServiceBase",
    "SlipRequest",
    "WebhookOutcome",
    "actor_of",
]


class PostalService(PickupUseCases, HandoverUseCases, WebhookUseCases, CounterUseCases):
    async def sweep(self) -> dict[str, int]:
        """Retry every owed operator call: pickup orders not placed, delivery orders, re-deliveries, returns."""
        placed = 0
        owed = {"status": "requested", "order_code": None, "order_attempts": {"$lt": self.config.action_retry_limit}}
        for pickup_id in await self.repo.ids(PICKUPS, owed):
            try:
                placed += int(await self.place_pickup_order(pickup_id))
            except Exception as exc:  # one bad order must not stop the sweep
                log.warning("postal sweep: pickup %s: %s: %s", pickup_id, type(exc).__name__, exc)
        return {"pickups": placed, "deliveries": await self.sweep_deliveries()}
