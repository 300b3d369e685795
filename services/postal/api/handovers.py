"""Hand-over records between the post and the office: dossiers collected by the post (post →
office) and results going home by post (office → post)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.postal.api.deps import Officer, PostalAgent, Reader, Service, Signer, pdf, view
from services.postal.model.handover import HandoverKind, HandoverStatus, Side
from services.postal.pdf import render_handover_record

router = APIRouter(prefix="/handovers", tags=["hand-over records"])


class HandoverIn(BaseModel):
    office_id: str = Field(min_length=1, max_length=100)
    pickup_ids: list[str] = Field(min_length=1, max_length=500)


@router.post("", status_code=201, operation_id="create_handover")
async def create_handover(body: HandoverIn, principal: PostalAgent, service: Service) -> dict[str, Any]:
    """The postal worker lists the collected dispatch slips for one office (a draft record)."""
    return view(await service.create_handover(principal, body.office_id, body.pickup_ids))


class ResultHandoverIn(BaseModel):
    office_id: str = Field(min_length=1, max_length=100)
    delivery_ids: list[str] = Field(min_length=1, max_length=500)


@router.post("/results", status_code=201, operation_id="create_result_handover")
async def create_result_handover(body: ResultHandoverIn, principal: Officer, service: Service) -> dict[str, Any]:
    """The one-stop officer lists the results the postal worker takes for home delivery (a draft
    record, biên bản giao nhận kết quả); once both sides signed, each delivery is picked up."""
    return view(await service.create_result_handover(principal, body.office_id, body.delivery_ids))


@router.get("", operation_id="list_handovers")
async def list_handovers(
    principal: Reader,
    service: Service,
    status: HandoverStatus | None = None,
    kind: HandoverKind | None = None,
    office_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # beyond int64 the database refuses (was a 503)
) -> list[dict[str, Any]]:
    found = await service.list_handovers(
        principal,
        status=status.value if status else None,
        office_id=office_id,
        limit=limit,
        skip=skip,
        kind=kind.value if kind else None,
    )
    return [view(r) for r in found]


@router.get("/{record_id}", operation_id="get_handover")
async def get_handover(record_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return view(await service.get_handover(principal, record_id))


class SignIn(BaseModel):
    counted: int = Field(ge=0, le=10_000, description="Packages this side counted")
    side: Side | None = Field(None, description="Only when the caller holds both roles")


@router.post("/{record_id}/sign", operation_id="sign_handover")
async def sign_handover(record_id: str, body: SignIn, principal: Signer, service: Service) -> dict[str, Any]:
    """One side counts and signs; the second signature submits every listed dossier (dossiers
    record) or hands every listed result to the post (results record)."""
    return view(await service.sign_handover(principal, record_id, counted=body.counted, side=body.side))


@router.delete("/{record_id}/items/{item_id}", operation_id="remove_handover_item")
async def remove_item(record_id: str, item_id: str, principal: Signer, service: Service) -> dict[str, Any]:
    """Take a slip off a record nobody signed yet (package missing or damaged at the count):
    `item_id` is the pickup's id (dossiers record) or the delivery's (results record)."""
    return view(await service.remove_from_handover(principal, record_id, item_id))


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/{record_id}/cancel", operation_id="cancel_handover")
async def cancel_handover(record_id: str, body: CancelIn, principal: Signer, service: Service) -> dict[str, Any]:
    return view(await service.cancel_handover(principal, record_id, body.reason))


@router.get(
    "/{record_id}/record.pdf",
    operation_id="handover_record_pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def record_pdf(record_id: str, principal: Reader, service: Service) -> Response:
    record = await service.get_handover(principal, record_id)
    return pdf(render_handover_record(record), f"bien-ban-giao-nhan-{record.number}")
