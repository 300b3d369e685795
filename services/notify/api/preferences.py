"""Applicants' consent per channel and purpose, recorded at the desk (keyed by phone or e-mail)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.kit.errors import Invalid
from services.notify.api.deps import Desk, Parts
from services.notify.model.common import contact_key
from services.notify.model.policy import OptOut, QuietHours

router = APIRouter(tags=["preferences"])


class PreferencesIn(BaseModel):
    opted_out: list[OptOut] = Field(default_factory=list, max_length=20)
    quiet_hours: QuietHours | None = None


def _key(contact: str) -> str:
    key = contact_key(contact)
    if key is None:
        raise Invalid("Give a Vietnamese mobile number or an e-mail address", code="invalid_contact")
    return key


@router.get("/preferences/{contact}", operation_id="get_preferences")
async def get_preferences(parts: Parts, principal: Desk, contact: str) -> dict[str, Any]:
    key = _key(contact)
    doc = await parts.preferences.get(key)
    if doc is None:
        return {"contact": key, "opted_out": [], "quiet_hours": None}
    return {k: v for k, v in doc.items() if k != "_id"}


@router.put("/preferences/{contact}", operation_id="put_preferences")
async def put_preferences(parts: Parts, principal: Desk, contact: str, body: PreferencesIn) -> dict[str, Any]:
    """Essential notices (legal slips, the late apology) are sent whatever is chosen here."""
    key = _key(contact)
    fields = {
        "contact": key,
        **body.model_dump(mode="json"),
        "updated_by": principal.subject,
        "updated_unit": principal.unit_code,
        "updated_at": parts.clock(),
    }
    await parts.preferences.put(key, fields)
    return fields


@router.delete("/preferences/{contact}", operation_id="delete_preferences", status_code=204)
async def delete_preferences(parts: Parts, principal: Desk, contact: str) -> None:
    await parts.preferences.delete(_key(contact))
