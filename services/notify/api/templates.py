"""Templates per notice and channel: list, read, preview, save a new version (administrators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.notify.api.deps import Admin, Parts
from services.notify.model.common import Channel
from services.notify.model.templates import RenderedMessage

router = APIRouter(tags=["templates"])


class TemplateIn(BaseModel):
    source: str = Field(min_length=1, max_length=20_000, description="Jinja2 with the channel's blocks")
    comment: str = Field("", max_length=500)


class PreviewIn(BaseModel):
    source: str | None = Field(None, max_length=20_000, description="Omit to preview the active template")
    variables: dict[str, Any] | None = Field(None, description="Overrides of the sample variables")


@router.get("/templates", operation_id="list_templates")
async def list_templates(parts: Parts, principal: Admin) -> list[dict[str, Any]]:
    return await parts.templates.catalogue([principal.unit_code])


@router.get("/templates/{key}/{channel}", operation_id="get_template")
async def get_template(parts: Parts, principal: Admin, key: str, channel: Channel) -> dict[str, Any]:
    return await parts.templates.describe(key, channel, [principal.unit_code])


@router.put("/templates/{key}/{channel}", operation_id="save_template", status_code=201)
async def save_template(parts: Parts, principal: Admin, key: str, channel: Channel, body: TemplateIn) -> dict[str, Any]:
    """Save a new version for the caller's unit (and the units below it). It must render with the
    notice's sample variables, or nothing is saved (422 with a `template_*` code)."""
    record = await parts.templates.save(
        key, channel, principal.unit_code, body.source, user=principal.subject, comment=body.comment, now=parts.clock()
    )
    return {k: v for k, v in record.items() if k != "_id"}


@router.post("/templates/{key}/{channel}/preview", operation_id="preview_template")
async def preview_template(
    parts: Parts, principal: Admin, key: str, channel: Channel, body: PreviewIn
) -> RenderedMessage:
    return await parts.templates.preview(key, channel, [principal.unit_code], body.source, body.variables)
