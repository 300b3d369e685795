"""The status track shared by pickups and deliveries: forward-only moves, with their history. Pure."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.postal.model.status import ATTEMPT_STATUSES, ShipmentStatus, can_advance


class TrackingEntry(BaseModel):
    status: ShipmentStatus
    attempt: int = 0
    at: datetime
    source: str = Field(description="operator | staff | system")
    event_id: str | None = Field(None, description="Operator event id, for webhooks")
    reason_code: str | None = None
    note: str = ""


class Tracked(BaseModel):
    """A shipment's current status, delivery attempt and status history."""

    shipment_status: ShipmentStatus
    attempt: int = 0
    status_at: datetime | None = None
    tracking: list[TrackingEntry] = Field(default_factory=list)

    def advance(
        self,
        status: ShipmentStatus,
        *,
        at: datetime,
        source: str,
        attempt: int | None = None,
        event_id: str | None = None,
        reason_code: str | None = None,
        note: str = "",
    ) -> bool:
        """Move to `status` if it is later than the current one; False (and nothing changes) otherwise."""
        number = self.attempt if attempt is None else attempt
        if status in ATTEMPT_STATUSES:
            number = max(number, 1)
        if not can_advance(self.shipment_status, self.attempt, status, number):
            return False
        self.shipment_status = status
        if status in ATTEMPT_STATUSES:
            self.attempt = number
        self.status_at = at
        self.tracking.append(
            TrackingEntry(
                status=status,
                attempt=self.attempt,
                at=at,
                source=source,
                event_id=event_id,
                reason_code=reason_code,
                note=note,
            )
        )
        return True
