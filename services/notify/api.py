"""Notify's HTTP API: delivery records (for officers, the portal and tests)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.kit.auth import Principal, Role, require_roles
from services.notify.repository import DeliveryRepository

router = APIRouter(tags=["deliveries"])


def _repo(request: Request) -> DeliveryRepository:
    repo: DeliveryRepository = request.app.state.deliveries
    return repo


@router.get("/deliveries", operation_id="list_deliveries")
async def list_deliveries(
    request: Request,
    principal: Annotated[Principal, Depends(require_roles(*Role))],
    dossier_code: Annotated[str | None, Query(max_length=64)] = None,
    event_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    # Only deliveries of the caller's unit or units below it.
    query: dict[str, Any] = {"unit_path": principal.unit_code}
    if dossier_code:
        query["dossier_code"] = dossier_code
    if event_id:
        query["event_id"] = event_id
    return await _repo(request).find(query, limit)
