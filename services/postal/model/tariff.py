"""Fees and charges of the public postal service for administrative procedures. Pure.

Who pays what (Decision 45/2016, DOMAIN §6): the citizen pays carriage (submission and/or
return); procedure fees may be collected on the agency's behalf (thu hộ phí, lệ phí);
re-delivery is paid by whoever is at fault — the citizen (absent, wrong address, refused) or
the operator (its own delay, damage, misrouting), the latter costing the citizen nothing;
the operator is liable for loss. Every amount is a tariff setting **[check]**: provinces sign
their own price lists with the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field


class Fault(StrEnum):
    CITIZEN = "citizen"
    OPERATOR = "operator"


class Payer(StrEnum):
    CITIZEN = "citizen"
    OPERATOR = "operator"
    AGENCY = "agency"


class ChargeKind(StrEnum):
    CARRIAGE = "carriage"  # cước gửi hồ sơ
    RETURN_CARRIAGE = "return_carriage"  # cước chuyển trả kết quả
    REDELIVERY = "redelivery"  # cước phát lại
    FEE = "fee"  # phí (thu hộ)
    DUTY = "duty"  # lệ phí (thu hộ)
    COMPENSATION = "compensation"  # bồi thường (mất, hư hỏng)


class Charge(BaseModel):
    kind: ChargeKind
    name: str
    amount: int = Field(ge=0, le=1_000_000_000_000, description="VND")  # bounded: stored as a 64-bit int
    payer: Payer = Payer.CITIZEN
    reason: str = ""


#: operator reason codes for a failed delivery, by who is at fault
CITIZEN_REASONS: frozenset[str] = frozenset(
    {"recipient_absent", "wrong_address", "refused", "phone_unreachable", "recipient_moved"}
)
OPERATOR_REASONS: frozenset[str] = frozenset(
    {"operator_delay", "damaged", "misrouted", "vehicle_breakdown", "staff_shortage"}
)

REASON_LABELS_VI: dict[str, str] = {
    "recipient_absent": "Người nhận vắng nhà",
    "wrong_address": "Sai địa chỉ",
    "refused": "Người nhận từ chối nhận",
    "phone_unreachable": "Không liên lạc được người nhận",
    "recipient_moved": "Người nhận đã chuyển đi",
    "operator_delay": "Bưu điện phát chậm",
    "damaged": "Bưu gửi bị hư hỏng",
    "misrouted": "Bưu điện chuyển sai tuyến",
    "vehicle_breakdown": "Sự cố phương tiện của bưu điện",
    "staff_shortage": "Bưu điện thiếu nhân viên phát",
}


def fault_of(reason_code: str | None) -> Fault:
    """Who caused a failed attempt. An unknown or missing reason is not held against the citizen."""
    return Fault.CITIZEN if (reason_code or "") in CITIZEN_REASONS else Fault.OPERATOR


@dataclass(frozen=True)
class Tariff:
    """Price list (VND). Defaults are placeholders for the demo, configured per deployment."""

    carriage_in_province: int = 25_000
    carriage_out_of_province: int = 35_000
    redelivery_percent: int = 50  # of the return carriage, per extra attempt
    loss_compensation: int = 500_000  # per lost dossier or result [check]
    max_attempts: int = 3  # first delivery + re-deliveries before returning to the office

    def carriage(self, *, same_province: bool) -> int:
        return self.carriage_in_province if same_province else self.carriage_out_of_province


def same_province(address_province_code: str | None, office_province_code: str | None) -> bool:
    """Unknown codes count as in-province (the cheaper price) rather than overcharging."""
    if not address_province_code or not office_province_code:
        return True
    return address_province_code == office_province_code


def pickup_charges(
    tariff: Tariff,
    *,
    submit: bool,
    return_by_post: bool,
    prepay_return: bool,
    pickup_same_province: bool,
    return_same_province: bool,
    collected_fees: list[Charge],
) -> list[Charge]:
    """What the postal worker collects when signing the dispatch slip."""
    charges: list[Charge] = []
    if submit:
        charges.append(
            Charge(
                kind=ChargeKind.CARRIAGE,
                name="Cước dịch vụ thu gom, chuyển phát hồ sơ",
                amount=tariff.carriage(same_province=pickup_same_province),
            )
        )
    if return_by_post and prepay_return:
        charges.append(
            Charge(
                kind=ChargeKind.RETURN_CARRIAGE,
                name="Cước chuyển trả kết quả (trả trước)",
                amount=tariff.carriage(same_province=return_same_province),
            )
        )
    for fee in collected_fees:
        if fee.kind not in (ChargeKind.FEE, ChargeKind.DUTY):
            raise ValueError("only fees and duties (phí, lệ phí) are collected on the agency's behalf")
        charges.append(fee.model_copy(update={"payer": Payer.CITIZEN}))
    return charges


def return_carriage(tariff: Tariff, *, same_province: bool, prepaid: bool) -> Charge:
    """The carriage of a result delivery: prepaid at pickup, or collected on delivery (COD)."""
    return Charge(
        kind=ChargeKind.RETURN_CARRIAGE,
        name="Cước chuyển trả kết quả" + (" (đã thu khi gửi)" if prepaid else " (thu khi phát)"),
        amount=0 if prepaid else tariff.carriage(same_province=same_province),
        payer=Payer.CITIZEN,
    )


def redelivery_charge(tariff: Tariff, *, base_carriage: int, reason_code: str | None, attempt: int) -> Charge:
    """The charge for re-delivering after failed attempt `attempt`, paid by whoever is at fault."""
    fault = fault_of(reason_code)
    amount = base_carriage * tariff.redelivery_percent // 100
    label = REASON_LABELS_VI.get(reason_code or "", reason_code or "không rõ lý do")
    return Charge(
        kind=ChargeKind.REDELIVERY,
        name=f"Cước phát lại lần {attempt + 1}",
        amount=amount,
        payer=Payer.CITIZEN if fault is Fault.CITIZEN else Payer.OPERATOR,
        reason=label,
    )


def loss_compensation(tariff: Tariff, *, reason: str) -> Charge:
    """The operator's liability for a lost item (recorded; paid by the operator)."""
    return Charge(
        kind=ChargeKind.COMPENSATION,
        name="Bồi thường bưu gửi bị mất",
        amount=tariff.loss_compensation,
        payer=Payer.OPERATOR,
        reason=reason,
    )


def total(charges: list[Charge], payer: Payer = Payer.CITIZEN) -> int:
    return sum(c.amount for c in charges if c.payer is payer)
