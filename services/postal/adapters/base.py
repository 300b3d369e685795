"""The one interface every postal operator implements (VNPost first; Viettel Post, … later).

An adapter speaks its operator's protocol: it places pickup and delivery orders (idempotent on
our `client_ref`, so a retry after a timeout never creates a second order), cancels them,
asks for re-delivery or return after a failed attempt, reads the tracking history, and reads
and authenticates the operator's status webhooks. Production and tests run the same adapter,
pointed at the operator's base URL or at the local simulator (`python -m services.postal.simulator`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.kit.errors import AppError
from services.postal.model.common import Address
from services.postal.model.status import ShipmentStatus


class OperatorUnavailable(AppError):
    """The operator did not answer, or answered with a server error: retry later."""

    status_code = 503
    code = "operator_unavailable"


class OperatorRejected(AppError):
    """The operator refused the request (e.g. a cancel after pickup)."""

    status_code = 409
    code = "operator_rejected"


class WebhookRejected(Exception):
    """A webhook that must not be processed (bad or missing signature, stale, unreadable)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    address: Address


@dataclass(frozen=True)
class OrderRequest:
    client_ref: str  # our id: the operator treats a repeated client_ref as the same order
    kind: str  # pickup | delivery
    sender: Party
    receiver: Party
    content: str
    weight_g: int = 300
    cod_amount: int = 0  # collected from the receiver on delivery (VND)
    note: str = ""


@dataclass(frozen=True)
class OperatorOrder:
    order_code: str
    tracking_number: str  # the item code printed on the dispatch slip
    fee: int | None = None
    status: str = "created"


@dataclass(frozen=True)
class TrackingEvent:
    """One status of one item, read from a webhook or from the tracking API."""

    event_id: str
    tracking_number: str
    order_code: str | None
    client_ref: str | None
    status: ShipmentStatus
    operator_status: str
    attempt: int
    at: datetime
    reason_code: str | None = None
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class OperatorAdapter(ABC):
    name: str

    @property
    def configured(self) -> bool:
        return True

    @abstractmethod
    async def create_order(self, order: OrderRequest) -> OperatorOrder:
        """Place a pickup or delivery order (the same `client_ref` returns the same order)."""

    @abstractmethod
    async def cancel(self, tracking_number: str, reason: str) -> None:
        """Cancel an order not yet picked up (OperatorRejected otherwise)."""

    @abstractmethod
    async def track(self, tracking_number: str) -> list[TrackingEvent]:
        """The item's status history, oldest first."""

    @abstractmethod
    async def redeliver(self, tracking_number: str, note: str) -> None:
        """Ask for another delivery attempt after a failed one."""

    @abstractmethod
    async def return_to_sender(self, tracking_number: str, reason: str) -> None:
        """Ask for the item to be returned to the sender (the office)."""

    @abstractmethod
    def read_webhook(self, body: bytes, headers: dict[str, str], *, now: datetime) -> TrackingEvent:
        """Authenticate (constant-time) and read a status webhook, or raise WebhookRejected."""
