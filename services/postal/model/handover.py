"""Hand-over records (biên bản giao nhận) between the post and the office. Pure.

Two kinds, one set of rules:

- `dossiers` (post → office): the postal worker lists the dispatch slips of the dossiers
  collected for one office; from the record's signature every listed dossier counts as
  submitted (DOMAIN §6);
- `results` (office → post): the one-stop officer lists the results going home by post
  (each with the operator's item number); from the signature the post holds them: each
  delivery is picked up.

Both sides count the packages and sign. The record is binding only with **both** signatures,
and takes effect at the later one. A side signs once; each side's count must match the list
(a package missing at the count is taken off the record first). A record can be cancelled
only before it is signed by both, which frees its items for another record.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.postal.model.common import Actor, HistoryEntry, PostalError, Signature


class HandoverStatus(StrEnum):
    DRAFT = "draft"  # listed, waiting for signatures
    SIGNED = "signed"  # both sides signed: the dossiers are submitted
    CANCELLED = "cancelled"


class Side(StrEnum):
    POSTAL = "postal"  # nhân viên bưu chính (bên giao hồ sơ, bên nhận kết quả)
    OFFICE = "office"  # công chức bộ phận một cửa (bên nhận hồ sơ, bên giao kết quả)


class HandoverKind(StrEnum):
    DOSSIERS = "dossiers"  # biên bản giao nhận hồ sơ: post → office
    RESULTS = "results"  # biên bản giao nhận kết quả: office → post

    @property
    def giver(self) -> Side:
        return Side.POSTAL if self is HandoverKind.DOSSIERS else Side.OFFICE


class HandoverItem(BaseModel):
    pickup_id: str | None = Field(None, description="dossiers: the pickup order")
    delivery_id: str | None = Field(None, description="results: the delivery")
    slip_number: str = Field(description="Dispatch slip / the operator's item number (số hiệu bưu gửi)")
    dossier_id: str | None
    dossier_code: str | None = None
    procedure_code: str
    procedure_name: str = ""
    applicant_name: str = Field(description="The applicant (dossiers) or the recipient (results)")
    address: str = Field("", description="results: where the result goes")
    papers: int = Field(1, description="Number of papers (copies) in the sealed package")

    @property
    def item_id(self) -> str:
        return self.pickup_id or self.delivery_id or ""


class HandoverSignature(Signature):
    counted: int = Field(description="Packages counted by this side")


class HandoverRecord(BaseModel):
    id: str
    number: str
    office_id: str
    office_name: str = ""
    unit_code: str
    unit_path: list[str]
    kind: HandoverKind = HandoverKind.DOSSIERS
    status: HandoverStatus = HandoverStatus.DRAFT
    items: list[HandoverItem]
    postal_signature: HandoverSignature | None = None
    office_signature: HandoverSignature | None = None
    signed_at: datetime | None = None
    created_by: Actor
    created_at: datetime
    updated_at: datetime
    cancel_reason: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    version: int = 0

    @classmethod
    def draft(
        cls,
        *,
        id: str,
        number: str,
        office_id: str,
        office_name: str,
        unit_path: list[str],
        items: list[HandoverItem],
        by: Actor,
        now: datetime,
        kind: HandoverKind = HandoverKind.DOSSIERS,
    ) -> HandoverRecord:
        if not items:
            raise PostalError("empty_record", "A hand-over record lists at least one dispatch slip")
        slips = [i.slip_number for i in items]
        if len(slips) != len(set(slips)) or len({i.item_id for i in items}) != len(items):
            raise PostalError("duplicate_slip", "A dispatch slip is listed twice")
        if any(not s for s in slips):
            raise PostalError("no_slip_number", "Every package on a record carries its item number")
        record = cls(
            id=id,
            number=number,
            office_id=office_id,
            office_name=office_name,
            unit_code=unit_path[0],
            unit_path=list(unit_path),
            kind=kind,
            items=items,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        record.history.append(HistoryEntry(at=now, action="drafted", by=by.subject, note=f"{len(items)} slips"))
        return record

    @property
    def complete(self) -> bool:
        return self.postal_signature is not None and self.office_signature is not None

    def sign(self, side: Side, *, by: Actor, counted: int, now: datetime) -> bool:
        """One side signs after counting; True when this signature completes the record."""
        if self.status is not HandoverStatus.DRAFT:
            raise PostalError("not_signable", f"The record is {self.status.value}")
        if counted != len(self.items):
            raise PostalError(
                "count_mismatch",
                f"{counted} packages counted but {len(self.items)} listed: take the missing slips off the record first",
            )
        current = self.postal_signature if side is Side.POSTAL else self.office_signature
        if current is not None:
            raise PostalError("already_signed", f"The {side.value} side already signed at {current.at.isoformat()}")
        other = self.office_signature if side is Side.POSTAL else self.postal_signature
        if other is not None and other.subject == by.subject:
            raise PostalError("same_person", "The two sides of a hand-over must be different people")
        signature = HandoverSignature(
            name=by.name or by.subject,
            subject=by.subject,
            role="postal_worker" if side is Side.POSTAL else "office_officer",
            at=now,
            counted=counted,
        )
        if side is Side.POSTAL:
            self.postal_signature = signature
        else:
            self.office_signature = signature
        self.updated_at = now
        self.history.append(HistoryEntry(at=now, action=f"signed_{side.value}", by=by.subject, note=str(counted)))
        if self.complete:
            self.status = HandoverStatus.SIGNED
            self.signed_at = now
            return True
        return False

    def remove(self, item_id: str, *, by: Actor, now: datetime) -> HandoverItem:
        """Take a slip off a record nobody has signed yet (package missing or damaged)."""
        if self.status is not HandoverStatus.DRAFT or self.postal_signature or self.office_signature:
            raise PostalError("not_editable", "A record is edited only before anyone signs it")
        for item in self.items:
            if item.item_id == item_id:
                if len(self.items) == 1:
                    raise PostalError("empty_record", "Cancel the record instead of removing its last slip")
                self.items = [i for i in self.items if i.item_id != item_id]
                self.updated_at = now
                self.history.append(HistoryEntry(at=now, action="removed", by=by.subject, note=item.slip_number))
                return item
        raise PostalError("not_on_record", "That item is not on this record")

    def cancel(self, reason: str, *, by: Actor, now: datetime) -> None:
        if self.status is not HandoverStatus.DRAFT:
            raise PostalError("not_cancellable", f"The record is {self.status.value}")
        self.status = HandoverStatus.CANCELLED
        self.cancel_reason = reason
        self.updated_at = now
        self.history.append(HistoryEntry(at=now, action="cancelled", by=by.subject, note=reason))
