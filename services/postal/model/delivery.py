"""Delivery of results to the citizen's home (chuyển trả kết quả qua bưu chính). Pure.

When a dossier whose result goes back by post becomes result-ready, a delivery is opened with
the address the citizen gave (at pickup, or registered later by an officer). The operator
order is placed, then the operator's webhooks move it forward:

    created → picked_up → in_transit → out_for_delivery(1) → delivered
                                     ↘ failed(1) → [re-delivery requested] → out_for_delivery(2) …
                                       failed(max) → [return requested] → returning → returned

After a failed attempt postal decides, here: re-deliver while attempts remain, otherwise
return the result to the office. The re-delivery is charged to whoever caused the failure
(`tariff.redelivery_charge`); a loss is the operator's liability (compensation recorded).
Calls to the operator happen outside this model: `next_action` says what is owed, and the
service clears it once the operator accepted the call (retried until it does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.postal.model.common import Actor, Address, Contact, HistoryEntry, PostalError
from services.postal.model.status import ShipmentStatus, is_terminal
from services.postal.model.tariff import (
    REASON_LABELS_VI,
    Charge,
    ChargeKind,
    Fault,
    Tariff,
    fault_of,
    loss_compensation,
    redelivery_charge,
    return_carriage,
    same_province,
)
from services.postal.model.tracking import Tracked


class NextAction(StrEnum):
    PLACE_ORDER = "place_order"
    REDELIVER = "redeliver"
    RETURN = "return"


class Recipient(BaseModel):
    name: str
    phone: str | None = None
    email: str | None = None


class FailedAttempt(BaseModel):
    attempt: int
    reason_code: str | None
    reason: str
    fault: Fault
    at: datetime


@dataclass(frozen=True)
class Applied:
    """What an operator status did to a delivery."""

    moved: bool
    charge: Charge | None = None
    fault: Fault | None = None
    reason: str | None = None


class Delivery(Tracked):
    id: str
    dossier_id: str
    dossier_code: str
    procedure_code: str = ""
    procedure_name: str = ""
    office_id: str
    unit_code: str
    unit_path: list[str]
    recipient: Recipient
    address: Address | None = None
    contact: Contact | None = None
    pickup_id: str | None = Field(None, description="The pickup order or counter reception that gave the address")
    source_event_id: str | None = None
    return_prepaid: bool = False
    max_attempts: int
    operator: str | None = None
    order_code: str | None = None
    tracking_number: str | None = None
    next_action: NextAction | None = None
    action_attempts: int = 0
    action_error: str | None = None
    handover_id: str | None = Field(None, description="The office → post hand-over record listing it")
    handover_number: str | None = None
    handed_over_at: datetime | None = Field(None, description="When the record was signed by both sides")
    failures: list[FailedAttempt] = Field(default_factory=list)
    charges: list[Charge] = Field(default_factory=list)
    liability: Charge | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    anonymised_at: datetime | None = Field(None, description="When a deletion request erased the personal data")
    version: int = 0

    @classmethod
    def for_result(
        cls,
        *,
        id: str,
        dossier_id: str,
        dossier_code: str,
        procedure_code: str,
        procedure_name: str,
        office_id: str,
        unit_path: list[str],
        recipient: Recipient,
        address: Address | None,
        contact: Contact | None,
        pickup_id: str | None,
        return_prepaid: bool,
        source_event_id: str | None,
        tariff: Tariff,
        now: datetime,
    ) -> Delivery:
        delivery = cls(
            id=id,
            dossier_id=dossier_id,
            dossier_code=dossier_code,
            procedure_code=procedure_code,
            procedure_name=procedure_name,
            office_id=office_id,
            unit_code=unit_path[0] if unit_path else "",
            unit_path=list(unit_path),
            recipient=recipient,
            address=address,
            contact=contact,
            pickup_id=pickup_id,
            return_prepaid=return_prepaid,
            source_event_id=source_event_id,
            max_attempts=tariff.max_attempts,
            shipment_status=ShipmentStatus.AWAITING_ADDRESS,
            created_at=now,
            updated_at=now,
        )
        delivery._log(now, "opened", "system", "result ready")
        if address is not None and contact is not None:
            delivery.advance(ShipmentStatus.PENDING_ORDER, at=now, source="system")
            delivery.next_action = NextAction.PLACE_ORDER
        return delivery

    def _log(self, now: datetime, action: str, by: str, note: str = "") -> None:
        self.history.append(HistoryEntry(at=now, action=action, by=by, note=note))
        self.updated_at = now

    @property
    def province_code(self) -> str | None:
        return self.unit_path[-1] if self.unit_path else None

    @property
    def base_carriage(self) -> int:
        for charge in self.charges:
            if charge.kind is ChargeKind.RETURN_CARRIAGE and charge.amount:
                return charge.amount
        return 0

    # ---- address and operator order --------------------------------------------------------
    def set_address(self, address: Address, contact: Contact, *, by: Actor, now: datetime) -> None:
        if self.shipment_status not in (ShipmentStatus.AWAITING_ADDRESS, ShipmentStatus.PENDING_ORDER):
            raise PostalError("order_placed", "The delivery order is already with the operator")
        self.address, self.contact = address, contact
        self.advance(ShipmentStatus.PENDING_ORDER, at=now, source="staff")
        self.next_action = NextAction.PLACE_ORDER
        self._log(now, "address_set", by.subject, address.line())

    def order_placed(
        self, *, operator: str, order_code: str, tracking_number: str, fee: int | None, tariff: Tariff, now: datetime
    ) -> bool:
        if self.shipment_status is not ShipmentStatus.PENDING_ORDER:
            return False
        self.operator, self.order_code, self.tracking_number = operator, order_code, tracking_number
        self.next_action, self.action_attempts, self.action_error = None, 0, None
        carriage = return_carriage(
            tariff,
            same_province=same_province(self.address.province_code if self.address else None, self.province_code),
            prepaid=self.return_prepaid,
        )
        self.charges.append(carriage)
        self.advance(ShipmentStatus.CREATED, at=now, source="system")
        self._log(now, "order_placed", f"operator:{operator}", tracking_number)
        return True

    def action_failed(self, error: str, now: datetime) -> None:
        self.action_attempts += 1
        self.action_error = error[:500]
        self.updated_at = now

    def action_done(self, action: NextAction, now: datetime) -> ShipmentStatus | None:
        """The operator accepted a re-delivery or return request. Returns a new status, if any."""
        if self.next_action is not action:
            return None
        self.next_action, self.action_attempts, self.action_error = None, 0, None
        if action is NextAction.REDELIVER:
            self._log(now, "redelivery_requested", "system", f"attempt {self.attempt + 1}")
            return None
        if action is NextAction.RETURN:
            self._log(now, "return_requested", "system")
            if self.advance(ShipmentStatus.RETURNING, at=now, source="system"):
                return ShipmentStatus.RETURNING
        return None

    # ---- office → post hand-over record ----------------------------------------------------
    def put_on_record(self, record_id: str, number: str) -> None:
        """List the result on a hand-over record: the operator's order is placed (item number
        known) and the post has not taken it yet (or only scanned it at the counter)."""
        if self.shipment_status not in (ShipmentStatus.CREATED, ShipmentStatus.PICKED_UP) or not self.tracking_number:
            raise PostalError(
                "not_ready_for_handover",
                f"The delivery of {self.dossier_code} is {self.shipment_status.value}: "
                "only a result with a placed order, not yet on its way, is handed to the post",
            )
        if self.handover_id and self.handover_id != record_id:
            raise PostalError(
                "on_another_record", f"Item {self.tracking_number} is already on record {self.handover_number}"
            )
        self.handover_id, self.handover_number = record_id, number

    def take_off_record(self, record_id: str, now: datetime) -> None:
        if self.handover_id == record_id and self.handed_over_at is None:
            self.handover_id = self.handover_number = None
            self.updated_at = now

    def handed_to_post(self, *, record_id: str, at: datetime) -> bool:
        """Both sides signed: the post holds the result (picked up). True when the status moved."""
        if self.handover_id != record_id:
            raise PostalError("not_on_record", f"Item {self.tracking_number} is not on this record")
        self.handed_over_at = at
        moved = self.advance(ShipmentStatus.PICKED_UP, at=at, source="staff", note=self.handover_number or "")
        self._log(at, "handed_to_post", "system", self.handover_number or "")
        return moved

    # ---- the operator's statuses -----------------------------------------------------------
    def apply_operator_status(
        self,
        status: ShipmentStatus,
        *,
        attempt: int,
        at: datetime,
        event_id: str | None,
        reason_code: str | None,
        note: str,
        tariff: Tariff,
    ) -> Applied:
        if status in (ShipmentStatus.AWAITING_ADDRESS, ShipmentStatus.PENDING_ORDER, ShipmentStatus.HANDED_OVER):
            return Applied(False)
        moved = self.advance(
            status, at=at, source="operator", attempt=attempt, event_id=event_id, reason_code=reason_code, note=note
        )
        if not moved:
            return Applied(False)
        if status is ShipmentStatus.FAILED:
            return self._failed(self.attempt, reason_code, at, tariff)
        if status is ShipmentStatus.OUT_FOR_DELIVERY and self.next_action is NextAction.REDELIVER:
            self.next_action = None  # the operator re-attempts on its own
        if status is ShipmentStatus.LOST:
            return self._lost(note or "operator reported the item lost", at, tariff)
        if is_terminal(status) or status is ShipmentStatus.RETURNING:
            self.next_action = None
        return Applied(True)

    def _failed(self, attempt: int, reason_code: str | None, at: datetime, tariff: Tariff) -> Applied:
        fault = fault_of(reason_code)
        reason = REASON_LABELS_VI.get(reason_code or "", reason_code or "không rõ lý do")
        self.failures.append(FailedAttempt(attempt=attempt, reason_code=reason_code, reason=reason, fault=fault, at=at))
        charge: Charge | None = None
        if attempt < self.max_attempts:
            charge = redelivery_charge(
                tariff,
                base_carriage=self.base_carriage or tariff.carriage_in_province,
                reason_code=reason_code,
                attempt=attempt,
            )
            self.charges.append(charge)
            self.next_action = NextAction.REDELIVER
            self._log(at, "failed", "operator", f"attempt {attempt}: {reason} ({fault.value}); re-deliver")
        else:
            self.next_action = NextAction.RETURN
            self._log(at, "failed", "operator", f"attempt {attempt}: {reason} ({fault.value}); return to the office")
        return Applied(True, charge=charge, fault=fault, reason=reason)

    def _lost(self, note: str, at: datetime, tariff: Tariff) -> Applied:
        self.liability = loss_compensation(tariff, reason=note)
        self.charges.append(self.liability)
        self.next_action = None
        self._log(at, "lost", "operator", note)
        return Applied(True, charge=self.liability, fault=Fault.OPERATOR, reason=note)

    def report_lost(self, *, by: Actor, note: str, tariff: Tariff, now: datetime) -> Applied:
        """Staff record a loss the operator confirmed (outside the webhooks)."""
        if not self.advance(ShipmentStatus.LOST, at=now, source="staff", note=note):
            raise PostalError("not_open", f"The delivery is {self.shipment_status.value}")
        return self._lost(f"{note} (ghi nhận bởi {by.name or by.subject})", now, tariff)
