"""Per office: the officers who get reminders and the postal workers told about postal returns."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from services.kit.auth import ensure_unit
from services.kit.errors import NotFound
from services.notify.api.deps import Admin, Parts
from services.notify.model.routing import StaffContact

router = APIRouter(tags=["contacts"])


class OfficeContactsIn(BaseModel):
    unit_code: str = Field(min_length=1, max_length=32, description="The office's administrative unit")
    unit_path: list[str] = Field(default_factory=list, description="That unit and every unit above it")
    officers: list[StaffContact] = Field(default_factory=list, max_length=100)
    postal_workers: list[StaffContact] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _path(self) -> OfficeContactsIn:
        if not self.unit_path or self.unit_path[0] != self.unit_code:
            self.unit_path = [self.unit_code, *[u for u in self.unit_path if u != self.unit_code]]
        return self


@router.get("/offices/{office_id}/contacts", operation_id="get_office_contacts")
async def get_office_contacts(parts: Parts, principal: Admin, office_id: str) -> dict[str, Any]:
    doc = await parts.contacts.get(office_id)
    if doc is None:
        raise NotFound("No contacts are configured for this office", code="contacts_not_found")
    ensure_unit(principal, doc.get("unit_path") or [])
    return {"office_id": office_id, **{k: v for k, v in doc.items() if k != "_id"}}


@router.put("/offices/{office_id}/contacts", operation_id="put_office_contacts")
async def put_office_contacts(parts: Parts, principal: Admin, office_id: str, body: OfficeContactsIn) -> dict[str, Any]:
    ensure_unit(principal, body.unit_path)
    existing = await parts.contacts.get(office_id)
    if existing is not None:
        ensure_unit(principal, existing.get("unit_path") or [])
    fields = {**body.model_dump(mode="json"), "updated_by": principal.subject}
    await parts.contacts.put(office_id, fields, parts.clock())
    return {"office_id": office_id, **fields}
