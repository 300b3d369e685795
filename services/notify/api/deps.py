"""Shared dependencies of notify's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.auth import Principal, Role, require_roles
from services.kit.errors import Unavailable
from services.notify.service import NotifyParts


async def parts(request: Request) -> NotifyParts:
    found: NotifyParts | None = getattr(request.app.state, "notify", None)
    if found is None:
        raise Unavailable("notify is starting", code="starting")
    return found


Parts = Annotated[NotifyParts, Depends(parts)]

ADMINS = (Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
DESK = (Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)
OFFICERS = (
    Role.RECEPTION_OFFICER,
    Role.SPECIALIST,
    Role.SIGNING_LEADER,
    Role.UNIT_ADMIN,
    Role.PROVINCE_ADMIN,
    Role.INSPECTOR,
)

Admin = Annotated[Principal, Depends(require_roles(*ADMINS))]
Desk = Annotated[Principal, Depends(require_roles(*DESK))]
Officer = Annotated[Principal, Depends(require_roles(*OFFICERS))]
Staff = Annotated[Principal, Depends(require_roles(*Role))]
