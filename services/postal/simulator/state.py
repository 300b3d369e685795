"""The simulator's in-memory world: customers, orders, their events, scripts and faults."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


@dataclass
class Customer:
    code: str
    token: str
    secret: str
    webhook_url: str


@dataclass
class SimEvent:
    event_id: str
    item_code: str
    order_code: str
    customer_code: str
    status_code: str
    attempt: int
    at: datetime
    reason_code: str | None = None
    note: str = ""


@dataclass
class SimOrder:
    item_code: str
    order_code: str
    customer_code: str
    kind: str
    body: dict[str, Any]
    status_code: str = "100"
    attempt: int = 0
    fee: int = 0
    events: list[SimEvent] = field(default_factory=list)
    webhook_replies: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # redeliver / return / cancel calls received
    pending: str | None = None  # a re-delivery or return already scheduled (repeated calls are no-ops)


class Script(BaseModel):
    """How deliveries to a recipient go: the first `fail_attempts` attempts fail with `fail_reason`."""

    fail_attempts: int = Field(0, ge=0)
    fail_reason: str = "R01"
    lose: bool = False


class SimConfig(BaseModel):
    auto_progress: bool = Field(True, description="Deliveries move on by themselves (pickup orders do not)")
    step_delay_s: float = Field(1.0, ge=0, description="Pause between two automatic statuses")
    duplicate_webhooks: bool = Field(False, description="Send every webhook twice")
    reverse_batches: bool = Field(False, description="Send each automatic batch of statuses in reverse order")
    api_failures: int = Field(0, ge=0, description="The next N API calls answer 503")
    default_script: Script = Field(default_factory=Script)


class ConfigPatch(BaseModel):
    auto_progress: bool | None = None
    step_delay_s: float | None = Field(None, ge=0)
    duplicate_webhooks: bool | None = None
    reverse_batches: bool | None = None
    api_failures: int | None = Field(None, ge=0)
    default_script: Script | None = None


class SimState:
    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.orders: dict[str, SimOrder] = {}  # by item code
        self.by_order_code: dict[tuple[str, str], str] = {}
        self.events: dict[str, SimEvent] = {}
        self.scripts: dict[str, Script] = {}
        self.config = SimConfig()
        self.serial = 0
        self.event_serial = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def script_for(self, order: SimOrder) -> Script:
        body = order.body
        keys = (str(body.get("ReceiverPhone") or ""), order.order_code)
        for key in keys:
            if key and key in self.scripts:
                return self.scripts[key]
        content = str(body.get("Content") or "")
        for key, script in self.scripts.items():
            if key and key in content:
                return script
        return self.config.default_script

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
