"""The postal operator's status webhooks, authenticated by their HMAC signature (no token), after
the source allow-list and per-source rate limit (kit.callbacks)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.kit.callbacks import ServerCallback
from services.postal.api.deps import Service

router = APIRouter(prefix="/webhooks", tags=["operator webhooks"], dependencies=[ServerCallback])


@router.post("/{operator}", operation_id="operator_webhook")
async def operator_webhook(operator: str, request: Request, service: Service) -> JSONResponse:
    """A status of a pickup or delivery item. 200 applied / stale / duplicate (all final for the
    operator), 401 bad or stale signature, 404 unknown item."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcome = await service.handle_webhook(operator, body, headers)
    return JSONResponse(outcome.body(), status_code=outcome.http_status)
