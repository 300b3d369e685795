"""Shipment statuses only move forward: ranks, attempts, terminal statuses."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from services.postal.model.status import ShipmentStatus as S
from services.postal.model.status import can_advance, is_terminal, rank
from services.postal.model.tracking import Tracked
from tests.unit.postal.postal_samples import T0, at


def test_the_delivery_path_is_strictly_increasing() -> None:
    path = [
        (S.AWAITING_ADDRESS, 0),
        (S.PENDING_ORDER, 0),
        (S.CREATED, 0),
        (S.PICKED_UP, 0),
        (S.IN_TRANSIT, 0),
        (S.OUT_FOR_DELIVERY, 1),
        (S.FAILED, 1),
        (S.OUT_FOR_DELIVERY, 2),
        (S.FAILED, 2),
        (S.OUT_FOR_DELIVERY, 3),
        (S.DELIVERED, 3),
    ]
    ranks = [rank(s, a) for s, a in path]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert rank(S.FAILED, 3) < rank(S.RETURNING) < rank(S.RETURNED)


def test_a_late_failure_of_an_earlier_attempt_is_ignored() -> None:
    assert not can_advance(S.OUT_FOR_DELIVERY, 2, S.FAILED, 1)
    assert can_advance(S.FAILED, 1, S.OUT_FOR_DELIVERY, 2)


def test_terminal_statuses_never_move() -> None:
    for terminal, new in itertools.product([S.DELIVERED, S.RETURNED, S.LOST, S.CANCELLED, S.HANDED_OVER], list(S)):
        assert is_terminal(terminal)
        assert not can_advance(terminal, 1, new, 5)


def test_cancel_only_before_pickup_and_lost_from_anywhere_open() -> None:
    assert can_advance(S.CREATED, 0, S.CANCELLED, 0)
    assert not can_advance(S.PICKED_UP, 0, S.CANCELLED, 0)
    assert can_advance(S.OUT_FOR_DELIVERY, 2, S.LOST, 0)
    assert can_advance(S.RETURNING, 0, S.LOST, 0)


def test_tracked_records_moves_and_ignores_repeats() -> None:
    track = Tracked(shipment_status=S.CREATED)
    assert track.advance(S.IN_TRANSIT, at=at(1), source="operator", event_id="e1")
    assert not track.advance(S.PICKED_UP, at=at(2), source="operator", event_id="e0")
    assert not track.advance(S.IN_TRANSIT, at=at(3), source="operator", event_id="e1")
    assert track.advance(S.OUT_FOR_DELIVERY, at=at(4), source="operator", attempt=1)
    assert track.attempt == 1 and [e.status for e in track.tracking] == [S.IN_TRANSIT, S.OUT_FOR_DELIVERY]
    assert track.status_at == at(4)


statuses = st.sampled_from(list(S))
attempts = st.integers(min_value=0, max_value=4)


@given(st.lists(st.tuples(statuses, attempts), max_size=30))
def test_whatever_order_webhooks_arrive_in_the_rank_never_decreases(events: list[tuple[S, int]]) -> None:
    track = Tracked(shipment_status=S.CREATED)
    last = rank(track.shipment_status, track.attempt)
    for status, attempt in events:
        track.advance(status, at=T0, source="operator", attempt=attempt)
        now = rank(track.shipment_status, track.attempt)
        assert now >= last
        last = now
