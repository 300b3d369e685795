"""The simulated providers over real HTTP, speaking the protocols notify's adapters speak:

- `POST /sms/{gateway}/api/v1/sms/send` — a brand-name SMS gateway (several gateways in one
  process, e.g. `primary` and `backup`); it then POSTs a signed delivery receipt to the
  request's `callback_url`;
- `POST /zalo/message/template` — Zalo ZNS by phone number; it then POSTs a signed
  `user_received_message` event to the OA's webhook;
- `/admin/…` configures gateways, the Zalo app, failure modes (fail, slow, temporary errors,
  undeliverable, expired, no receipt; optionally for the next N requests only), numbers
  without a Zalo account, and lists what was received and which callbacks were made.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.notify.channels.sms import sign_receipt
from services.notify.channels.zalo import webhook_mac
from services.notify.simulators.state import MODES, PHONE, Behaviour, SimState, SmsGateway


class BehaviourIn(BaseModel):
    mode: str = Field("ok", pattern="^(" + "|".join(MODES) + ")$")
    delay_s: float = Field(0.0, ge=0, le=120)
    remaining: int | None = Field(None, ge=0, description="Apply to the next N requests only")
    receipt_delay_s: float = Field(0.05, ge=0, le=60)
    retry_after_s: float = Field(1.0, ge=0, le=3600)


class GatewayIn(BaseModel):
    api_key: str = ""
    callback_secret: str = ""
    behaviour: BehaviourIn | None = None


class ZaloIn(BaseModel):
    app_id: str = "motcua-demo"
    access_token: str = ""
    oa_secret: str = ""
    webhook_url: str = ""
    behaviour: BehaviourIn | None = None


class PhonesIn(BaseModel):
    phones: list[str] = Field(default_factory=list)


def _segments(text: str) -> int:
    gsm = all(ord(c) < 128 for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


def create_simulator_app(gateways: list[SmsGateway] | None = None, zalo: dict[str, Any] | None = None) -> FastAPI:
    state = SimState()
    for gateway in gateways or []:
        state.gateways[gateway.name] = gateway
    if zalo:
        state.zalo = state.zalo.__class__(**zalo)
    holder: dict[str, httpx.AsyncClient] = {}
    tasks: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder["http"] = httpx.AsyncClient(timeout=10)
        yield
        for task in list(tasks):
            task.cancel()
        await holder["http"].aclose()

    app = FastAPI(title="Một Cửa — SMS and Zalo ZNS simulators", lifespan=lifespan)
    app.state.sim = state

    def later(coro: Any) -> None:
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def post_callback(url: str, body: bytes, headers: dict[str, str], delay_s: float, kind: str) -> None:
        await asyncio.sleep(delay_s)
        record: dict[str, Any] = {
            "kind": kind,
            "url": url,
            "body": json.loads(body),
            "at": datetime.now(UTC).isoformat(),
        }
        try:
            response = await holder["http"].post(
                url, content=body, headers={"content-type": "application/json", **headers}
            )
            record["status_code"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        state.callbacks.append(record)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "notify-simulators"}

    # ---- brand-name SMS gateway ----------------------------------------------------------
    @app.post("/sms/{name}/api/v1/sms/send")
    async def sms_send(name: str, request: Request, authorization: str = Header("")) -> JSONResponse:
        gateway = state.gateways.get(name)
        if gateway is None:
            return JSONResponse({"code": "404", "message": "unknown gateway"}, status_code=404)
        if gateway.api_key and authorization != f"Bearer {gateway.api_key}":
            return JSONResponse({"code": "01", "message": "invalid api key"}, status_code=401)
        data = await request.json()
        phone, text = str(data.get("phone", "")), str(data.get("message", ""))
        request_id = str(data.get("request_id") or "")
        record = {
            "channel": "sms",
            "gateway": name,
            "to": phone,
            "text": text,
            "request_id": request_id,
            "brandname": data.get("brandname"),
            "at": datetime.now(UTC).isoformat(),
        }
        if request_id and request_id in gateway.by_request:  # the gateway deduplicates on request_id
            first = gateway.by_request[request_id]
            return JSONResponse({"code": "00", "message_id": first["message_id"], "duplicate": True})
        mode = gateway.behaviour.next_mode()
        if mode == "fail":
            state.messages.append({**record, "result": "error 500"})
            return JSONResponse({"code": "99", "message": "internal error"}, status_code=500)
        if mode == "temporary":
            state.messages.append({**record, "result": "busy 503"})
            return JSONResponse(
                {"code": "98", "message": "gateway busy"},
                status_code=503,
                headers={"Retry-After": f"{gateway.behaviour.retry_after_s:g}"},
            )
        if mode == "slow":
            await asyncio.sleep(gateway.behaviour.delay_s)
        if not PHONE.match(phone):
            state.messages.append({**record, "result": "invalid phone"})
            return JSONResponse({"code": "12", "message": "invalid phone number"}, status_code=400)
        message_id = state.next_id("SMS")
        accepted = {**record, "result": "accepted", "message_id": message_id, "segments": _segments(text), "mode": mode}
        state.messages.append(accepted)
        gateway.by_request[request_id or message_id] = accepted
        callback = data.get("callback_url")
        receipt = {"undeliverable": "FAILED", "expired": "EXPIRED"}.get(mode, "DELIVERED")
        if callback and mode != "no_receipt":
            body = json.dumps(
                {
                    "message_id": message_id,
                    "request_id": request_id,
                    "status": receipt,
                    "error_code": None if receipt == "DELIVERED" else "E" + receipt[:3],
                    "done_at": datetime.now(UTC).isoformat(),
                }
            ).encode()
            headers = {"X-Signature": sign_receipt(gateway.callback_secret, body)}
            later(post_callback(callback, body, headers, gateway.behaviour.receipt_delay_s, f"sms:{name}"))
        return JSONResponse(
            {"code": "00", "message": "accepted", "message_id": message_id, "segments": accepted["segments"]}
        )

    # ---- Zalo ZNS ----------------------------------------------------------------------------
    @app.post("/zalo/message/template")
    async def zns_send(request: Request, access_token: str = Header("", convert_underscores=False)) -> JSONResponse:
        app_ = state.zalo
        data = await request.json()
        phone = str(data.get("phone", ""))
        record = {
            "channel": "zalo",
            "to": phone,
            "template_id": data.get("template_id"),
            "template_data": data.get("template_data"),
            "tracking_id": data.get("tracking_id"),
            "at": datetime.now(UTC).isoformat(),
        }

        def refuse(error: int, message: str) -> JSONResponse:
            state.messages.append({**record, "result": f"error {error}"})
            return JSONResponse({"error": error, "message": message})

        if app_.access_token and access_token != app_.access_token:
            return refuse(-124, "Access token is invalid")
        mode = app_.behaviour.next_mode()
        if mode == "fail":
            state.messages.append({**record, "result": "error 502"})
            return JSONResponse({"error": -500, "message": "bad gateway"}, status_code=502)
        if mode == "temporary":
            return refuse(-32, "Exceed rate limit")
        if mode == "slow":
            await asyncio.sleep(app_.behaviour.delay_s)
        if not PHONE.match(phone):
            return refuse(-108, "Phone number invalid")
        if phone in app_.no_account:
            return refuse(-118, "Zalo account not existed")
        if not data.get("template_id") or not data.get("template_data"):
            return refuse(-112, "Template data empty")
        msg_id = state.next_id("ZNS")
        state.messages.append({**record, "result": "accepted", "msg_id": msg_id, "mode": mode})
        if app_.webhook_url and mode not in ("no_receipt", "undeliverable", "expired"):
            timestamp = str(int(time.time() * 1000))
            body = json.dumps(
                {
                    "app_id": app_.app_id,
                    "event_name": "user_received_message",
                    "timestamp": timestamp,
                    "sender": {"id": "oa-motcua"},
                    "recipient": {"id": f"u{phone[-6:]}"},
                    "message": {"msg_id": msg_id, "tracking_id": data.get("tracking_id"), "delivery_time": timestamp},
                }
            ).encode()
            headers = {"X-ZEvent-Signature": f"mac={webhook_mac(app_.app_id, body, timestamp, app_.oa_secret)}"}
            later(post_callback(app_.webhook_url, body, headers, app_.behaviour.receipt_delay_s, "zalo"))
        return JSONResponse(
            {
                "error": 0,
                "message": "Success",
                "data": {
                    "msg_id": msg_id,
                    "sent_time": str(int(time.time() * 1000)),
                    "quota": {"dailyQuota": "500", "remainingQuota": "499"},
                },
            }
        )

    # ---- administration ----------------------------------------------------------------------
    @app.put("/admin/sms/{name}")
    async def put_gateway(name: str, body: GatewayIn) -> dict[str, Any]:
        gateway = state.gateways.setdefault(name, SmsGateway(name))
        gateway.api_key, gateway.callback_secret = body.api_key, body.callback_secret
        if body.behaviour:
            gateway.behaviour = Behaviour(**body.behaviour.model_dump())
        return {"gateway": name, "mode": gateway.behaviour.mode}

    @app.put("/admin/sms/{name}/mode")
    async def sms_mode(name: str, body: BehaviourIn) -> dict[str, Any]:
        gateway = state.gateways.get(name)
        if gateway is None:
            raise HTTPException(404, "unknown gateway")
        gateway.behaviour = Behaviour(**body.model_dump())
        return {"gateway": name, **body.model_dump()}

    @app.put("/admin/zalo")
    async def put_zalo(body: ZaloIn) -> dict[str, Any]:
        z = state.zalo
        z.app_id, z.access_token, z.oa_secret, z.webhook_url = (
            body.app_id,
            body.access_token,
            body.oa_secret,
            body.webhook_url,
        )
        if body.behaviour:
            z.behaviour = Behaviour(**body.behaviour.model_dump())
        return {"app_id": z.app_id, "webhook_url": z.webhook_url}

    @app.put("/admin/zalo/mode")
    async def zalo_mode(body: BehaviourIn) -> dict[str, Any]:
        state.zalo.behaviour = Behaviour(**body.model_dump())
        return body.model_dump()

    @app.put("/admin/zalo/no-account")
    async def zalo_no_account(body: PhonesIn) -> dict[str, int]:
        state.zalo.no_account.update(body.phones)
        return {"phones": len(state.zalo.no_account)}

    @app.get("/admin/messages")
    async def messages(
        to: str | None = None, channel: str | None = None, gateway: str | None = None
    ) -> list[dict[str, Any]]:
        found = state.messages
        if to:
            found = [m for m in found if m["to"] == to]
        if channel:
            found = [m for m in found if m["channel"] == channel]
        if gateway:
            found = [m for m in found if m.get("gateway") == gateway]
        return found

    @app.get("/admin/callbacks")
    async def callbacks() -> list[dict[str, Any]]:
        return state.callbacks

    return app
