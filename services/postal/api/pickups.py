"""Pickup orders: the citizen's public endpoints and the staff's (phone orders, the postal
worker's paper check and dispatch slip, cancellation)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.kit.errors import Conflict
from services.postal.api.deps import OrderTaker, PostalAgent, Reader, Service, pdf, view
from services.postal.model.common import ComponentCheck, mask_phone
from services.postal.model.pickup import PickupOrder, PickupStatus
from services.postal.pdf import render_dispatch_slip
from services.postal.service import PickupRequest, SlipRequest

public = APIRouter(prefix="/public", tags=["citizen"])
router = APIRouter(prefix="/pickups", tags=["pickups"])


def _public_view(pickup: PickupOrder) -> dict[str, Any]:
    """What the citizen sees of their own order: no ID number, a masked phone."""
    return {
        "ref": pickup.ref,
        "option": pickup.option.value,
        "status": pickup.status.value,
        "shipment_status": pickup.shipment_status.value,
        "procedure_code": pickup.procedure_code,
        "procedure_name": pickup.procedure_name,
        "office_id": pickup.office_id,
        "tracking_number": pickup.tracking_number,
        "dossier_code": pickup.dossier_code,
        "contact_phone": mask_phone(pickup.contact.phone),
        "created_at": pickup.created_at.isoformat(),
        "handed_over_at": pickup.handed_over_at.isoformat() if pickup.handed_over_at else None,
    }


@public.post("/pickups", status_code=201, operation_id="public_request_pickup")
async def public_request_pickup(body: PickupRequest, service: Service) -> dict[str, Any]:
    """A citizen orders a pickup of their dossier and/or home delivery of the result."""
    return _public_view(await service.request_pickup(body, None))


@public.get("/pickups/{ref}", operation_id="public_get_pickup")
async def public_get_pickup(
    ref: str, service: Service, phone: Annotated[str, Query(min_length=9, max_length=15)]
) -> dict[str, Any]:
    """The citizen's own order, by its reference and the phone number given with it."""
    return _public_view(await service.public_pickup(ref, phone))


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@public.post("/pickups/{ref}/cancel", operation_id="public_cancel_pickup")
async def public_cancel_pickup(
    ref: str, body: CancelIn, service: Service, phone: Annotated[str, Query(min_length=9, max_length=15)]
) -> dict[str, Any]:
    pickup = await service.public_pickup(ref, phone)
    return _public_view(await service.cancel_pickup(None, pickup.id, body.reason))


@router.post("", status_code=201, operation_id="request_pickup")
async def request_pickup(body: PickupRequest, principal: OrderTaker, service: Service) -> dict[str, Any]:
    """An officer takes a pickup order by phone (the call centre or the one-stop counter)."""
    return view(await service.request_pickup(body, principal))


@router.get("", operation_id="list_pickups")
async def list_pickups(
    principal: Reader,
    service: Service,
    status: PickupStatus | None = None,
    office_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # beyond int64 the database refuses (was a 503)
) -> list[dict[str, Any]]:
    found = await service.list_pickups(
        principal, status=status.value if status else None, office_id=office_id, limit=limit, skip=skip
    )
    return [view(p) for p in found]


@router.get("/{pickup_id}", operation_id="get_pickup")
async def get_pickup(pickup_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return view(await service.get_pickup(principal, pickup_id))


class CheckIn(BaseModel):
    items: list[ComponentCheck] = Field(min_length=1, max_length=100)


@router.post("/{pickup_id}/check", operation_id="check_pickup_papers")
async def check_papers(pickup_id: str, body: CheckIn, principal: PostalAgent, service: Service) -> dict[str, Any]:
    """The postal worker checks the papers against the procedure's published list."""
    return view(await service.check_papers(principal, pickup_id, body.items))


@router.post("/{pickup_id}/slip", operation_id="sign_dispatch_slip")
async def sign_slip(pickup_id: str, body: SlipRequest, principal: PostalAgent, service: Service) -> dict[str, Any]:
    """Worker and sender sign the dispatch slip; the package is sealed; carriage and fees are collected."""
    return view(await service.sign_slip(principal, pickup_id, body))


@router.get(
    "/{pickup_id}/slip.pdf",
    operation_id="dispatch_slip_pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def slip_pdf(pickup_id: str, principal: Reader, service: Service) -> Response:
    pickup = await service.get_pickup(principal, pickup_id)
    if pickup.slip is None:
        raise Conflict("The dispatch slip is not signed yet", code="no_slip")
    return pdf(render_dispatch_slip(pickup), f"phieu-gui-{pickup.slip.number}")


@router.post("/{pickup_id}/cancel", operation_id="cancel_pickup")
async def cancel_pickup(pickup_id: str, body: CancelIn, principal: OrderTaker, service: Service) -> dict[str, Any]:
    return view(await service.cancel_pickup(principal, pickup_id, body.reason))
