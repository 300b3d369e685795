"""The callback guard (kit.callbacks) in front of real services: payments, postal and notify run
their real lifespans against the session's servers and receive correctly signed callbacks from
127.0.0.1 (the ASGI client's address) — refused when the source is not allowed (nothing changes),
accepted when it is, judged by the forwarded address behind a trusted proxy, and rate-limited
per source."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from services.kit.auth import Role
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings
from services.notify.app import create_app as create_notify
from services.payments.app import PaymentsSettings
from services.payments.app import create_app as create_payments
from services.payments.model import vietqr
from services.payments.model.signatures import sign_body as sign_bank
from services.postal.app import PostalSettings
from services.postal.app import create_app as create_postal
from services.postal.model.signatures import sign_body as sign_postal
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.integration

UNIT = "30280"
CASHIER = auth(Role.CASHIER, unit_code=UNIT)
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91")
BANK_SECRET = "bank-test-secret-0123456789"
POSTAL_SECRET = "operator-webhook-secret-0123456789"
GATEWAY = {"X-Forwarded-For": "10.20.30.40"}  # as the province's gateway (127.0.0.1, trusted) forwards it


def _refused(r: httpx.Response, code: str, status: int) -> bool:
    return r.status_code == status and r.json()["error"]["code"] == code


# ---- payments: a signed bank transfer notification -------------------------------------------------
async def _pending_vietqr_intent(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post(
        "/intents",
        headers=CASHIER,
        json={
            "dossier_id": uuid.uuid4().hex,
            "dossier_code": f"000.00.12.H01-{uuid.uuid4().hex[:6]}",
            "payer": {"name": "Nguyễn Thị Hương"},
            "unit_path": [UNIT, "91"],
            "items": [{"kind": "charge", "name": "Lệ phí", "amount": 50_000}],
        },
    )
    assert created.status_code == 201, created.text
    intent: dict[str, Any] = created.json()
    checkout = await client.post(f"/intents/{intent['id']}/checkout", headers=CASHIER, json={"channel": "vietqr"})
    assert checkout.status_code == 200, checkout.text
    return intent


async def _bank_notification(
    client: httpx.AsyncClient, intent: dict[str, Any], account: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps(
        {
            "transaction_id": f"FT{uuid.uuid4().hex[:10]}",
            "account": account,
            "amount": 50_000,
            "description": vietqr.payment_note(intent["ref"]),
        }
    ).encode()
    ts = int(time.time())
    signed = {"x-bank-timestamp": str(ts), "x-bank-signature": sign_bank(BANK_SECRET, ts, body), **(headers or {})}
    return await client.post("/callbacks/bank/vietqr", content=body, headers=signed)


async def test_payments_accepts_callbacks_only_from_allowed_sources(servers: Endpoints) -> None:
    account = f"0011{uuid.uuid4().int % 10**10:010d}"
    settings = settings_for(
        servers,
        PaymentsSettings,
        vietqr_bank_bin="970436",
        vietqr_account=account,
        vietqr_account_name="UBND PHUONG MY BINH",
        bank_webhook_secret=BANK_SECRET,
        vnpay_tmn_code="MCGUARD",
        vnpay_hash_secret="vnpay-test-secret-0123456789ABCDEF",
        receipt_link_secret="receipt-link-secret",
        sweep_interval_s=3600,
        callback_sources=["10.0.0.0/8"],
    )
    async with running_app(create_payments(settings)) as client:
        intent = await _pending_vietqr_intent(client)

        refused = await _bank_notification(client, intent, account)  # correctly signed, from 127.0.0.1
        assert _refused(refused, "source_not_allowed", 403), refused.text
        assert (await client.get(f"/intents/{intent['id']}", headers=CASHIER)).json()["status"] == "pending"
        # the browser return page is not a callback: any source may land there
        back = await client.get("/callbacks/vnpay/return", params={"vnp_TxnRef": "x"})
        assert back.status_code == 200 and 'data-status="unknown"' in back.text  # unsigned: shown as invalid

        # the gateway (a trusted proxy) forwards the bank's address, which is allowed
        accepted = await _bank_notification(client, intent, account, GATEWAY)
        assert accepted.status_code == 200 and accepted.json()["result"] == "confirmed", accepted.text
        assert (await client.get(f"/intents/{intent['id']}", headers=CASHIER)).json()["status"] == "paid"


# ---- postal: signed operator webhooks ------------------------------------------------------------------
async def _webhook(client: httpx.AsyncClient, customer: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps(
        {
            "CustomerCode": customer,
            "EventId": f"EV-{uuid.uuid4().hex[:8]}",
            "ItemCode": "EB999999995VN",
            "OrderCode": f"nope-{uuid.uuid4().hex[:6]}",
            "StatusCode": "500",
            "Attempt": 1,
            "EventTime": "2026-03-02T10:00:00+07:00",
        }
    ).encode()
    ts = int(time.time())
    signature = sign_postal(POSTAL_SECRET, ts, body)
    signed = {"x-postal-timestamp": str(ts), "x-postal-signature": signature, **(headers or {})}
    return await client.post("/webhooks/vnpost", content=body, headers=signed)


async def _webhook_log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/webhook-log", headers=PROVINCE_ADMIN)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def _postal_settings(servers: Endpoints, customer: str, **over: Any) -> PostalSettings:
    return settings_for(
        servers,
        PostalSettings,
        postal_customer_code=customer,
        postal_operator_token="operator-api-token-0123456789",
        postal_webhook_secret=POSTAL_SECRET,
        postal_sweep_interval_s=3600,
        **over,
    )


async def test_postal_refuses_webhooks_from_other_sources(servers: Endpoints) -> None:
    customer = f"MC-{uuid.uuid4().hex[:6].upper()}"
    settings = _postal_settings(servers, customer, callback_sources=["10.0.0.0/8"])
    async with running_app(create_postal(settings)) as client:
        refused = await _webhook(client, customer)
        assert _refused(refused, "source_not_allowed", 403), refused.text
        assert await _webhook_log(client) == []  # refused before the signature: nothing recorded
        # from the allowed network through the trusted gateway: checked and recorded (unknown item)
        forwarded = await _webhook(client, customer, GATEWAY)
        assert forwarded.status_code == 404 and forwarded.json()["result"] == "unknown", forwarded.text
        assert [row["result"] for row in await _webhook_log(client)] == ["unknown"]


async def test_postal_limits_each_source_and_judges_the_forwarded_address(servers: Endpoints) -> None:
    customer = f"MC-{uuid.uuid4().hex[:6].upper()}"
    settings = _postal_settings(
        servers, customer, callback_sources=["127.0.0.0/8"], callback_rate_per_minute=0.5, callback_burst=2
    )
    async with running_app(create_postal(settings)) as client:
        first = await _webhook(client, customer)
        # 127.0.0.1 is a trusted proxy: the address it forwards is the one judged
        stranger = await _webhook(client, customer, {"X-Forwarded-For": "198.51.100.7"})
        assert _refused(stranger, "source_not_allowed", 403), stranger.text
        second = await _webhook(client, customer)
        assert first.status_code == second.status_code == 404  # accepted, checked: an unknown item
        third = await _webhook(client, customer)
        assert _refused(third, "rate_limited", 429), third.text
        assert int(third.headers["Retry-After"]) >= 60
        assert len(await _webhook_log(client)) == 2  # the refused ones never reached the service
        metrics = (await client.get("/metrics")).text
        assert 'motcua_callbacks_refused_total{reason="rate_limited",service="postal"}' in metrics


# ---- notify: delivery receipts ---------------------------------------------------------------------------
async def test_notify_refuses_receipts_from_other_sources(servers: Endpoints) -> None:
    settings = settings_for(servers, NotifySettings, reminders_enabled=False, callback_sources=["10.0.0.0/8"])
    async with running_app(create_notify(settings)) as client:
        sms = await client.post("/callbacks/sms/primary", content=b"{}", headers={"X-Signature": "00" * 32})
        zalo = await client.post("/callbacks/zalo", content=b"{}", headers={"X-ZEvent-Signature": "mac=0"})
        assert _refused(sms, "source_not_allowed", 403) and _refused(zalo, "source_not_allowed", 403)
        # through the trusted gateway the provider's address is allowed: on to the receipt's own checks
        passed = await client.post("/callbacks/sms/primary", content=b"{}", headers=GATEWAY)
        assert _refused(passed, "unknown_provider", 404), passed.text
