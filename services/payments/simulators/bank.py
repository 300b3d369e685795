"""The bank: transfers to registered accounts with signed notifications, VietQR scan, statements."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from services.payments.model import vietqr
from services.payments.model.intent import Channel
from services.payments.model.reconciliation import local_day, write_statement
from services.payments.model.signatures import sign_body, verify_body
from services.payments.simulators.state import (
    BankAccount,
    SimState,
    Transfer,
)


class AccountIn(BaseModel):
    account: str
    bank_bin: str = "970436"
    secret: str
    webhook_url: str


class TransferIn(BaseModel):
    account: str
    amount: int
    description: str
    payer_bank: str = "VCB"


class QrPayIn(BaseModel):
    qr_string: str
    payer_bank: str = "VCB"
    amount_override: int | None = None


def bank_router(state: SimState, http: Callable[[], httpx.AsyncClient]) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/bank/accounts", status_code=201)
    async def add_account(body: AccountIn) -> dict[str, str]:
        state.accounts[body.account] = BankAccount(body.account, body.bank_bin, body.secret, body.webhook_url)
        return {"account": body.account}

    async def _notify(transfer: Transfer) -> dict[str, Any]:
        account = state.accounts[transfer.account]
        body = json.dumps({
            "transaction_id": transfer.transaction_id, "account": transfer.account, "amount": transfer.amount,
            "description": transfer.description, "transferred_at": transfer.transferred_at.isoformat(),
            "payer_bank": transfer.payer_bank,
        }, ensure_ascii=False).encode()
        ts = int(time.time())
        headers = {"content-type": "application/json", "x-bank-timestamp": str(ts),
                   "x-bank-signature": sign_body(account.secret, ts, body)}
        try:
            response = await http().post(account.webhook_url, content=body, headers=headers)
            reply: dict[str, Any] = {"http_status": response.status_code, **response.json()}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        transfer.webhook_replies.append(reply)
        return reply

    async def _transfer(account: str, amount: int, description: str, payer_bank: str) -> dict[str, Any]:
        if account not in state.accounts:
            raise HTTPException(404, "no such account")
        transfer = Transfer(f"FT{state.next_number(10)}", account, amount, description, datetime.now(UTC), payer_bank)
        state.transfers[transfer.transaction_id] = transfer
        reply = await _notify(transfer)
        return {"transaction_id": transfer.transaction_id, "webhook_reply": reply}

    @router.post("/bank/transfers")
    async def bank_transfer(body: TransferIn) -> dict[str, Any]:
        """A payer's transfer to an account, typed by hand in the banking app."""
        return await _transfer(body.account, body.amount, body.description, body.payer_bank)

    @router.post("/bank/qr-pay")
    async def qr_pay(body: QrPayIn) -> dict[str, Any]:
        """A payer scans a VietQR in the banking app and confirms: amount and note come from the QR."""
        try:
            qr = vietqr.parse(body.qr_string)
        except vietqr.VietQRError as exc:
            raise HTTPException(400, f"unreadable VietQR: {exc}") from exc
        amount = body.amount_override if body.amount_override is not None else qr.amount
        if amount is None:
            raise HTTPException(400, "static QR: the payer must type an amount")
        # Banks mangle notes: upper-case, no punctuation (the matcher must cope).
        note = f"{(qr.note or '').upper().replace(' ', '')} CHUYEN TIEN"
        return await _transfer(qr.account, amount, note, body.payer_bank)

    @router.post("/admin/bank/transfers/{transaction_id}/notify")
    async def renotify(transaction_id: str) -> dict[str, Any]:
        transfer = state.transfers.get(transaction_id)
        if transfer is None:
            raise HTTPException(404, "no such transfer")
        return await _notify(transfer)

    @router.get("/bank/accounts/{account}/statement", response_class=PlainTextResponse)
    async def bank_statement(account: str, request: Request) -> PlainTextResponse:
        acct = state.accounts.get(account)
        signed = f"{request.url.path.removeprefix('/bank')}?{request.url.query}".encode()
        if acct is None or not verify_body(acct.secret, request.headers.get("x-bank-timestamp"), signed,
                                           request.headers.get("x-bank-signature"), now=datetime.now(UTC)):
            raise HTTPException(403, "bad signature")
        day = date.fromisoformat(request.query_params["date"])
        rows = [{"transaction_id": t.transaction_id, "account": t.account, "amount": str(t.amount),
                 "description": t.description, "transferred_at": t.transferred_at.isoformat()}
                for t in state.transfers.values() if t.account == account and local_day(t.transferred_at) == day]
        return PlainTextResponse(write_statement(Channel.VIETQR, rows), media_type="text/csv")

    return router
