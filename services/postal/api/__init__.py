"""Postal HTTP API, thin: validate, call the service, shape the response.

Staff authenticate with bearer tokens and every endpoint declares its roles and checks the
record's unit; citizens use the public pickup endpoints; the operator's webhooks are
authenticated by their HMAC signature instead.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.postal.api.counter import router as counter_router
from services.postal.api.deliveries import router as deliveries_router
from services.postal.api.handovers import router as handovers_router
from services.postal.api.pickups import public as public_router
from services.postal.api.pickups import router as pickups_router
from services.postal.api.webhooks import router as webhooks_router

ROUTERS: tuple[APIRouter, ...] = (
    public_router,
    pickups_router,
    handovers_router,
    deliveries_router,
    counter_router,
    webhooks_router,
)
