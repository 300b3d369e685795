"""Pickup orders (thu gom hồ sơ tại nhà), the paper check and the dispatch slip (phiếu gửi). Pure.

A citizen — online, or by phone through an officer — asks the post to collect a dossier for a
procedure (`submit`), to bring the result home (`receive`), or both. For `submit`:

1. the order is placed with the postal operator, whose item code is the dispatch slip number;
2. at the citizen's address the postal worker checks the papers against the procedure's
   published list (the components given with the order) and helps complete them;
3. when complete, worker and sender sign the dispatch slip, the package is sealed in front of
   the citizen and carriage (and fees collected on the agency's behalf) is paid;
4. at the office the slip goes on a hand-over record (see `handover.py`); the order is then
   handed over and the dossier counts as submitted.

A `receive`-only order names a dossier already received elsewhere: it only records where the
result should be delivered.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.postal.model.common import (
    Actor,
    Address,
    Applicant,
    Component,
    ComponentCheck,
    Contact,
    HistoryEntry,
    PostalError,
    Signature,
    SignatureMethod,
)
from services.postal.model.status import ShipmentStatus
from services.postal.model.tariff import Charge, Payer, Tariff, pickup_charges, same_province, total
from services.postal.model.tracking import Tracked


class PostalOption(StrEnum):
    SUBMIT = "submit"  # gửi hồ sơ qua bưu chính
    RECEIVE = "receive"  # nhận kết quả qua bưu chính
    BOTH = "both"

    @property
    def submits(self) -> bool:
        return self is not PostalOption.RECEIVE

    @property
    def returns(self) -> bool:
        return self is not PostalOption.SUBMIT


class PickupStatus(StrEnum):
    REQUESTED = "requested"  # received from the citizen / the officer
    SCHEDULED = "scheduled"  # pickup order placed with the operator (slip number known)
    COLLECTED = "collected"  # papers checked, dispatch slip signed, sealed, paid
    HANDED_OVER = "handed_over"  # on a signed hand-over record: the dossier is submitted
    AWAITING_RESULT = "awaiting_result"  # receive-only: waiting for the result to deliver
    CANCELLED = "cancelled"


class RequestChannel(StrEnum):
    ONLINE = "online"  # the citizen, on the public endpoint
    PHONE = "phone"  # by phone through an officer


class PaperCheck(BaseModel):
    items: list[ComponentCheck]
    complete: bool
    missing: list[str] = Field(default_factory=list, description="Names of missing required papers")
    checked_by: Actor
    checked_at: datetime


class DispatchSlip(BaseModel):
    """Phiếu gửi: numbered, signed by the postal worker and the sender, sealed, paid."""

    number: str
    sender_signature: Signature
    worker_signature: Signature
    seal_number: str
    sealed_at: datetime
    charges: list[Charge]
    total_collected: int
    receipt_number: str


class PickupOrder(Tracked):
    id: str
    ref: str = Field(description="Short reference given to the citizen")
    option: PostalOption
    status: PickupStatus
    requested_via: RequestChannel
    requested_by: Actor | None = None
    office_id: str
    office_name: str = ""
    unit_code: str
    unit_path: list[str]
    procedure_code: str
    procedure_name: str = ""
    applicant: Applicant
    contact: Contact
    pickup_address: Address | None = None
    return_address: Address | None = None
    return_contact: Contact | None = None
    components: list[Component] = Field(default_factory=list)
    form_data: dict[str, Any] = Field(default_factory=dict)
    preferred_time: str = ""
    note: str = ""
    dossier_id: str | None = None
    dossier_code: str | None = None
    operator: str | None = None
    order_code: str | None = None
    tracking_number: str | None = None
    order_attempts: int = 0
    order_error: str | None = None
    check: PaperCheck | None = None
    slip: DispatchSlip | None = None
    handover_id: str | None = None
    handover_number: str | None = None
    handed_over_at: datetime | None = None
    cancel_reason: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    anonymised_at: datetime | None = Field(None, description="When a deletion request erased the personal data")
    version: int = 0

    # ---- creation ------------------------------------------------------------------------
    @classmethod
    def request(
        cls,
        *,
        id: str,
        ref: str,
        option: PostalOption,
        via: RequestChannel,
        by: Actor | None,
        office_id: str,
        office_name: str,
        unit_path: list[str],
        procedure_code: str,
        procedure_name: str,
        applicant: Applicant,
        contact: Contact,
        pickup_address: Address | None,
        return_address: Address | None,
        return_contact: Contact | None,
        components: list[Component],
        form_data: dict[str, Any],
        dossier_id: str | None,
        dossier_code: str | None,
        preferred_time: str,
        note: str,
        now: datetime,
    ) -> PickupOrder:
        if not unit_path:
            raise PostalError("unit_required", "The receiving office's administrative unit is required")
        if option.submits:
            if pickup_address is None:
                raise PostalError("address_required", "A pickup address (province, commune, street) is required")
            if not components:
                raise PostalError("components_required", "List the dossier's papers (from the published catalogue)")
            ids = [c.component_id for c in components]
            if len(ids) != len(set(ids)):
                raise PostalError("duplicate_component", "A paper is listed twice")
        else:
            if not dossier_code:
                raise PostalError(
                    "dossier_code_required", "To receive a result by post, give the code of the received dossier"
                )
        if option.returns and (return_address or pickup_address) is None:
            raise PostalError("address_required", "An address for the result is required")
        order = cls(
            id=id,
            ref=ref,
            option=option,
            status=PickupStatus.REQUESTED if option.submits else PickupStatus.AWAITING_RESULT,
            shipment_status=ShipmentStatus.PENDING_ORDER,  # receive-only orders never place one
            requested_via=via,
            requested_by=by,
            office_id=office_id,
            office_name=office_name,
            unit_code=unit_path[0],
            unit_path=list(unit_path),
            procedure_code=procedure_code,
            procedure_name=procedure_name,
            applicant=applicant,
            contact=contact,
            pickup_address=pickup_address if option.submits else None,
            return_address=(return_address or pickup_address) if option.returns else None,
            return_contact=(return_contact or contact) if option.returns else None,
            components=components if option.submits else [],
            form_data=form_data,
            dossier_id=dossier_id,
            dossier_code=dossier_code,
            preferred_time=preferred_time,
            note=note,
            created_at=now,
            updated_at=now,
        )
        order._log(now, "requested", by.subject if by else "citizen", via.value)
        return order

    def _log(self, now: datetime, action: str, by: str, note: str = "") -> None:
        self.history.append(HistoryEntry(at=now, action=action, by=by, note=note))
        self.updated_at = now

    @property
    def province_code(self) -> str | None:
        return self.unit_path[-1] if self.unit_path else None

    @property
    def needs_order(self) -> bool:
        return self.status is PickupStatus.REQUESTED and self.order_code is None

    # ---- operator order ------------------------------------------------------------------
    def scheduled(self, *, operator: str, order_code: str, tracking_number: str, now: datetime) -> bool:
        """The operator accepted the pickup order; its item code numbers the dispatch slip."""
        if self.status is not PickupStatus.REQUESTED:
            return False
        self.status = PickupStatus.SCHEDULED
        self.operator, self.order_code, self.tracking_number = operator, order_code, tracking_number
        self.order_error = None
        self.advance(ShipmentStatus.CREATED, at=now, source="system")
        self._log(now, "scheduled", f"operator:{operator}", tracking_number)
        return True

    def order_failed(self, error: str, now: datetime) -> None:
        self.order_attempts += 1
        self.order_error = error[:500]
        self.updated_at = now

    # ---- at the citizen's door -----------------------------------------------------------
    def check_papers(self, items: list[ComponentCheck], *, by: Actor, now: datetime) -> PaperCheck:
        """Check each listed paper; the check may be repeated after the citizen completes them."""
        if self.status not in (PickupStatus.REQUESTED, PickupStatus.SCHEDULED):
            raise PostalError("not_collectable", f"The pickup is {self.status.value}: papers can no longer be checked")
        listed = {c.component_id: c for c in self.components}
        given = {i.component_id: i for i in items}
        unknown = sorted(set(given) - set(listed))
        if unknown:
            raise PostalError("unknown_component", f"Not on the procedure's list: {', '.join(unknown)}")
        unchecked = [c.component_id for c in self.components if c.component_id not in given]
        if unchecked:
            raise PostalError("unchecked_component", f"Check every listed paper: {', '.join(unchecked)}")
        missing = [
            listed[i.component_id].name or i.component_id
            for i in items
            if listed[i.component_id].required and (not i.present or i.count < listed[i.component_id].count)
        ]
        self.check = PaperCheck(items=items, complete=not missing, missing=missing, checked_by=by, checked_at=now)
        self._log(now, "papers_checked", by.subject, "complete" if not missing else "missing: " + "; ".join(missing))
        return self.check

    def sign_slip(
        self,
        *,
        worker: Actor,
        sender_name: str,
        sender_method: str,
        seal_number: str,
        collected_fees: list[Charge],
        prepay_return: bool,
        tariff: Tariff,
        receipt_number: str,
        slip_number: str | None,
        now: datetime,
    ) -> DispatchSlip:
        """Both sign the dispatch slip; the package is sealed and charges are collected."""
        if self.status not in (PickupStatus.REQUESTED, PickupStatus.SCHEDULED):
            raise PostalError("not_collectable", f"The pickup is {self.status.value}")
        if self.check is None or not self.check.complete:
            raise PostalError("papers_incomplete", "Check the papers and complete them before signing the slip")
        number = self.tracking_number or slip_number
        if not number:
            raise PostalError("no_slip_number", "The operator has not numbered the dispatch slip yet")
        if not seal_number.strip():
            raise PostalError("seal_required", "The package is sealed in front of the sender: give the seal number")
        charges = pickup_charges(
            tariff,
            submit=True,
            return_by_post=self.option.returns,
            prepay_return=prepay_return,
            pickup_same_province=same_province(
                self.pickup_address.province_code if self.pickup_address else None, self.province_code
            ),
            return_same_province=same_province(
                self.return_address.province_code if self.return_address else None, self.province_code
            ),
            collected_fees=collected_fees,
        )
        self.slip = DispatchSlip(
            number=number,
            sender_signature=Signature(name=sender_name, role="sender", method=SignatureMethod(sender_method), at=now),
            worker_signature=Signature(
                name=worker.name or worker.subject, subject=worker.subject, role="postal_worker", at=now
            ),
            seal_number=seal_number.strip(),
            sealed_at=now,
            charges=charges,
            total_collected=total(charges, Payer.CITIZEN),
            receipt_number=receipt_number,
        )
        self.tracking_number = number
        self.status = PickupStatus.COLLECTED
        self.advance(ShipmentStatus.PICKED_UP, at=now, source="staff")
        self._log(now, "slip_signed", worker.subject, f"{number}; {self.slip.total_collected} VND")
        return self.slip

    @property
    def return_prepaid(self) -> bool:
        return bool(self.slip and any(c.kind.value == "return_carriage" for c in self.slip.charges))

    # ---- at the office -------------------------------------------------------------------
    def put_on_record(self, handover_id: str, number: str) -> None:
        if self.status is not PickupStatus.COLLECTED:
            raise PostalError("not_collected", f"Pickup {self.ref} is {self.status.value}, not collected")
        if self.handover_id and self.handover_id != handover_id:
            raise PostalError(
                "on_another_record", f"Slip {self.tracking_number} is already on record {self.handover_number}"
            )
        self.handover_id, self.handover_number = handover_id, number

    def take_off_record(self, handover_id: str, now: datetime) -> None:
        if self.handover_id == handover_id and self.status is PickupStatus.COLLECTED:
            self.handover_id = self.handover_number = None
            self.updated_at = now

    def handed_over(self, *, handover_id: str, at: datetime) -> None:
        if self.handover_id != handover_id or self.status is not PickupStatus.COLLECTED:
            raise PostalError("not_on_record", f"Pickup {self.ref} is not on this record")
        self.status = PickupStatus.HANDED_OVER
        self.handed_over_at = at
        self.advance(ShipmentStatus.HANDED_OVER, at=at, source="staff")
        self._log(at, "handed_over", "system", self.handover_number or "")

    # ---- cancellation --------------------------------------------------------------------
    def cancel(self, reason: str, *, by: str, now: datetime) -> None:
        if self.status not in (PickupStatus.REQUESTED, PickupStatus.SCHEDULED, PickupStatus.AWAITING_RESULT):
            raise PostalError("not_cancellable", f"The pickup is {self.status.value} and can no longer be cancelled")
        self.status = PickupStatus.CANCELLED
        self.cancel_reason = reason
        self.advance(ShipmentStatus.CANCELLED, at=now, source="staff")
        self._log(now, "cancelled", by, reason)
