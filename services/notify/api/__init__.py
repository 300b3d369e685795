"""Notify's HTTP API, one router per resource; `router` bundles them for the app.

Every staff endpoint declares its roles (`require_roles`) and filters or checks records by
the caller's administrative unit (`unit_path`). The provider callbacks (`/callbacks/…`) are
called by the SMS gateway and Zalo, not by people: they are authenticated by the providers'
signatures instead of bearer tokens.
"""

from fastapi import APIRouter

from services.notify.api.callbacks import router as callbacks_router
from services.notify.api.contacts import router as contacts_router
from services.notify.api.deliveries import router as deliveries_router
from services.notify.api.preferences import router as preferences_router
from services.notify.api.reminders import router as reminders_router
from services.notify.api.templates import router as templates_router

router = APIRouter()
for _part in (
    deliveries_router,
    templates_router,
    preferences_router,
    contacts_router,
    reminders_router,
    callbacks_router,
):
    router.include_router(_part)

__all__ = ["router"]
