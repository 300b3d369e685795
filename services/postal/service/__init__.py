"""Postal use cases: pickups, hand-over records, result deliveries, operator webhooks, postal
staff at counters. State changes and the events they cause are written in one transaction
through the repository; the outbox relay is woken after each commit."""

from __future__ import annotations

from typing import Any

from services.postal.repository import PICKUPS
from services.postal.service.base import PostalConfig, ServiceBase, actor_of, log
from services.postal.service.counter import CounterReceptionRequest, CounterUseCases
from services.postal.service.erasure import ErasureUseCases
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


class PostalService(PickupUseCases, HandoverUseCases, WebhookUseCases, CounterUseCases, ErasureUseCases):
    async def sweep(self) -> dict[str, int]:
        """Retry every owed operator call: pickup orders not placed, delivery orders, re-deliveries, returns."""
        placed = 0
        limit = self.config.action_retry_limit

        def owed(pickup: dict[str, Any]) -> bool:
            return pickup.get("order_code") is None and int(pickup.get("order_attempts") or 0) < limit

        requested = [{"status": "requested"}]
        for pickup_id in await self.repo.ids(PICKUPS, requested, owed, ("order_code", "order_attempts")):
            try:
                placed += int(await self.place_pickup_order(pickup_id))
            except Exception as exc:  # one bad order must not stop the sweep
                log.warning("postal sweep: pickup %s: %s: %s", pickup_id, type(exc).__name__, exc)
        return {"pickups": placed, "deliveries": await self.sweep_deliveries()}
