"""Postal staff at a commune counter: the approved list and supervised receptions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from services.postal.api.deps import Officer, PostalAgent, ProvinceAdmin, Reader, Service, view
from services.postal.model.counter import ApprovedProcedure, CounterStatus
from services.postal.service import CounterReceptionRequest

router = APIRouter(tags=["postal staff at counters"])

ProvinceCode = Annotated[str, Path(pattern=r"^\d{2}$")]


@router.get("/approved-procedures/{province_code}", operation_id="get_approved_procedures")
async def get_approved(province_code: ProvinceCode, principal: Reader, service: Service) -> dict[str, Any]:
    """The procedures the province approved for postal staff at commune counters."""
    del principal
    return view(await service.approved_list(province_code))


class ApprovedIn(BaseModel):
    procedures: list[ApprovedProcedure] = Field(max_length=2000)
    decision_ref: str = Field("", max_length=200, description="The province's approving decision")


@router.put("/approved-procedures/{province_code}", operation_id="put_approved_procedures")
async def put_approved(
    province_code: ProvinceCode, body: ApprovedIn, principal: ProvinceAdmin, service: Service
) -> dict[str, Any]:
    return view(await service.replace_approved_list(principal, province_code, body.procedures, body.decision_ref))


@router.post("/counter-receptions", status_code=201, operation_id="counter_receive")
async def counter_receive(body: CounterReceptionRequest, principal: PostalAgent, service: Service) -> dict[str, Any]:
    """A postal agent at a commune counter receives a dossier (awaits the officer's confirmation)."""
    return view(await service.counter_receive(principal, body))


@router.get("/counter-receptions", operation_id="list_counter_receptions")
async def list_receptions(
    principal: Reader,
    service: Service,
    status: CounterStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # beyond int64 the database refuses (was a 503)
) -> list[dict[str, Any]]:
    found = await service.list_receptions(principal, status=status.value if status else None, limit=limit, skip=skip)
    return [view(r) for r in found]


@router.get("/counter-receptions/{reception_id}", operation_id="get_counter_reception")
async def get_reception(reception_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return view(await service.get_reception(principal, reception_id))


class SuperviseIn(BaseModel):
    note: str = Field("", max_length=1000)


@router.post("/counter-receptions/{reception_id}/confirm", operation_id="confirm_counter_reception")
async def confirm(reception_id: str, body: SuperviseIn, principal: Officer, service: Service) -> dict[str, Any]:
    """The counter's one-stop officer confirms the postal agent's reception (supervision)."""
    return view(await service.supervise(principal, reception_id, confirm=True, note=body.note))


@router.post("/counter-receptions/{reception_id}/reject", operation_id="reject_counter_reception")
async def reject(reception_id: str, body: SuperviseIn, principal: Officer, service: Service) -> dict[str, Any]:
    return view(await service.supervise(principal, reception_id, confirm=False, note=body.note))
