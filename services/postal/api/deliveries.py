"""Result deliveries: list and read, give an address, pull tracking, record a loss; the sweep."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.postal.api.deps import Admin, LossReporter, OrderTaker, Reader, Service, view
from services.postal.model.common import Address, Contact
from services.postal.model.status import ShipmentStatus

router = APIRouter(tags=["deliveries"])


@router.get("/deliveries", operation_id="list_deliveries")
async def list_deliveries(
    principal: Reader,
    service: Service,
    status: ShipmentStatus | None = None,
    dossier_code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # beyond int64 the database refuses (was a 503)
) -> list[dict[str, Any]]:
    found = await service.list_deliveries(
        principal, status=status.value if status else None, dossier_code=dossier_code, limit=limit, skip=skip
    )
    return [view(d) for d in found]


@router.get("/deliveries/{delivery_id}", operation_id="get_delivery")
async def get_delivery(delivery_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return view(await service.get_delivery(principal, delivery_id))


class AddressIn(BaseModel):
    address: Address
    contact: Contact


@router.put("/deliveries/{delivery_id}/address", operation_id="set_delivery_address")
async def set_address(delivery_id: str, body: AddressIn, principal: OrderTaker, service: Service) -> dict[str, Any]:
    """Give the address of a result going back by post when none was registered before."""
    return view(await service.set_address(principal, delivery_id, body.address, body.contact))


@router.post("/deliveries/{delivery_id}/track", operation_id="track_delivery")
async def track(delivery_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    """Pull the operator's tracking history and apply what the webhooks missed."""
    return view(await service.track(principal, delivery_id))


class LossIn(BaseModel):
    note: str = Field(min_length=1, max_length=1000, description="The operator's confirmation of the loss")


@router.post("/deliveries/{delivery_id}/loss", operation_id="report_delivery_loss")
async def report_loss(delivery_id: str, body: LossIn, principal: LossReporter, service: Service) -> dict[str, Any]:
    """Record a lost result: the operator is liable (compensation recorded)."""
    return view(await service.report_loss(principal, delivery_id, body.note))


@router.post("/maintenance/sweep", operation_id="run_postal_sweep")
async def sweep(principal: Admin, service: Service) -> dict[str, int]:
    """Retry every owed operator call now (also runs periodically)."""
    return await service.sweep()


@router.get("/webhook-log", operation_id="webhook_log")
async def webhook_log(
    principal: Admin, service: Service, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """Recent operator webhooks with what was done with each (applied, stale, duplicate, rejected)."""
    rows = await service.webhook_log(principal, limit)
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]
