"""Fees and charges: carriage by zone, fees collected on the agency's behalf, re-delivery by fault, loss."""

from __future__ import annotations

import pytest

from services.postal.model.tariff import (
    Charge,
    ChargeKind,
    Fault,
    Payer,
    Tariff,
    fault_of,
    loss_compensation,
    pickup_charges,
    redelivery_charge,
    return_carriage,
    same_province,
    total,
)

TARIFF = Tariff(
    carriage_in_province=20_000, carriage_out_of_province=32_000, redelivery_percent=50, loss_compensation=400_000
)


def test_carriage_depends_on_the_province() -> None:
    assert same_province("91", "91") and not same_province("79", "91")
    assert same_province(None, "91")  # unknown: the cheaper price, never an overcharge
    assert TARIFF.carriage(same_province=True) == 20_000 and TARIFF.carriage(same_province=False) == 32_000


def test_pickup_charges_with_prepaid_return_and_fees_collected_on_behalf() -> None:
    fee = Charge(kind=ChargeKind.DUTY, name="Lệ phí hộ tịch", amount=8_000, payer=Payer.AGENCY)
    charges = pickup_charges(
        TARIFF,
        submit=True,
        return_by_post=True,
        prepay_return=True,
        pickup_same_province=True,
        return_same_province=False,
        collected_fees=[fee],
    )
    assert [c.kind for c in charges] == [ChargeKind.CARRIAGE, ChargeKind.RETURN_CARRIAGE, ChargeKind.DUTY]
    assert [c.amount for c in charges] == [20_000, 32_000, 8_000]
    assert all(c.payer is Payer.CITIZEN for c in charges)
    assert total(charges) == 60_000


def test_return_carriage_is_collected_on_delivery_unless_prepaid() -> None:
    assert return_carriage(TARIFF, same_province=True, prepaid=False).amount == 20_000
    assert return_carriage(TARIFF, same_province=True, prepaid=True).amount == 0
    charges = pickup_charges(
        TARIFF,
        submit=True,
        return_by_post=True,
        prepay_return=False,
        pickup_same_province=True,
        return_same_province=True,
        collected_fees=[],
    )
    assert [c.kind for c in charges] == [ChargeKind.CARRIAGE]


def test_only_fees_and_duties_are_collected_on_the_agency_s_behalf() -> None:
    with pytest.raises(ValueError):
        pickup_charges(
            TARIFF,
            submit=True,
            return_by_post=False,
            prepay_return=False,
            pickup_same_province=True,
            return_same_province=True,
            collected_fees=[Charge(kind=ChargeKind.CARRIAGE, name="x", amount=1)],
        )


@pytest.mark.parametrize(
    ("reason", "fault", "payer"),
    [
        ("recipient_absent", Fault.CITIZEN, Payer.CITIZEN),
        ("wrong_address", Fault.CITIZEN, Payer.CITIZEN),
        ("refused", Fault.CITIZEN, Payer.CITIZEN),
        ("operator_delay", Fault.OPERATOR, Payer.OPERATOR),
        ("damaged", Fault.OPERATOR, Payer.OPERATOR),
        (None, Fault.OPERATOR, Payer.OPERATOR),
        ("something_new", Fault.OPERATOR, Payer.OPERATOR),
    ],
)
def test_redelivery_is_paid_by_whoever_is_at_fault(reason: str | None, fault: Fault, payer: Payer) -> None:
    assert fault_of(reason) is fault
    charge = redelivery_charge(TARIFF, base_carriage=20_000, reason_code=reason, attempt=1)
    assert charge.kind is ChargeKind.REDELIVERY and charge.amount == 10_000 and charge.payer is payer
    assert charge.name == "Cước phát lại lần 2"
    assert total([charge]) == (10_000 if payer is Payer.CITIZEN else 0)


def test_the_operator_is_liable_for_loss() -> None:
    charge = loss_compensation(TARIFF, reason="mất trên đường vận chuyển")
    assert charge.payer is Payer.OPERATOR and charge.amount == 400_000 and charge.kind is ChargeKind.COMPENSATION
