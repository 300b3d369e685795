"""Shipment statuses and their rank: a status only ever moves a shipment forward. Pure.

Operators deliver webhooks late, twice, or in the wrong order. Each status has a rank —
`(phase, attempt, step)` — and a shipment moves only to a strictly higher rank, never out of
a terminal status. Delivery attempts are ranked by their number, so "failed, attempt 1"
arriving after "out for delivery, attempt 2" is ignored, while "out for delivery, attempt 2"
after "failed, attempt 1" is the retry.

    awaiting_address → pending_order → created → picked_up → in_transit
        → out_for_delivery(n) → failed(n) → out_for_delivery(n+1) … → delivered(n)
        → returning → returned                      (after the last failed attempt)
    pickups: … picked_up → in_transit → handed_over (the signed hand-over record)
    any non-terminal status → lost; before pickup → cancelled
"""

from __future__ import annotations

from enum import StrEnum


class ShipmentStatus(StrEnum):
    AWAITING_ADDRESS = "awaiting_address"  # result by post, but no address known yet
    PENDING_ORDER = "pending_order"  # the operator order is not placed yet (retried)
    CREATED = "created"  # order placed with the operator
    PICKED_UP = "picked_up"  # papers collected (dispatch slip signed) / result taken at the office
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED = "failed"  # one delivery attempt failed
    DELIVERED = "delivered"
    HANDED_OVER = "handed_over"  # pickup: handed to the office under a signed record
    RETURNING = "returning"  # chuyển hoàn
    RETURNED = "returned"  # back at the office
    LOST = "lost"
    CANCELLED = "cancelled"


TERMINAL: frozenset[ShipmentStatus] = frozenset(
    {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.HANDED_OVER,
        ShipmentStatus.RETURNED,
        ShipmentStatus.LOST,
        ShipmentStatus.CANCELLED,
    }
)

#: statuses that carry an attempt number
ATTEMPT_STATUSES: frozenset[ShipmentStatus] = frozenset(
    {ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.FAILED, ShipmentStatus.DELIVERED}
)

_BEFORE = {
    ShipmentStatus.AWAITING_ADDRESS: 0,
    ShipmentStatus.PENDING_ORDER: 1,
    ShipmentStatus.CREATED: 2,
    ShipmentStatus.PICKED_UP: 3,
    ShipmentStatus.IN_TRANSIT: 4,
}
_ATTEMPT_STEP = {ShipmentStatus.OUT_FOR_DELIVERY: 0, ShipmentStatus.FAILED: 1, ShipmentStatus.DELIVERED: 2}

Rank = tuple[int, int, int]


def rank(status: ShipmentStatus, attempt: int = 0) -> Rank:
    """Total order of (status, attempt); higher is later in the shipment's life."""
    if status in _BEFORE:
        return (0, 0, _BEFORE[status])
    if status in _ATTEMPT_STEP:
        return (1, max(attempt, 1), _ATTEMPT_STEP[status])
    if status is ShipmentStatus.HANDED_OVER:
        return (1, 0, 9)
    if status is ShipmentStatus.RETURNING:
        return (2, 0, 0)
    if status is ShipmentStatus.RETURNED:
        return (2, 0, 1)
    if status is ShipmentStatus.LOST:
        return (3, 0, 0)
    return (3, 0, 1)  # cancelled


def is_terminal(status: ShipmentStatus) -> bool:
    return status in TERMINAL


def can_advance(current: ShipmentStatus, current_attempt: int, new: ShipmentStatus, new_attempt: int) -> bool:
    """True when `new` moves the shipment forward from `current` (never backwards or out of an end)."""
    if is_terminal(current):
        return False
    if new is ShipmentStatus.CANCELLED:
        return rank(current) < rank(ShipmentStatus.PICKED_UP)
    return rank(new, new_attempt) > rank(current, current_attempt)
