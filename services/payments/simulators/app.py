"""Local simulators of the payment providers, speaking their protocols over real HTTP:

- `/vnpay/…` a VNPay-style gateway: the payment page (signed URL checked), paying or cancelling
  there sends the signed IPN to the merchant's registered IPN URL and redirects the browser to
  `vnp_ReturnUrl`; the `querydr`/`refund` API and a daily settlement CSV;
- `/bank/…` a bank: a transfer to a registered account (or "scan" of a VietQR string) sends a
  signed transfer notification to the account's webhook; a daily statement CSV;
- `/pos/…` a POS terminal host: sales pushed by the merchant, a card "tap" posts the signed
  result (with the card number, as a badly configured terminal would) to the callback URL;
  refunds and a daily settlement CSV.

`/admin/…` registers merchants, accounts and terminals and re-sends callbacks (duplicates).
Run with `python -m services.payments.simulators`; the payments service's adapters point at
it by default (MOTCUA_SIMULATOR_URL), and at the real providers in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.payments.simulators.bank import bank_router
from services.payments.simulators.gateway import gateway_router
from services.payments.simulators.pos import pos_router
from services.payments.simulators.state import (
    BankAccount,
    Merchant,
    SimState,
    Terminal,
)


def create_simulator_app(defaults: dict[str, Any] | None = None) -> FastAPI:
    """The simulator app; `defaults` pre-registers a merchant, an account and a terminal."""
    state = SimState()
    holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder["http"] = httpx.AsyncClient(timeout=10)
        yield
        await holder["http"].aclose()

    app = FastAPI(title="Một Cửa — payment provider simulators", lifespan=lifespan)
    app.state.sim = state
    d = defaults or {}
    if d.get("tmn_code") and d.get("vnpay_secret"):
        state.merchants[d["tmn_code"]] = Merchant(d["tmn_code"], d["vnpay_secret"], d["ipn_url"])
    if d.get("account") and d.get("bank_secret"):
        state.accounts[d["account"]] = BankAccount(d["account"], d.get("bank_bin", "970436"), d["bank_secret"],
                                                   d["bank_webhook_url"])
    if d.get("terminal_id") and d.get("pos_secret"):
        state.terminals[d["terminal_id"]] = Terminal(d["terminal_id"], d["pos_secret"], d["pos_callback_url"])

    def http() -> httpx.AsyncClient:
        return holder["http"]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "payment-simulators"}

    app.include_router(gateway_router(state, http))
    app.include_router(bank_router(state, http))
    app.include_router(pos_router(state, http))
    return app
