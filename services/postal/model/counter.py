"""Postal staff at a commune's one-stop counter (seed 001, Bình Dương). Pure.

The province approves a list of procedures postal staff may receive at commune counters
(`ApprovedList`, edited by a province administrator). A postal agent receives a dossier for
one of those procedures; the counter's one-stop officer supervises: confirms it (it is then
received, at the agent's reception moment) or rejects it with a reason. The officer must be
another person than the agent; who confirmed, when and why is kept (supervision record).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.postal.model.common import Actor, Address, Applicant, Component, Contact, HistoryEntry, PostalError


class ApprovedProcedure(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    name: str = Field("", max_length=500)
    level: str = Field("", max_length=20, description="commune | district | province (informative)")


class ApprovedList(BaseModel):
    """Danh mục TTHC giao nhân viên bưu điện tiếp nhận, approved by the province."""

    province_code: str
    procedures: list[ApprovedProcedure] = Field(default_factory=list)
    decision_ref: str = Field("", description="The province's approving decision (số quyết định)")
    updated_by: Actor | None = None
    updated_at: datetime | None = None
    version: int = 0

    def allows(self, procedure_code: str) -> bool:
        return any(p.code == procedure_code for p in self.procedures)

    def replace(self, procedures: list[ApprovedProcedure], *, decision_ref: str, by: Actor, now: datetime) -> None:
        codes = [p.code for p in procedures]
        if len(codes) != len(set(codes)):
            raise PostalError("duplicate_procedure", "A procedure is listed twice")
        self.procedures = procedures
        self.decision_ref = decision_ref
        self.updated_by = by
        self.updated_at = now


class CounterStatus(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Supervision(BaseModel):
    officer: Actor
    decision: CounterStatus
    at: datetime
    note: str = ""


class CounterReception(BaseModel):
    id: str
    dossier_id: str
    dossier_code: str | None = None
    office_id: str
    office_name: str = ""
    counter: str = ""
    unit_code: str
    unit_path: list[str]
    procedure_code: str
    procedure_name: str = ""
    applicant: Applicant
    components: list[Component]
    form_data: dict[str, Any] = Field(default_factory=dict)
    return_channel: str = "counter"
    return_address: Address | None = None
    return_contact: Contact | None = None
    status: CounterStatus = CounterStatus.AWAITING_CONFIRMATION
    received_by: Actor
    received_at: datetime
    supervision: Supervision | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    anonymised_at: datetime | None = Field(None, description="When a deletion request erased the personal data")
    version: int = 0

    @classmethod
    def receive(
        cls,
        *,
        approved: ApprovedList | None,
        id: str,
        dossier_id: str,
        office_id: str,
        office_name: str,
        counter: str,
        unit_path: list[str],
        procedure_code: str,
        procedure_name: str,
        applicant: Applicant,
        components: list[Component],
        form_data: dict[str, Any],
        return_channel: str,
        return_address: Address | None,
        return_contact: Contact | None,
        agent: Actor,
        now: datetime,
    ) -> CounterReception:
        if not unit_path:
            raise PostalError("unit_required", "The counter's administrative unit is required")
        if approved is None or not approved.allows(procedure_code):
            raise PostalError(
                "procedure_not_approved",
                f"Procedure {procedure_code} is not on the province's list for postal staff at counters",
            )
        if not components:
            raise PostalError("components_required", "List the papers received")
        if return_channel == "postal" and (return_address is None or return_contact is None):
            raise PostalError("address_required", "An address and contact are needed to return the result by post")
        reception = cls(
            id=id,
            dossier_id=dossier_id,
            office_id=office_id,
            office_name=office_name,
            counter=counter,
            unit_code=unit_path[0],
            unit_path=list(unit_path),
            procedure_code=procedure_code,
            procedure_name=procedure_name,
            applicant=applicant,
            components=components,
            form_data=form_data,
            return_channel=return_channel,
            return_address=return_address if return_channel == "postal" else None,
            return_contact=return_contact if return_channel == "postal" else None,
            received_by=agent,
            received_at=now,
        )
        reception.history.append(HistoryEntry(at=now, action="received", by=agent.subject, note=counter))
        return reception

    def supervise(self, *, officer: Actor, confirm: bool, note: str, now: datetime) -> None:
        if self.status is not CounterStatus.AWAITING_CONFIRMATION:
            raise PostalError("already_supervised", f"The reception is already {self.status.value}")
        if officer.subject == self.received_by.subject:
            raise PostalError("same_person", "The supervising officer cannot confirm their own reception")
        if not confirm and not note.strip():
            raise PostalError("reason_required", "Give the reason for rejecting the reception")
        self.status = CounterStatus.CONFIRMED if confirm else CounterStatus.REJECTED
        self.supervision = Supervision(officer=officer, decision=self.status, at=now, note=note)
        self.history.append(HistoryEntry(at=now, action=self.status.value, by=officer.subject, note=note))
