"""A local stand-in for the National Public Service Portal's sync endpoint (tests and demo).

    python -m services.intake.national_portal_sim --port 8090 [--token T] [--fail-first N]

`POST /api/v1/dossiers` accepts one dossier in the JSON of `model.national_portal`, checks its
shape (code, procedure, channel 1/2/3, status string, `yyyyMMddHHmmss` dates) and upserts it by
dossier code. `POST /_sim/fail {"count": n}` makes the next n pushes fail with 503, to watch
intake's retries and backlog; `GET /_sim/dossiers[/{code}]` shows what arrived.
Point intake at it with `MOTCUA_NATIONAL_PORTAL_URL=http://127.0.0.1:8090/api/v1/dossiers`.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.model.national_portal import NATIONAL_STATUSES

_TIME = re.compile(r"^\d{14}$")
REQUIRED = ("MaHoSo", "MaTTHC", "KenhThucHien", "ChuHoSo", "NgayTiepNhan", "TrangThaiHoSo", "QuaTrinhXuLy")


def problems(body: dict[str, Any]) -> list[str]:
    out = [f"missing {k}" for k in REQUIRED if body.get(k) in (None, "")]
    if body.get("KenhThucHien") not in (1, 2, 3):
        out.append("KenhThucHien must be 1, 2 or 3")
    if body.get("TrangThaiHoSo") not in NATIONAL_STATUSES:
        out.append(f"unknown TrangThaiHoSo {body.get('TrangThaiHoSo')!r}")
    for key in ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra"):
        value = body.get(key)
        if value is not None and not _TIME.match(str(value)):
            out.append(f"{key} must be yyyyMMddHHmmss")
    if not isinstance(body.get("QuaTrinhXuLy"), list):
        out.append("QuaTrinhXuLy must be a list")
    return out


def create_app(token: str = "", fail_first: int = 0) -> FastAPI:
    app = FastAPI(title="National portal simulator (Một Cửa dev)", version="0.1.0")
    state: dict[str, Any] = {"fail": fail_first, "dossiers": {}, "pushes": 0, "failed": 0}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/dossiers")
    async def push(request: Request) -> JSONResponse:
        if token and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if state["fail"] > 0:
            state["fail"] -= 1
            state["failed"] += 1
            return JSONResponse({"error": "temporarily unavailable (simulated)"}, status_code=503)
        body = await request.json()
        found = problems(body)
        if found:
            return JSONResponse({"error": "invalid", "problems": found}, status_code=422)
        state["pushes"] += 1
        code = body["MaHoSo"]
        previous = state["dossiers"].get(code)
        state["dossiers"][code] = {
            "body": body,
            "received_at": datetime.now(UTC).isoformat(),
            "pushes": (previous["pushes"] + 1) if previous else 1,
            "idempotency_key": request.headers.get("idempotency-key"),
        }
        return JSONResponse({"ok": True, "MaHoSo": code, "pushes": state["dossiers"][code]["pushes"]})

    @app.post("/_sim/fail")
    async def fail(request: Request) -> dict[str, int]:
        state["fail"] = int((await request.json()).get("count", 1))
        return {"fail": state["fail"]}

    @app.get("/_sim/dossiers")
    async def listing() -> dict[str, Any]:
        return {
            "pushes": state["pushes"],
            "failed": state["failed"],
            "dossiers": {
                k: {"status": v["body"]["TrangThaiHoSo"], "pushes": v["pushes"]} for k, v in state["dossiers"].items()
            },
        }

    @app.get("/_sim/dossiers/{code}")
    async def one(code: str) -> JSONResponse:
        item = state["dossiers"].get(code)
        if item is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(item)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", default="")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.token, args.fail_first), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
