"""In-memory state of the simulated providers (a process-local sandbox; nothing persists)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Merchant:
    """A VNPay merchant (TmnCode) with its hash secret and registered IPN URL."""

    tmn_code: str
    secret: str
    ipn_url: str


@dataclass
class GatewayTxn:
    tmn_code: str
    txn_ref: str
    amount_vnd: int
    order_info: str
    return_url: str
    created: str
    expires: str
    transaction_no: str
    status: str = "pending"  # pending | paid | failed | cancelled
    response_code: str = ""
    bank_code: str = "NCB"
    pay_date: str = ""
    ipn_replies: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BankAccount:
    account: str
    bank_bin: str
    secret: str
    webhook_url: str


@dataclass
class Transfer:
    transaction_id: str
    account: str
    amount: int
    description: str
    transferred_at: datetime
    payer_bank: str
    webhook_replies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Terminal:
    terminal_id: str
    secret: str
    callback_url: str


@dataclass
class Sale:
    sale_id: str
    terminal_id: str
    ref: str
    amount: int
    description: str
    status: str = "waiting"  # waiting | approved | declined
    rrn: str = ""
    approval_code: str = ""
    settled_at: datetime | None = None
    callback_replies: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SimState:
    merchants: dict[str, Merchant] = field(default_factory=dict)
    gateway_txns: dict[tuple[str, str], GatewayTxn] = field(default_factory=dict)
    accounts: dict[str, BankAccount] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)
    terminals: dict[str, Terminal] = field(default_factory=dict)
    sales: dict[str, Sale] = field(default_factory=dict)
    _counter: int = 0

    def next_number(self, digits: int = 8) -> str:
        self._counter += 1
        return f"{secrets.randbelow(90) + 10}{self._counter:0{digits - 2}d}"
