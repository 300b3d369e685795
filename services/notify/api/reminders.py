"""Officers' reminders: the in-app list, and a manual run for administrators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.notify.api.deps import Admin, Officer, Parts
from services.notify.model.common import vn_day
from services.notify.model.reminders import ReminderKind

router = APIRouter(tags=["reminders"])


@router.get("/reminders", operation_id="list_reminders")
async def list_reminders(
    parts: Parts,
    principal: Officer,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Default: today (Vietnam)")] = None,
    office_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: ReminderKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Dossiers due within one working day and late ones, of the caller's unit and below."""
    query: dict[str, Any] = {"unit_path": principal.unit_code, "day": day or vn_day(parts.clock())}
    if office_id:
        query["office_id"] = office_id
    if kind:
        query["kind"] = kind.value
    rows = await parts.reminders.list(query, limit)
    return [{k: v for k, v in row.items() if k not in ("_id", "trace_id")} for row in rows]


@router.post("/reminders/run", operation_id="run_reminders")
async def run_reminders(parts: Parts, principal: Admin) -> dict[str, int]:
    """Run the reminder scheduler now (it also runs on its own every few minutes)."""
    return await parts.reminders.tick()
