"""Dependencies shared by the postal routers: the service and the role sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from services.kit.auth import Principal, Role, require_roles
from services.postal.service import PostalService

POSTAL = (Role.POSTAL_AGENT,)
OFFICE = (Role.RECEPTION_OFFICER,)
TAKE_ORDERS = (Role.RECEPTION_OFFICER, Role.POSTAL_AGENT)
SIGN = (Role.POSTAL_AGENT, Role.RECEPTION_OFFICER)
READ = (Role.POSTAL_AGENT, Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR)
LOSS = (Role.POSTAL_AGENT, Role.UNIT_ADMIN)
ADMIN = (Role.UNIT_ADMIN, Role.PROVINCE_ADMIN)

PostalAgent = Annotated[Principal, Depends(require_roles(*POSTAL))]
Officer = Annotated[Principal, Depends(require_roles(*OFFICE))]
OrderTaker = Annotated[Principal, Depends(require_roles(*TAKE_ORDERS))]
Signer = Annotated[Principal, Depends(require_roles(*SIGN))]
Reader = Annotated[Principal, Depends(require_roles(*READ))]
LossReporter = Annotated[Principal, Depends(require_roles(*LOSS))]
Admin = Annotated[Principal, Depends(require_roles(*ADMIN))]
ProvinceAdmin = Annotated[Principal, Depends(require_roles(Role.PROVINCE_ADMIN))]


async def _service(request: Request) -> PostalService:
    service: PostalService = request.app.state.postal
    return service


Service = Annotated[PostalService, Depends(_service)]


def pdf(content: bytes, name: str) -> Response:
    return Response(
        content, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'}
    )


def view(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data
