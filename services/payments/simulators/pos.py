"""The POS terminal host: sales, card taps posting signed results, refunds, settlements."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from services.payments.model.intent import Channel
from services.payments.model.reconciliation import local_day, write_statement
from services.payments.model.signatures import sign_body, verify_body
from services.payments.simulators.state import (
    Sale,
    SimState,
    Terminal,
)


class TerminalIn(BaseModel):
    terminal_id: str
    secret: str
    callback_url: str


class CardIn(BaseModel):
    pan: str = "4111111111111111"
    expiry: str = "12/29"
    approve: bool = True
    card_brand: str = "VISA"
    send_card_data: bool = True


def pos_router(state: SimState, http: Callable[[], httpx.AsyncClient]) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/pos/terminals", status_code=201)
    async def add_terminal(body: TerminalIn) -> dict[str, str]:
        state.terminals[body.terminal_id] = Terminal(body.terminal_id, body.secret, body.callback_url)
        return {"terminal_id": body.terminal_id}

    def _check_pos(terminal: Terminal | None, request: Request, body: bytes) -> Terminal:
        if terminal is None or not verify_body(terminal.secret, request.headers.get("x-pos-timestamp"), body,
                                               request.headers.get("x-pos-signature"), now=datetime.now(UTC)):
            raise HTTPException(403, "bad signature or unknown terminal")
        return terminal

    @router.post("/pos/terminals/{terminal_id}/sales")
    async def new_sale(terminal_id: str, request: Request) -> dict[str, Any]:
        raw = await request.body()
        terminal = _check_pos(state.terminals.get(terminal_id), request, raw)
        data = json.loads(raw)
        sale = Sale(f"S{state.next_number()}", terminal.terminal_id, str(data["ref"]), int(data["amount"]),
                    str(data.get("description") or ""))
        state.sales[sale.sale_id] = sale
        return {"sale_id": sale.sale_id, "status": sale.status}

    @router.post("/pos/sales/{sale_id}/card")
    async def tap_card(sale_id: str, body: CardIn) -> dict[str, Any]:
        """The payer taps a card on the terminal; the terminal posts its signed result."""
        sale = state.sales.get(sale_id)
        if sale is None:
            raise HTTPException(404, "no such sale")
        terminal = state.terminals[sale.terminal_id]
        sale.status = "approved" if body.approve else "declined"
        sale.rrn = state.next_number(12)
        sale.approval_code = f"{secrets.randbelow(900000) + 100000}" if body.approve else ""
        sale.settled_at = datetime.now(UTC) if body.approve else None
        result: dict[str, Any] = {
            "terminal_id": sale.terminal_id, "sale_id": sale.sale_id, "ref": sale.ref, "amount": sale.amount,
            "status": sale.status, "approval_code": sale.approval_code, "rrn": sale.rrn,
            "response_code": "00" if body.approve else "51",
            "message": "APPROVED" if body.approve else f"DECLINED card {body.pan}",
            "card_brand": body.card_brand, "masked_pan": "*" * (len(body.pan) - 4) + body.pan[-4:],
        }
        if body.send_card_data:  # a badly configured terminal leaks card data: the service must drop it
            result.update(pan=body.pan, expiry=body.expiry, track2=f"{body.pan}={body.expiry.replace('/', '')}101")
        raw = json.dumps(result).encode()
        ts = int(time.time())
        headers = {"content-type": "application/json", "x-pos-timestamp": str(ts),
                   "x-pos-signature": sign_body(terminal.secret, ts, raw)}
        try:
            response = await http().post(terminal.callback_url, content=raw, headers=headers)
            reply: dict[str, Any] = {"http_status": response.status_code, **response.json()}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sale.callback_replies.append(reply)
        return {"sale_id": sale.sale_id, "status": sale.status, "rrn": sale.rrn, "callback_reply": reply}

    @router.post("/pos/terminals/{terminal_id}/refunds")
    async def pos_refund(terminal_id: str, request: Request) -> dict[str, Any]:
        raw = await request.body()
        terminal = _check_pos(state.terminals.get(terminal_id), request, raw)
        data = json.loads(raw)
        sale = next((s for s in state.sales.values() if s.terminal_id == terminal.terminal_id
                     and s.ref == data.get("ref") and s.status == "approved"), None)
        if sale is None or int(data.get("amount", 0)) > sale.amount:
            return {"approved": False, "message": "no matching approved sale"}
        return {"approved": True, "refund_id": f"R{state.next_number()}", "message": "REFUND APPROVED"}

    @router.get("/pos/settlements", response_class=PlainTextResponse)
    async def pos_settlement(request: Request) -> PlainTextResponse:
        signed = f"{request.url.path.removeprefix('/pos')}?{request.url.query}".encode()
        secret = next((t.secret for t in state.terminals.values()
                       if verify_body(t.secret, request.headers.get("x-pos-timestamp"), signed,
                                      request.headers.get("x-pos-signature"), now=datetime.now(UTC))), None)
        if secret is None:
            raise HTTPException(403, "bad signature")
        day = date.fromisoformat(request.query_params["date"])
        mine = {t.terminal_id for t in state.terminals.values() if t.secret == secret}
        rows = [{"terminal_id": s.terminal_id, "sale_id": s.sale_id, "ref": s.ref, "rrn": s.rrn,
                 "amount": str(s.amount), "status": s.status, "settled_at": s.settled_at.isoformat()}
                for s in state.sales.values()
                if s.terminal_id in mine and s.settled_at is not None and local_day(s.settled_at) == day]
        return PlainTextResponse(write_statement(Channel.POS, rows), media_type="text/csv")

    return router
