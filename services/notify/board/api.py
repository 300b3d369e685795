"""Display-board endpoints: the live feed (SSE), a snapshot, spoken announcements, pager calls.

The board in the office hall is public (numbers only, no personal data):

- `GET /boards/{office_id}/feed` — `text/event-stream`; events `snapshot`, `call`, `counter`,
  `pager`, `result_ready`, `result_collected`, each with an `id:`. A reconnecting board sends
  `Last-Event-ID` (browsers do it by themselves; `?last_event_id=` also works) and receives
  what it missed, or a fresh `snapshot` when that part of the log was pruned.
- `GET /boards/{office_id}` — the same state as JSON.
- `GET /boards/announcements/{number}/{counter}.wav` — "Mời số A012 đến quầy 3" (espeak-ng).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from services.kit.auth import Principal, Role, ensure_unit, require_roles
from services.kit.errors import NotFound
from services.notify.board import model as bm
from services.notify.board.service import BoardService

router = APIRouter(prefix="/boards", tags=["display board"])

OfficeId = Annotated[str, Path(pattern=bm.OFFICE_ID_PATTERN, max_length=100)]
Staff = Annotated[
    Principal,
    Depends(require_roles(Role.RECEPTION_OFFICER, Role.UNIT_ADMIN, Role.PROVINCE_ADMIN, Role.INSPECTOR)),
]


async def board_of(request: Request) -> BoardService:
    svc: BoardService = await request.app.state.board()
    return svc


Board = Annotated[BoardService, Depends(board_of)]


def _last_id(header: str | None, query: int | None) -> int | None:
    if header is not None and header.strip().lstrip("-").isdigit():
        return int(header.strip())
    return query


@router.get("/announcements/{number}/{counter_number}.wav", operation_id="get_board_announcement")
async def announcement(
    svc: Board,
    number: Annotated[str, Path(pattern=bm.TICKET_NUMBER_PATTERN)],
    counter_number: Annotated[int, Path(ge=1, le=999)],
) -> FileResponse:
    """The spoken call, synthesised once per phrase; 404 when espeak-ng is not installed."""
    audio = await svc.announcer.audio(bm.speech_text(number, counter_number)) if svc.announcer else None
    if audio is None:
        raise NotFound("Spoken announcements are not available on this server", code="announcement_unavailable")
    return FileResponse(audio, media_type="audio/wav", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/{office_id}", operation_id="get_board")
async def snapshot(office_id: OfficeId, svc: Board) -> dict[str, Any]:
    """The board now: the number at each counter, the last calls, results ready for pickup."""
    return await svc.snapshot(office_id)


@router.get(
    "/{office_id}/feed",
    operation_id="stream_board",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def feed(
    office_id: OfficeId,
    request: Request,
    svc: Board,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    resume: Annotated[int | None, Query(alias="last_event_id", ge=0, le=2**53 - 1)] = None,
) -> StreamingResponse:
    """Live feed (server-sent events) of the office's board; resumable with `Last-Event-ID`."""
    stream = svc.feed(office_id, _last_id(last_event_id, resume), request.is_disconnected)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )


@router.get("/{office_id}/pager-calls", operation_id="list_pager_calls")
async def pager_calls(office_id: OfficeId, svc: Board, who: Staff) -> list[dict[str, Any]]:
    """Delivery of each pager call to the office's gateway (sent, pending retry, failed, expired)."""
    calls = await svc.pager_calls(office_id)
    visible = []
    for call in calls:
        if who.covers(call.get("unit_path") or []):
            visible.append(call)
    if calls and not visible:
        ensure_unit(who, calls[0].get("unit_path") or [])
    return visible
