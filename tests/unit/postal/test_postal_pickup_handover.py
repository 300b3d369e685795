"""Pickup orders, the paper check, the dispatch slip and the hand-over record rules."""

from __future__ import annotations

import pytest

from services.postal.model.common import ComponentCheck, PostalError
from services.postal.model.handover import HandoverItem, HandoverRecord, HandoverStatus, Side
from services.postal.model.pickup import PickupOrder, PickupStatus, PostalOption
from services.postal.model.status import ShipmentStatus
from services.postal.model.tariff import Charge, ChargeKind
from tests.unit.postal.postal_samples import (
    FAR,
    OFFICER,
    TARIFF,
    UNIT_PATH,
    WORKER,
    all_present,
    at,
    collected,
    pickup,
)


def test_a_submit_order_needs_an_address_and_the_papers() -> None:
    with pytest.raises(PostalError, match="address"):
        pickup(PostalOption.SUBMIT, pickup_address=None)
    with pytest.raises(PostalError) as exc:
        pickup(PostalOption.SUBMIT, components=[])
    assert exc.value.code == "components_required"


def test_a_receive_only_order_names_the_received_dossier_and_defaults_to_its_address() -> None:
    with pytest.raises(PostalError) as exc:
        pickup(PostalOption.RECEIVE, dossier_code=None)
    assert exc.value.code == "dossier_code_required"
    order = pickup(PostalOption.RECEIVE, dossier_code="000.00.30.H01-260302-0001", dossier_id=None)
    assert order.status is PickupStatus.AWAITING_RESULT and not order.needs_order
    assert order.return_address is not None and order.return_address.street == "12 Trần Hưng Đạo"
    assert order.pickup_address is None and order.components == []


def test_both_defaults_the_return_address_to_the_pickup_address_unless_given() -> None:
    assert pickup(PostalOption.BOTH).return_address == pickup().pickup_address
    assert pickup(PostalOption.BOTH, return_address=FAR).return_address == FAR
    assert pickup(PostalOption.SUBMIT).return_address is None


def test_the_slip_is_signed_only_when_the_papers_are_complete() -> None:
    order = pickup()
    assert order.scheduled(operator="vnpost", order_code="p1", tracking_number="EP100000015VN", now=at(1))
    assert order.shipment_status is ShipmentStatus.CREATED
    missing = [
        ComponentCheck(component_id="to_khai", present=True),
        ComponentCheck(component_id="giay_chung_sinh", present=False),
        ComponentCheck(component_id="ban_sao", present=False),
    ]
    check = order.check_papers(missing, by=WORKER, now=at(30))
    assert not check.complete and check.missing == ["Giấy chứng sinh"]  # the optional paper is not required
    with pytest.raises(PostalError) as exc:
        order.sign_slip(
            worker=WORKER,
            sender_name="An",
            sender_method="signature",
            seal_number="NP1",
            collected_fees=[],
            prepay_return=False,
            tariff=TARIFF,
            receipt_number="R1",
            slip_number=None,
            now=at(31),
        )
    assert exc.value.code == "papers_incomplete"
    assert order.check_papers(all_present(), by=WORKER, now=at(40)).complete  # the citizen completed them


def test_every_listed_paper_is_checked_and_nothing_else() -> None:
    order = pickup()
    with pytest.raises(PostalError) as exc:
        order.check_papers(all_present()[:1], by=WORKER, now=at(1))
    assert exc.value.code == "unchecked_component"
    with pytest.raises(PostalError) as exc:
        order.check_papers([*all_present(), ComponentCheck(component_id="la", present=True)], by=WORKER, now=at(1))
    assert exc.value.code == "unknown_component"


def test_signing_the_slip_seals_collects_and_picks_up() -> None:
    order = pickup(PostalOption.BOTH, return_address=FAR)
    order.scheduled(operator="vnpost", order_code="p1", tracking_number="EP100000015VN", now=at(1))
    order.check_papers(all_present(), by=WORKER, now=at(60))
    fee = Charge(kind=ChargeKind.DUTY, name="Lệ phí", amount=8_000)
    slip = order.sign_slip(
        worker=WORKER,
        sender_name="Nguyễn Văn An",
        sender_method="fingerprint",
        seal_number=" NP-7 ",
        collected_fees=[fee],
        prepay_return=True,
        tariff=TARIFF,
        receipt_number="R1",
        slip_number="IGNORED",
        now=at(61),
    )
    assert slip.number == "EP100000015VN" and slip.seal_number == "NP-7"
    assert slip.sender_signature.method.value == "fingerprint" and slip.worker_signature.subject == "bd-01"
    assert [c.amount for c in slip.charges] == [25_000, 35_000, 8_000] and slip.total_collected == 68_000
    assert order.status is PickupStatus.COLLECTED and order.shipment_status is ShipmentStatus.PICKED_UP
    assert order.return_prepaid


