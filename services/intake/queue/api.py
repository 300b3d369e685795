"""Queue endpoints (thin): the public kiosk and appointment endpoints (rate-limited, no login),
the counter officer's calls, pagers, and statistics.

Public: `GET /queue/offices/{office}/kiosk`, `POST /queue/kiosk/tickets`,
`POST /queue/kiosk/check-in`, `POST /queue/appointments`, `GET /queue/tickets/{id}`.
Counter: the reception officer of the office's unit (or a unit above it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.intake.queue.model import PAGER_NUMBER_PATTERN, Priority
from services.intake.queue.pagers import PagerDesk
from services.intake.queue.service import AppointmentRequest, QueueService
from services.intake.queue.views import public_ticket_view, ticket_view
from services.intake.routes.public import client_of
from services.kit.auth import Principal, Role, require_roles
from services.kit.ratelimit import TokenBucket

router = APIRouter(prefix="/queue", tags=["queue"])


async def queue_of(request: Request) -> QueueService:
    svc: QueueService = request.app.state.queue
    return svc


async def kiosk_rate_limit(request: Request) -> None:
    """Public endpoints: a token bucket per client (kiosks, the portal, anyone). Behind the portal
    or a reverse proxy the client is the address it forwards, resolved as for the public lookup;
    keyed on the peer, every citizen behind one proxy would share one bucket."""
    bucket: TokenBucket = request.app.state.queue_limiter
    bucket.check(await client_of(request))  # 429 rate_limited + Retry-After


async def pagers_of(request: Request) -> PagerDesk:
    desk: PagerDesk = request.app.state.queue_pagers
    return desk


Queue = Annotated[QueueService, Depends(queue_of)]
Pagers = Annotated[PagerDesk, Depends(pagers_of)]
RateLimited = Depends(kiosk_rate_limit)
Counter = Annotated[Principal, Depends(require_roles(Role.RECEPTION_OFFICER))]
Viewer = Annotated[
    Principal,
    Depends(require_roles(Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR)),
]


class TicketRequest(BaseModel):
    office_id: str = Field(min_length=1, max_length=100)
    field_code: str | None = Field(default=None, max_length=60)
    procedure_code: str | None = Field(default=None, max_length=50)
    priority: Priority = Priority.NONE
    kiosk_id: str | None = Field(default=None, max_length=60)


class CheckInRequest(BaseModel):
    office_id: str = Field(min_length=1, max_length=100)
    appointment_code: str = Field(min_length=4, max_length=20)
    kiosk_id: str | None = Field(default=None, max_length=60)


class SkipBody(BaseModel):
    no_show: bool = Field(False, description="Give up now (no-show) instead of sending it back to the queue")


class TransferBody(BaseModel):
    to_counter_id: str = Field(min_length=1, max_length=60)


class LinkBody(BaseModel):
    dossier_id: str = Field(min_length=1, max_length=64)
    dossier_code: str | None = Field(default=None, max_length=60)


class PagerBind(BaseModel):
    pager_number: str = Field(pattern=PAGER_NUMBER_PATTERN)
    dossier_id: str = Field(min_length=1, max_length=64)
    dossier_code: str | None = Field(default=None, max_length=60)
    ticket_id: str | None = Field(default=None, max_length=64)


class PagerCall(BaseModel):
    counter_number: int | None = Field(default=None, ge=1, le=999)


# ---- public -----------------------------------------------------------------------------------


@router.get("/offices/{office_id}/kiosk", operation_id="get_kiosk_menu", dependencies=[RateLimited])
async def kiosk_menu(office_id: str, svc: Queue) -> dict[str, Any]:
    """What the kiosk shows: the fields served at this office with their prefixes, priority groups."""
    return svc.kiosk_menu(office_id)


@router.post("/kiosk/tickets", operation_id="issue_ticket", status_code=201, dependencies=[RateLimited])
async def issue_ticket(body: TicketRequest, svc: Queue) -> dict[str, Any]:
    """Issue a ticket (lấy số) for a field or procedure; priority groups are served first."""
    ticket, ahead = await svc.issue(
        body.office_id,
        field_code=body.field_code,
        procedure_code=body.procedure_code,
        priority=body.priority,
        kiosk_id=body.kiosk_id,
    )
    return public_ticket_view(ticket, ahead)


@router.post("/kiosk/check-in", operation_id="check_in_appointment", status_code=201, dependencies=[RateLimited])
async def check_in(body: CheckInRequest, svc: Queue, response: Response) -> dict[str, Any]:
    """Check in an online appointment: on time, its ticket goes to the head of its queue."""
    ticket, ahead, created = await svc.check_in(body.office_id, body.appointment_code, body.kiosk_id)
    if not created:
        response.status_code = 200
    return public_ticket_view(ticket, ahead)


@router.post("/appointments", operation_id="book_appointment", status_code=201, dependencies=[RateLimited])
async def book_appointment(body: AppointmentRequest, svc: Queue) -> dict[str, Any]:
    """Book a visit (đặt lịch hẹn); the code is checked in at the kiosk on the day."""
    return await svc.book(body)


@router.get("/tickets/{ticket_id}", operation_id="get_ticket_public", dependencies=[RateLimited])
async def get_ticket(ticket_id: str, svc: Queue) -> dict[str, Any]:
    """A ticket's status for the citizen (QR on the printed ticket): number, status, people ahead."""
    return await svc.public_ticket(ticket_id)


