"""A VNPost-style postal operator over real HTTP, for dev, the demo and the tests.

- `/api/v1/…` the operator's API (model/vnpost.py): orders (idempotent on OrderCode), cancel,
  re-deliver, return, tracking; `Token` header per customer;
- signed status webhooks (HMAC-SHA256 over "<timestamp>.<body>") to the customer's URL;
- automatic progress of deliveries (picked up → in transit → out for delivery → delivered, or
  failed per the recipient's script; re-delivery and return when asked), pickups move only
  when told;
- faults on demand: duplicate webhooks, batches in reverse order, forged or stale signatures,
  API outages (503), losses;
- `/admin/…` registers customers, sets the config and scripts, pushes statuses, re-sends events.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.postal.model import s10, vnpost
from services.postal.model.signatures import sign_body
from services.postal.model.status import ShipmentStatus
from services.postal.simulator.state import ConfigPatch, Customer, Script, SimEvent, SimOrder, SimState

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

WEBHOOK_ATTEMPTS = 6  # a 5xx, a 409 or no answer is retried with back-off; 2xx/401/404 are final

Token = Annotated[str | None, Header(alias="Token", description="The customer's API token")]


class CustomerIn(BaseModel):
    customer_code: str
    token: str
    webhook_secret: str
    webhook_url: str


class EventIn(BaseModel):
    status: str = Field(description="Our status name (in_transit) or the operator code (300)")
    attempt: int | None = None
    reason_code: str | None = Field(None, description="Operator reason (R01…) for failures")
    note: str = ""


class EventsIn(BaseModel):
    events: list[EventIn]
    duplicate: bool = False
    reverse: bool = False
    signature: str = Field("valid", pattern="^(valid|forged|stale|none)$")


def _answer(code: str, message: str, data: Any = None, status: int = 200) -> JSONResponse:
    return JSONResponse({"Code": code, "Message": message, "Data": data}, status_code=status)


def _status_code(value: str) -> str:
    if value in vnpost.STATUS_CODES:
        return value
    try:
        return vnpost.CODE_FOR[ShipmentStatus(value)]
    except (ValueError, KeyError) as exc:
        raise HTTPException(400, f"unknown status {value!r}") from exc


def create_simulator_app(defaults: dict[str, Any] | None = None, *, step_delay_s: float = 1.0) -> FastAPI:
    state = SimState()
    state.config.step_delay_s = step_delay_s
    holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder["http"] = httpx.AsyncClient(timeout=10)
        yield
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await holder["http"].aclose()

    app = FastAPI(title="Một Cửa — postal operator simulator (VNPost-style)", lifespan=lifespan)
    app.state.sim = state
    d = defaults or {}
    if d.get("customer_code") and d.get("token") and d.get("webhook_secret"):
        state.customers[d["customer_code"]] = Customer(
            d["customer_code"], d["token"], d["webhook_secret"], d["webhook_url"]
        )

    def http() -> httpx.AsyncClient:
        return holder["http"]

    # ---- webhooks ----------------------------------------------------------------------
    def _body(event: SimEvent) -> bytes:
        return json.dumps(
            {
                "CustomerCode": event.customer_code,
                "EventId": event.event_id,
                "ItemCode": event.item_code,
                "OrderCode": event.order_code,
                "StatusCode": event.status_code,
                "StatusName": vnpost.STATUS_NAMES_VI.get(event.status_code, ""),
                "Attempt": event.attempt,
                "ReasonCode": event.reason_code,
                "Note": event.note,
                "EventTime": vnpost.format_time(event.at),
            },
            ensure_ascii=False,
        ).encode()

    async def _send(event: SimEvent, signature: str = "valid") -> dict[str, Any]:
        customer = state.customers[event.customer_code]
        body = _body(event)
        ts = int(time.time()) - (3600 if signature == "stale" else 0)
        secret = customer.secret if signature != "forged" else customer.secret + "-forged"
        headers = {"content-type": "application/json"}
        if signature != "none":
            headers[vnpost.TIMESTAMP_HEADER] = str(ts)
            headers[vnpost.SIGNATURE_HEADER] = sign_body(secret, ts, body)
        reply: dict[str, Any] = {}
        for attempt in range(WEBHOOK_ATTEMPTS):  # like operators: retry until a final answer
            if attempt:
                await asyncio.sleep(0.1 * 2**attempt)
            try:
                response = await http().post(customer.webhook_url, content=body, headers=headers)
                try:
                    answer: Any = response.json()
                except ValueError:
                    answer = response.text[:200]
                reply = {
                    "event_id": event.event_id,
                    "status_code": event.status_code,
                    "http_status": response.status_code,
                    "answer": answer,
                    "signature": signature,
                    "attempts": attempt + 1,
                }
                if response.status_code < 500 and response.status_code != 409:
                    break
            except httpx.HTTPError as exc:
                reply = {
                    "event_id": event.event_id,
                    "status_code": event.status_code,
                    "error": f"{type(exc).__name__}: {exc}",
                    "signature": signature,
                    "attempts": attempt + 1,
                }
        order = state.orders.get(event.item_code)
        if order is not None:
            order.webhook_replies.append(reply)
        return reply

    async def _deliver(
        events: list[SimEvent], *, duplicate: bool, reverse: bool, signature: str = "valid", delay: float = 0.0
    ) -> list[dict[str, Any]]:
        replies = []
        for i, event in enumerate(reversed(events) if reverse else events):
            if delay and i:
                await asyncio.sleep(delay)
            replies.append(await _send(event, signature))
            if duplicate:
                replies.append(await _send(event, signature))
        return replies

    def _record(
        order: SimOrder,
        code: str,
        attempt: int | None = None,
        reason: str | None = None,
        note: str = "",
        at: datetime | None = None,
    ) -> SimEvent:
        state.event_serial += 1
        if code in ("400", "500", "550"):
            attempt = (
                attempt if attempt is not None else (order.attempt + 1 if code == "400" else max(order.attempt, 1))
            )
        else:
            attempt = order.attempt if attempt is None else attempt
        event = SimEvent(
            event_id=f"EV{state.event_serial:08d}-{uuid.uuid4().hex[:6]}",
            item_code=order.item_code,
            order_code=order.order_code,
            customer_code=order.customer_code,
            status_code=code,
            attempt=attempt,
            at=(at or datetime.now(UTC)).astimezone(VN_TZ),
            reason_code=reason,
            note=note,
        )
        order.events.append(event)
        state.events[event.event_id] = event
        order.status_code = code
        order.attempt = attempt
        if code in ("400", "600"):
            order.pending = None
        return event

    def _batch_times(n: int) -> list[datetime]:
        # logical times one second apart, so reordering is visible in EventTime too
        start = datetime.now(UTC)
        return [start + timedelta(seconds=i) for i in range(n)]

    async def _run(order: SimOrder, steps: list[tuple[str, str | None]]) -> None:
        """Record and send a batch of automatic statuses."""
        cfg = state.config
        reverse = cfg.reverse_batches
        if reverse:
            times = _batch_times(len(steps))
            events = [
                _record(order, code, reason=reason, at=at) for (code, reason), at in zip(steps, times, strict=True)
            ]
            await _deliver(events, duplicate=cfg.duplicate_webhooks, reverse=True)
            return
        for i, (code, reason) in enumerate(steps):
            if i or cfg.step_delay_s:
                await asyncio.sleep(cfg.step_delay_s)
            event = _record(order, code, reason=reason)
            await _deliver([event], duplicate=cfg.duplicate_webhooks, reverse=False)

    def _attempt_steps(order: SimOrder) -> list[tuple[str, str | None]]:
        script = state.script_for(order)
        next_attempt = order.attempt + 1
        if script.lose:
            return [("900", None)]
        if next_attempt <= script.fail_attempts:
            return [("400", None), ("550", script.fail_reason)]
        return [("400", None), ("500", None)]

    # ---- the operator's API ------------------------------------------------------------
    def _customer(token: str | None, code: str | None) -> Customer | None:
        customer = state.customers.get(code or "")
        if customer is None or token is None or customer.token != token:
            return None
        return customer

    def _outage() -> JSONResponse | None:
        if state.config.api_failures > 0:
            state.config.api_failures -= 1
            return _answer(vnpost.SYSTEM_ERROR, "Hệ thống đang bận", status=503)
        return None

    def _order_data(order: SimOrder) -> dict[str, Any]:
        return {
            "ItemCode": order.item_code,
            "OrderCode": order.order_code,
            "TotalFee": order.fee,
            "StatusCode": order.status_code,
        }

    @app.post("/api/v1/orders")
    async def create_order(request: Request, token: Token = None) -> JSONResponse:
        if (outage := _outage()) is not None:
            return outage
        body = await request.json()
        customer = _customer(token, body.get("CustomerCode"))
        if customer is None:
            return _answer(vnpost.UNAUTHORISED, "Sai mã khách hàng hoặc token", status=401)
        order_code = str(body.get("OrderCode") or "")
        kind = str(body.get("OrderType") or "").lower()
        if not order_code or kind not in ("pickup", "delivery") or not body.get("ReceiverPhone"):
            return _answer(vnpost.INVALID, "Thiếu OrderCode, OrderType hoặc thông tin người nhận", status=400)
        existing = state.by_order_code.get((customer.code, order_code))
        if existing is not None:  # idempotent: the same order again
            return _answer(vnpost.OK, "Đơn hàng đã tồn tại", _order_data(state.orders[existing]))
        state.serial += 1
        item = s10.make("EB" if kind == "delivery" else "EP", 10_000_000 + state.serial)
        same = body.get("SenderProvinceCode") == body.get("ReceiverProvinceCode")
        order = SimOrder(item, order_code, customer.code, kind, body, fee=25_000 if same else 35_000)
        state.orders[item] = order
        state.by_order_code[(customer.code, order_code)] = item
        order.events.append(SimEvent(f"EV-{item}-100", item, order_code, customer.code, "100", 0, datetime.now(VN_TZ)))
        if kind == "delivery" and state.config.auto_progress:
            state.spawn(_run(order, [("200", None), ("300", None), *_attempt_steps(order)]))
        return _answer(vnpost.OK, "Thành công", _order_data(order))

    def _find(item_code: str, token: str | None, customer_code: str | None) -> SimOrder | JSONResponse:
        order = state.orders.get(item_code)
        if order is None:
            return _answer(vnpost.NOT_FOUND, "Không tìm thấy bưu gửi", status=404)
        if _customer(token, customer_code or order.customer_code) is None or (
            customer_code and customer_code != order.customer_code
        ):
            return _answer(vnpost.UNAUTHORISED, "Sai mã khách hàng hoặc token", status=401)
        return order

    @app.post("/api/v1/orders/{item_code}/cancel")
    async def cancel(item_code: str, request: Request, token: Token = None) -> JSONResponse:
        if (outage := _outage()) is not None:
            return outage
        body = await request.json()
        found = _find(item_code, token, body.get("CustomerCode"))
        if isinstance(found, JSONResponse):
            return found
        found.requests.append("cancel")
        if found.status_code == "800":
            return _answer(vnpost.OK, "Đã huỷ trước đó", _order_data(found))
        if found.status_code != "100":
            return _answer(vnpost.BAD_STATE, "Bưu gửi đã được nhận, không thể huỷ", status=409)
        event = _record(found, "800", note=str(body.get("Reason") or ""))
        state.spawn(_deliver([event], duplicate=state.config.duplicate_webhooks, reverse=False))
        return _answer(vnpost.OK, "Đã huỷ", _order_data(found))

    @app.post("/api/v1/orders/{item_code}/redeliver")
    async def redeliver(item_code: str, request: Request, token: Token = None) -> JSONResponse:
        if (outage := _outage()) is not None:
            return outage
        body = await request.json()
        found = _find(item_code, token, body.get("CustomerCode"))
        if isinstance(found, JSONResponse):
            return found
        found.requests.append("redeliver")
        if found.status_code == "400":
            return _answer(vnpost.OK, "Đang phát lại", _order_data(found))
        if found.status_code != "550":
            return _answer(vnpost.BAD_STATE, "Chỉ phát lại bưu gửi phát không thành công", status=409)
        if state.config.auto_progress and found.pending is None:
            found.pending = "redeliver"
            state.spawn(_run(found, _attempt_steps(found)))
        return _answer(vnpost.OK, "Đã nhận yêu cầu phát lại", _order_data(found))

    @app.post("/api/v1/orders/{item_code}/return")
    async def return_to_sender(item_code: str, request: Request, token: Token = None) -> JSONResponse:
        if (outage := _outage()) is not None:
            return outage
        body = await request.json()
        found = _find(item_code, token, body.get("CustomerCode"))
        if isinstance(found, JSONResponse):
            return found
        found.requests.append("return")
        if found.status_code in ("600", "700"):
            return _answer(vnpost.OK, "Đang chuyển hoàn", _order_data(found))
        if found.status_code in ("500", "800", "900"):
            return _answer(vnpost.BAD_STATE, "Bưu gửi đã kết thúc", status=409)
        if state.config.auto_progress and found.pending != "return":
            found.pending = "return"
            state.spawn(_run(found, [("600", None), ("700", None)]))
        return _answer(vnpost.OK, "Đã nhận yêu cầu chuyển hoàn", _order_data(found))

    @app.get("/api/v1/orders/{item_code}/tracking")
    async def tracking(item_code: str, token: Token = None, CustomerCode: str | None = None) -> JSONResponse:
        if (outage := _outage()) is not None:
            return outage
        found = _find(item_code, token, CustomerCode)
        if isinstance(found, JSONResponse):
            return found
        return _answer(vnpost.OK, "Thành công", [json.loads(_body(e)) for e in found.events])

    # ---- admin (tests and the demo) ------------------------------------------------------
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "postal-operator-simulator"}

    @app.post("/admin/customers", status_code=201)
    async def add_customer(body: CustomerIn) -> dict[str, str]:
        state.customers[body.customer_code] = Customer(
            body.customer_code, body.token, body.webhook_secret, body.webhook_url
        )
        return {"customer_code": body.customer_code}

    @app.get("/admin/config")
    async def get_config() -> dict[str, Any]:
        return state.config.model_dump()

    @app.patch("/admin/config")
    async def patch_config(body: ConfigPatch) -> dict[str, Any]:
        for key, value in body.model_dump(exclude_none=True).items():
            setattr(state.config, key, Script(**value) if key == "default_script" else value)
        return state.config.model_dump()

    @app.put("/admin/scripts/{key}")
    async def put_script(key: str, body: Script) -> dict[str, Any]:
        """Script deliveries whose receiver phone, OrderCode, or content (e.g. a dossier code) matches."""
        state.scripts[key] = body
        return {"key": key, **body.model_dump()}

    def _view(order: SimOrder) -> dict[str, Any]:
        return {
            "item_code": order.item_code,
            "order_code": order.order_code,
            "customer_code": order.customer_code,
            "kind": order.kind,
            "status_code": order.status_code,
            "attempt": order.attempt,
            "fee": order.fee,
            "body": order.body,
            "requests": order.requests,
            "webhook_replies": order.webhook_replies,
            "events": [
                {
                    "event_id": e.event_id,
                    "status_code": e.status_code,
                    "attempt": e.attempt,
                    "reason_code": e.reason_code,
                    "at": e.at.isoformat(),
                }
                for e in order.events
            ],
        }

    @app.get("/admin/orders")
    async def list_orders(q: str | None = None) -> list[dict[str, Any]]:
        """Orders whose OrderCode, item code or content contains `q`."""
        found = [
            o
            for o in state.orders.values()
            if not q or q in o.order_code or q in o.item_code or q in str(o.body.get("Content", ""))
        ]
        return [_view(o) for o in found]

    @app.get("/admin/orders/{item_code}")
    async def get_order(item_code: str) -> dict[str, Any]:
        order = state.orders.get(item_code)
        if order is None:
            raise HTTPException(404, "no such item")
        return _view(order)

    @app.post("/admin/orders/{item_code}/events")
    async def push_events(item_code: str, body: EventsIn) -> dict[str, Any]:
        """Record statuses in the given (logical) order, then send them: reversed, duplicated, or badly signed."""
        order = state.orders.get(item_code)
        if order is None:
            raise HTTPException(404, "no such item")
        times = _batch_times(len(body.events))
        events = [
            _record(order, _status_code(e.status), e.attempt, e.reason_code, e.note, at)
            for e, at in zip(body.events, times, strict=True)
        ]
        replies = await _deliver(events, duplicate=body.duplicate, reverse=body.reverse, signature=body.signature)
        return {"events": [e.event_id for e in events], "replies": replies}

    @app.post("/admin/events/{event_id}/resend")
    async def resend(event_id: str, signature: str = "valid") -> dict[str, Any]:
        """Deliver an event again (operators retry until they get a 2xx)."""
        event = state.events.get(event_id)
        if event is None:
            raise HTTPException(404, "no such event")
        return await _send(event, signature)

    @app.post("/admin/idle")
    async def idle(timeout_s: float = 10.0) -> dict[str, int]:
        """Wait until every automatic progress task has finished (tests)."""
        deadline = time.monotonic() + timeout_s
        while state.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return {"pending": len(state.tasks)}

    return app
