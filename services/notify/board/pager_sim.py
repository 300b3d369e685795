"""`python -m services.notify.board.pager_sim [--host H] [--port P] [--api-key K]`

A local pager gateway (thẻ rung) speaking the protocol of `services.notify.board.gateway`:
it "buzzes" a pager by recording the call, once per `Idempotency-Key`. Used by the tests and
the demo; notify's real adapter is the same code pointed at the office's gateway
(`MOTCUA_BOARD_PAGER_GATEWAY_URL`, or per office `MOTCUA_BOARD_PAGER_GATEWAYS`).

Admin: `GET /admin/calls[?office_id=&pager_number=]` lists the buzzes, `DELETE /admin/calls`
forgets them, `PUT /admin/behaviour {"mode": "ok|fail|reject", "remaining": N}` makes the next
N calls (or all) answer 503 (fail) or 400 (reject).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, Field


class CallIn(BaseModel):
    call_id: str = Field(min_length=1, max_length=100)
    office_id: str = Field(min_length=1, max_length=100)
    pager_number: str = Field(min_length=1, max_length=20)
    label: str = ""
    reason: str = ""
    message: str = ""
    counter_number: int | None = None


class BehaviourIn(BaseModel):
    mode: str = Field("ok", pattern="^(ok|fail|reject)$")
    remaining: int | None = Field(None, ge=0)


def create_pager_app(api_key: str = "") -> FastAPI:
    app = FastAPI(title="Pager gateway simulator", version="0.1.0")
    calls: list[dict[str, Any]] = []
    seen: set[str] = set()
    behaviour: dict[str, Any] = {"mode": "ok", "remaining": None}
    stats = {"requests": 0, "duplicates": 0}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/pagers/{pager_number}/call")
    async def buzz(
        pager_number: str,
        body: CallIn,
        idempotency_key: str | None = Header(default=None),
        authorization: str | None = Header(default=None),
    ) -> dict[str, Any]:
        stats["requests"] += 1
        if api_key and authorization != f"Bearer {api_key}":
            raise HTTPException(401, "bad api key")
        if pager_number != body.pager_number:
            raise HTTPException(400, "pager number mismatch")
        mode = behaviour["mode"]
        if mode != "ok":
            if behaviour["remaining"] is not None:
                behaviour["remaining"] -= 1
                if behaviour["remaining"] <= 0:
                    behaviour.update(mode="ok", remaining=None)
            raise HTTPException(503 if mode == "fail" else 400, f"simulated {mode}")
        key = idempotency_key or body.call_id
        if key in seen:
            stats["duplicates"] += 1
            return {"status": "duplicate", "call_id": body.call_id}
        seen.add(key)
        calls.append(
            {
                **body.model_dump(),
                "idempotency_key": key,
                "received_at": datetime.now(UTC).isoformat(),
                "monotonic": time.monotonic(),
            }
        )
        return {"status": "buzzed", "call_id": body.call_id}

    @app.get("/admin/calls")
    async def list_calls(
        office_id: str | None = Query(default=None), pager_number: str | None = Query(default=None)
    ) -> list[dict[str, Any]]:
        return [
            c
            for c in calls
            if (office_id is None or c["office_id"] == office_id)
            and (pager_number is None or c["pager_number"] == pager_number)
        ]

    @app.delete("/admin/calls")
    async def clear_calls() -> dict[str, int]:
        n = len(calls)
        calls.clear()
        seen.clear()
        return {"cleared": n}

    @app.put("/admin/behaviour")
    async def set_behaviour(body: BehaviourIn) -> dict[str, Any]:
        behaviour.update(mode=body.mode, remaining=body.remaining)
        return dict(behaviour)

    @app.get("/admin/stats")
    async def get_stats() -> dict[str, int]:
        return {**stats, "buzzed": len(calls)}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8096)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    uvicorn.run(create_pager_app(args.api_key), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
