"""In-memory state of the simulated providers (a process-local sandbox; nothing persists)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

PHONE = re.compile(r"^84[35789]\d{8}$")

MODES = ("ok", "fail", "slow", "temporary", "undeliverable", "expired", "no_receipt")


@dataclass
class Behaviour:
    """How the provider answers: `mode` for the next `remaining` requests (None: until changed).

    ok            accept, then a DELIVERED receipt
    fail          HTTP 5xx (a technical failure)
    slow          wait `delay_s`, then accept (slower than the caller's timeout → technical failure)
    temporary     "busy, try later" (SMS: 503 + Retry-After; Zalo: error -32)
    undeliverable accept, then a FAILED receipt
    expired       accept, then an EXPIRED receipt
    no_receipt    accept, never send a receipt
    """

    mode: str = "ok"
    delay_s: float = 0.0
    remaining: int | None = None
    receipt_delay_s: float = 0.05
    retry_after_s: float = 1.0

    def next_mode(self) -> str:
        """The mode for this request (counts down `remaining`, then back to ok)."""
        if self.remaining is None:
            return self.mode
        if self.remaining <= 0:
            self.mode, self.remaining = "ok", None
            return "ok"
        self.remaining -= 1
        return self.mode


@dataclass
class SmsGateway:
    name: str
    api_key: str = ""  # empty: any key accepted
    callback_secret: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    by_request: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ZaloApp:
    app_id: str = "motcua-demo"
    access_token: str = ""  # empty: any token accepted
    oa_secret: str = ""
    webhook_url: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    no_account: set[str] = field(default_factory=set)


@dataclass
class SimState:
    gateways: dict[str, SmsGateway] = field(default_factory=dict)
    zalo: ZaloApp = field(default_factory=ZaloApp)
    messages: list[dict[str, Any]] = field(default_factory=list)  # everything accepted or refused
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # receipts sent, with our answer
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"