# ---- counter officer --------------------------------------------------------------------------


@router.get("/counters/{counter_id}", operation_id="get_counter_queue")
async def counter_queue(counter_id: str, svc: Queue, who: Counter) -> dict[str, Any]:
    """The counter's current ticket and the waiting tickets in the order it will call them."""
    return await svc.counter_view(counter_id, who)


@router.post("/counters/{counter_id}/call-next", operation_id="call_next_ticket")
async def call_next(counter_id: str, svc: Queue, who: Counter) -> dict[str, Any]:
    """Call the next ticket (priority, appointments and transfers first); `ticket` is null when nobody waits."""
    ticket = await svc.call_next(counter_id, who)
    return {"ticket": ticket_view(ticket) if ticket else None}


@router.post("/tickets/{ticket_id}/recall", operation_id="recall_ticket")
async def recall(ticket_id: str, svc: Queue, who: Counter) -> dict[str, Any]:
    return ticket_view(await svc.recall(ticket_id, who))


@router.post("/tickets/{ticket_id}/serve", operation_id="serve_ticket")
async def serve(ticket_id: str, svc: Queue, who: Counter) -> dict[str, Any]:
    """The citizen came to the counter: service starts."""
    return ticket_view(await svc.serve(ticket_id, who))


@router.post("/tickets/{ticket_id}/finish", operation_id="finish_ticket")
async def finish(ticket_id: str, svc: Queue, who: Counter) -> dict[str, Any]:
    return ticket_view(await svc.finish(ticket_id, who))


@router.post("/tickets/{ticket_id}/skip", operation_id="skip_ticket")
async def skip(ticket_id: str, svc: Queue, who: Counter, body: SkipBody | None = None) -> dict[str, Any]:
    """Nobody came: back to the queue, or a no-show after 1 + N calls (N configurable)."""
    return ticket_view(await svc.skip(ticket_id, who, no_show=bool(body and body.no_show)))


@router.post("/tickets/{ticket_id}/transfer", operation_id="transfer_ticket")
async def transfer(ticket_id: str, body: TransferBody, svc: Queue, who: Counter) -> dict[str, Any]:
    return ticket_view(await svc.transfer(ticket_id, who, body.to_counter_id))


@router.post("/tickets/{ticket_id}/dossiers", operation_id="link_ticket_dossier")
async def link_dossier(ticket_id: str, body: LinkBody, svc: Queue, who: Counter) -> dict[str, Any]:
    """Link the dossier being received to the ticket (several services per ticket)."""
    return ticket_view(await svc.link_dossier(ticket_id, who, body.dossier_id, body.dossier_code))


@router.get("/offices/{office_id}/tickets", operation_id="list_office_tickets")
async def office_tickets(
    office_id: str,
    svc: Queue,
    who: Viewer,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    status: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    return await svc.office_tickets(office_id, who, day, status)


@router.get("/offices/{office_id}/now", operation_id="get_queue_now")
async def queue_now(office_id: str, svc: Queue, who: Viewer) -> dict[str, Any]:
    """Queue length now per field and counter, and the number at each counter."""
    return await svc.now(office_id, who)


@router.get("/offices/{office_id}/stats", operation_id="get_queue_stats")
async def stats(
    office_id: str,
    svc: Queue,
    who: Viewer,
    day_from: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    day_to: Annotated[str | None, Query(alias="to", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
) -> dict[str, Any]:
    """Waiting and service times per office, counter, field and hour; no-shows; queue length now."""
    return await svc.stats(office_id, who, day_from, day_to)


# ---- pagers -----------------------------------------------------------------------------------


@router.get("/offices/{office_id}/pagers", operation_id="list_pagers")
async def list_pagers(office_id: str, svc: Pagers, who: Counter) -> list[dict[str, Any]]:
    return await svc.pagers(office_id, who)


@router.post("/offices/{office_id}/pagers", operation_id="bind_pager", status_code=201)
async def bind_pager(office_id: str, body: PagerBind, svc: Pagers, who: Counter) -> dict[str, Any]:
    """Hand a vibrating pager (thẻ rung) to the citizen for a dossier."""
    return await svc.bind_pager(
        office_id, who, body.pager_number, body.dossier_id, ticket_id=body.ticket_id, dossier_code=body.dossier_code
    )


@router.post("/offices/{office_id}/pagers/{pager_number}/call", operation_id="call_pager")
async def call_pager(
    office_id: str, pager_number: str, svc: Pagers, who: Counter, body: PagerCall | None = None
) -> dict[str, Any]:
    """Buzz the pager (the result is ready, or please come to the counter)."""
    return await svc.call_pager(office_id, who, pager_number, body.counter_number if body else None)


@router.post("/offices/{office_id}/pagers/{pager_number}/release", operation_id="release_pager")
async def release_pager(office_id: str, pager_number: str, svc: Pagers, who: Counter) -> dict[str, Any]:
    return await svc.release_pager(office_id, who, pager_number)
