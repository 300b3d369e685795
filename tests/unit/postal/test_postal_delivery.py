"""Result deliveries: opening, the operator order, failures with retry and return, loss."""

from __future__ import annotations

import pytest

from services.postal.model.common import Contact, PostalError
from services.postal.model.delivery import Delivery, NextAction, Recipient
from services.postal.model.status import ShipmentStatus as S
from services.postal.model.tariff import ChargeKind, Fault, Payer, Tariff, total
from tests.unit.postal.postal_samples import CONTACT, FAR, HOME, OFFICER, UNIT_PATH, at

TARIFF = Tariff(carriage_in_province=20_000, carriage_out_of_province=30_000, max_attempts=3)


def delivery(address: object = HOME, contact: Contact | None = CONTACT, prepaid: bool = False) -> Delivery:
    return Delivery.for_result(
        id="dl1",
        dossier_id="d1",
        dossier_code="000.00.30.H01-260302-0001",
        procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh",
        office_id="ubnd-my-binh",
        unit_path=UNIT_PATH,
        recipient=Recipient(name="Nguyễn Văn An", phone="0987654321"),
        address=address,  # type: ignore[arg-type]
        contact=contact,
        pickup_id="p1",
        return_prepaid=prepaid,
        source_event_id="ev1",
        tariff=TARIFF,
        now=at(0),
    )


def placed(**kwargs: object) -> Delivery:
    d = delivery(**kwargs)  # type: ignore[arg-type]
    assert d.order_placed(
        operator="vnpost", order_code="dl1", tracking_number="EB100000015VN", fee=20_000, tariff=TARIFF, now=at(1)
    )
    return d


def op(d: Delivery, status: S, attempt: int = 0, reason: str | None = None, event: str = "e") -> object:
    return d.apply_operator_status(
        status, attempt=attempt, at=at(10), event_id=event, reason_code=reason, note="", tariff=TARIFF
    )


def test_with_an_address_the_order_is_owed_at_once_without_one_it_waits() -> None:
    d = delivery()
    assert d.shipment_status is S.PENDING_ORDER and d.next_action is NextAction.PLACE_ORDER
    waiting = delivery(address=None, contact=None)
    assert waiting.shipment_status is S.AWAITING_ADDRESS and waiting.next_action is None
    waiting.set_address(FAR, CONTACT, by=OFFICER, now=at(5))
    assert waiting.shipment_status is S.PENDING_ORDER and waiting.next_action is NextAction.PLACE_ORDER


def test_placing_the_order_charges_the_return_carriage_on_delivery_unless_prepaid() -> None:
    d = placed()
    assert d.shipment_status is S.CREATED and d.next_action is None and d.tracking_number == "EB100000015VN"
    assert [(c.kind, c.amount) for c in d.charges] == [(ChargeKind.RETURN_CARRIAGE, 20_000)]
    assert placed(prepaid=True).charges[0].amount == 0
    assert placed(address=FAR).charges[0].amount == 30_000
    assert not d.order_placed(operator="vnpost", order_code="x", tracking_number="y", fee=0, tariff=TARIFF, now=at(2))
    with pytest.raises(PostalError):
        d.set_address(FAR, CONTACT, by=OFFICER, now=at(3))


def test_a_straight_delivery() -> None:
    d = placed()
    for status, attempt in ((S.PICKED_UP, 0), (S.IN_TRANSIT, 0), (S.OUT_FOR_DELIVERY, 1), (S.DELIVERED, 1)):
        assert op(d, status, attempt).moved  # type: ignore[attr-defined]
    assert d.shipment_status is S.DELIVERED and d.next_action is None


def test_a_citizen_fault_is_redelivered_at_the_citizen_s_cost_then_delivered() -> None:
    d = placed()
    op(d, S.OUT_FOR_DELIVERY, 1)
    applied = op(d, S.FAILED, 1, "recipient_absent")
    assert applied.fault is Fault.CITIZEN and applied.charge.payer is Payer.CITIZEN  # type: ignore[attr-defined]
    assert d.next_action is NextAction.REDELIVER and d.failures[0].reason == "Người nhận vắng nhà"
    assert d.action_done(NextAction.REDELIVER, at(11)) is None and d.next_action is None
    op(d, S.OUT_FOR_DELIVERY, 2)
    op(d, S.DELIVERED, 2)
    assert d.shipment_status is S.DELIVERED and d.attempt == 2
    assert total(d.charges, Payer.CITIZEN) == 20_000 + 10_000


def test_an_operator_fault_costs_the_citizen_nothing() -> None:
    d = placed()
    applied = op(d, S.FAILED, 1, "operator_delay")
    assert applied.fault is Fault.OPERATOR  # type: ignore[attr-defined]
    assert total(d.charges, Payer.CITIZEN) == 20_000 and total(d.charges, Payer.OPERATOR) == 10_000


def test_after_the_last_failed_attempt_the_result_returns_to_the_office() -> None:
    d = placed()
    for attempt in (1, 2):
        op(d, S.OUT_FOR_DELIVERY, attempt)
        op(d, S.FAILED, attempt, "wrong_address")
        assert d.next_action is NextAction.REDELIVER
        d.action_done(NextAction.REDELIVER, at(12))
    op(d, S.OUT_FOR_DELIVERY, 3)
    op(d, S.FAILED, 3, "wrong_address")
    assert d.next_action is NextAction.RETURN and len(d.failures) == 3
    assert len([c for c in d.charges if c.kind is ChargeKind.REDELIVERY]) == 2  # no charge for a 4th attempt
    assert d.action_done(NextAction.RETURN, at(20)) is S.RETURNING
    assert not op(d, S.RETURNING).moved  # type: ignore[attr-defined]  # the operator confirms: nothing new
    assert op(d, S.RETURNED).moved  # type: ignore[attr-defined]
    assert d.shipment_status is S.RETURNED and d.next_action is None


def test_a_stale_failure_after_the_next_attempt_started_changes_nothing() -> None:
    d = placed()
    op(d, S.OUT_FOR_DELIVERY, 1)
    op(d, S.FAILED, 1, "recipient_absent")
    op(d, S.OUT_FOR_DELIVERY, 2)
    charges = list(d.charges)
    assert not op(d, S.FAILED, 1, "recipient_absent").moved  # type: ignore[attr-defined]
    assert d.charges == charges and d.shipment_status is S.OUT_FOR_DELIVERY


def test_the_operator_re_attempting_on_its_own_clears_the_owed_request() -> None:
    d = placed()
    op(d, S.FAILED, 1, "recipient_absent")
    op(d, S.OUT_FOR_DELIVERY, 2)
    assert d.next_action is None


def test_loss_is_the_operator_s_liability() -> None:
    d = placed()
    op(d, S.IN_TRANSIT)
    applied = op(d, S.LOST)
    assert applied.moved and d.liability is not None  # type: ignore[attr-defined]
    assert d.liability.payer is Payer.OPERATOR and d.liability.amount == TARIFF.loss_compensation
    with pytest.raises(PostalError):
        d.report_lost(by=OFFICER, note="again", tariff=TARIFF, now=at(30))
    other = placed()
    other.report_lost(by=OFFICER, note="bưu điện xác nhận mất", tariff=TARIFF, now=at(30))
    assert other.shipment_status is S.LOST and "Lê Thị Một Cửa" in other.liability.reason  # type: ignore[union-attr]


def test_local_statuses_from_the_operator_are_ignored() -> None:
    d = placed()
    assert not op(d, S.PENDING_ORDER).moved  # type: ignore[attr-defined]
    assert not op(d, S.HANDED_OVER).moved  # type: ignore[attr-defined]