def test_a_paper_slip_number_is_used_when_the_operator_was_down() -> None:
    order = pickup()
    order.check_papers(all_present(), by=WORKER, now=at(1))
    with pytest.raises(PostalError):
        order.sign_slip(
            worker=WORKER,
            sender_name="An",
            sender_method="signature",
            seal_number="N",
            collected_fees=[],
            prepay_return=False,
            tariff=TARIFF,
            receipt_number="R",
            slip_number=None,
            now=at(2),
        )
    slip = order.sign_slip(
        worker=WORKER,
        sender_name="An",
        sender_method="signature",
        seal_number="N",
        collected_fees=[],
        prepay_return=False,
        tariff=TARIFF,
        receipt_number="R",
        slip_number="EP999999995VN",
        now=at(2),
    )
    assert slip.number == "EP999999995VN" == order.tracking_number


def test_cancel_only_before_collection() -> None:
    order = pickup()
    order.cancel("đổi ý", by="citizen", now=at(1))
    assert order.status is PickupStatus.CANCELLED and order.shipment_status is ShipmentStatus.CANCELLED
    with pytest.raises(PostalError):
        collected().cancel("late", by="citizen", now=at(100))


def _record(*orders: PickupOrder) -> HandoverRecord:
    items = [
        HandoverItem(
            pickup_id=o.id,
            slip_number=o.tracking_number or "",
            dossier_id=o.dossier_id,
            procedure_code="1.001193",
            applicant_name="An",
            papers=3,
        )
        for o in orders
    ]
    return HandoverRecord.draft(
        id="h1",
        number="BBGN-30280-260302-001",
        office_id="ubnd-my-binh",
        office_name="UBND",
        unit_path=UNIT_PATH,
        items=items,
        by=WORKER,
        now=at(120),
    )


def test_a_record_counts_as_signed_only_with_both_signatures() -> None:
    a, b = collected(pickup_id="p1", slip="EP100000015VN"), collected(pickup_id="p2", slip="EP100000029VN")
    record = _record(a, b)
    for order in (a, b):
        order.put_on_record(record.id, record.number)
    assert not record.sign(Side.POSTAL, by=WORKER, counted=2, now=at(121))
    assert record.status is HandoverStatus.DRAFT and record.signed_at is None
    with pytest.raises(PostalError) as exc:
        record.sign(Side.POSTAL, by=WORKER, counted=2, now=at(122))
    assert exc.value.code == "already_signed"
    assert record.sign(Side.OFFICE, by=OFFICER, counted=2, now=at(125))
    assert record.status is HandoverStatus.SIGNED and record.signed_at == at(125)
    for order in (a, b):
        order.handed_over(handover_id=record.id, at=record.signed_at)
        assert order.status is PickupStatus.HANDED_OVER and order.shipment_status is ShipmentStatus.HANDED_OVER
        assert order.handed_over_at == at(125)


def test_the_office_count_must_match_and_the_two_sides_are_different_people() -> None:
    record = _record(collected())
    with pytest.raises(PostalError) as exc:
        record.sign(Side.OFFICE, by=OFFICER, counted=2, now=at(121))
    assert exc.value.code == "count_mismatch"
    record.sign(Side.POSTAL, by=WORKER, counted=1, now=at(121))
    with pytest.raises(PostalError) as exc:
        record.sign(Side.OFFICE, by=WORKER, counted=1, now=at(122))
    assert exc.value.code == "same_person"


def test_only_collected_slips_go_on_a_record_and_only_on_one() -> None:
    with pytest.raises(PostalError):
        pickup().put_on_record("h1", "N1")
    order = collected()
    order.put_on_record("h1", "N1")
    with pytest.raises(PostalError) as exc:
        order.put_on_record("h2", "N2")
    assert exc.value.code == "on_another_record"
    order.take_off_record("h1", at(1))
    order.put_on_record("h2", "N2")


def test_a_record_is_edited_or_cancelled_only_before_signatures() -> None:
    a, b = collected(pickup_id="p1", slip="EP100000015VN"), collected(pickup_id="p2", slip="EP100000029VN")
    record = _record(a, b)
    removed = record.remove("p2", by=WORKER, now=at(121))
    assert removed.pickup_id == "p2" and len(record.items) == 1
    with pytest.raises(PostalError):
        record.remove("p1", by=WORKER, now=at(121))  # the last one: cancel instead
    record.sign(Side.POSTAL, by=WORKER, counted=1, now=at(122))
    with pytest.raises(PostalError):
        record.remove("p1", by=WORKER, now=at(123))
    record.cancel("nhầm", by=WORKER, now=at(124))
    assert record.status is HandoverStatus.CANCELLED
    with pytest.raises(PostalError):
        record.sign(Side.OFFICE, by=OFFICER, counted=1, now=at(125))


def test_a_record_lists_each_slip_once() -> None:
    order = collected()
    with pytest.raises(PostalError) as exc:
        _record(order, order)
    assert exc.value.code == "duplicate_slip"
