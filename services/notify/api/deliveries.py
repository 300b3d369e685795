"""Delivery records: what was sent to whom, how it went, and why (trace id)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.kit.auth import ensure_unit
from services.kit.errors import Conflict, NotFound
from services.kit.mongo import Document
from services.notify.api.deps import Admin, Parts, Staff
from services.notify.model.common import Channel, DeliveryStatus, contact_key

router = APIRouter(tags=["deliveries"])

_HIDDEN = ("_id", "alternates")


def present(doc: Document) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k not in _HIDDEN}}


@router.get("/deliveries", operation_id="list_deliveries")
async def list_deliveries(
    parts: Parts,
    principal: Staff,
    dossier_code: Annotated[str | None, Query(max_length=64)] = None,
    event_id: Annotated[str | None, Query(max_length=80)] = None,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    recipient: Annotated[str | None, Query(max_length=200, description="Phone number or e-mail address")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    filters: dict[str, Any] = {}
    if status:
        filters["status"] = status.value
    if channel:
        filters["channel"] = channel.value
    if recipient:
        filters["recipient"] = contact_key(recipient) or recipient
    # Only deliveries of the caller's unit or units below it.
    rows = await parts.deliveries.listing(
        principal.unit_code, dossier_code=dossier_code or None, event_id=event_id or None, filters=filters, limit=limit
    )
    return [present(doc) for doc in rows]


async def _visible(parts: Parts, principal: Any, delivery_id: str) -> Document:
    doc = await parts.deliveries.get(delivery_id)
    if doc is None:
        raise NotFound("No such delivery", code="delivery_not_found")
    ensure_unit(principal, doc.get("unit_path") or [])
    return doc


@router.get("/deliveries/{delivery_id}", operation_id="get_delivery")
async def get_delivery(parts: Parts, principal: Staff, delivery_id: str) -> dict[str, Any]:
    return present(await _visible(parts, principal, delivery_id))


@router.post("/deliveries/{delivery_id}/retry", operation_id="retry_delivery")
async def retry_delivery(parts: Parts, principal: Admin, delivery_id: str) -> dict[str, Any]:
    """Send a failed or skipped delivery once more (after fixing a number, a template, a provider)."""
    doc = await _visible(parts, principal, delivery_id)
    if not await parts.dispatcher.retry_now(doc, user=principal.subject):
        raise Conflict(f"A {doc['status']} delivery cannot be retried", code="delivery_not_retryable")
    fresh = await parts.deliveries.get(delivery_id)
    return present(fresh or doc)


@router.get("/providers", operation_id="provider_health")
async def provider_health(parts: Parts, principal: Admin) -> dict[str, list[dict[str, Any]]]:
    """Each channel's providers: healthy, skipped (failing: the backup is used) or on probation."""
    return parts.dispatcher.provider_states()
