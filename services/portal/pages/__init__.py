"""Portal pages: thin handlers that call the services' HTTP APIs and render Jinja2 templates.

Every POST needs the CSRF token (double submit, `services.portal.security`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.portal.pages import board, dashboard, desk, inbox, kiosk, privacy, system, tracking
from services.portal.security import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)])
for _module in (system, desk, inbox, kiosk, board, tracking, dashboard, privacy):
    router.include_router(_module.router)

__all__ = ["router"]
