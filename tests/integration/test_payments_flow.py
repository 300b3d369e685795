"""Payments against the real servers (NATS JetStream, MongoDB) and the provider simulators
running as a real process (`python -m services.payments.simulators`) on a loopback port.

The payments app runs its real lifespan (broker, subscribers, outbox relay, sweeper) and is
also served over real HTTP, so the simulated gateway, bank and POS terminal call it back.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import openpyxl
import pypdf
import pytest
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload, FeeDue
from services.contracts.streams import PAYMENT
from services.kit.auth import Role
from services.kit.mongo import Document
from services.launcher.ports import free_port
from services.launcher.servers import Endpoints
from services.payments.app import PaymentsSettings, create_app
from services.payments.model import vietqr, vnpay
from services.payments.model.intent import Channel
from services.payments.model.signatures import sign_body
from services.payments.service import PaymentsService
from tests.support import auth, running_app, settings_for, simulator_process

pytestmark = pytest.mark.integration

VNPAY_SECRET = "vnpay-test-secret-0123456789ABCDEF"
BANK_SECRET = "bank-test-secret-0123456789"
POS_SECRET = "pos-test-secret-0123456789"
PAN = "4111111111111111"
UNIT = "30280"  # a commune of An Giang (91)
PATH = [UNIT, "91"]


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient  # in-process (ASGI)
    http: httpx.AsyncClient  # real HTTP, to the simulators and to our callbacks
    base_url: str
    sim: str
    tmn_code: str
    account: str
    terminal: str
    db_name: str

    @property
    def service(self) -> PaymentsService:
        service: PaymentsService = self.app.state.payments
        return service


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with simulator_process("services.payments.simulators") as url:
        yield url


async def _start_env(servers: Endpoints, simulator: str, **overrides: Any) -> tuple[Env, Any]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    suffix = uuid.uuid4().hex[:6].upper()
    tmn, account, terminal = f"MC{suffix}", f"0011{int(suffix, 16):010d}", f"POS-{suffix}"
    settings = settings_for(
        servers, PaymentsSettings, payments_public_url=base_url, simulator_url=simulator,
        vnpay_tmn_code=tmn, vnpay_hash_secret=VNPAY_SECRET, vietqr_bank_bin="970436", vietqr_account=account,
        vietqr_account_name="UBND PHUONG MY BINH", bank_webhook_secret=BANK_SECRET, pos_secret=POS_SECRET,
        pos_default_terminal=terminal, receipt_link_secret="receipt-link-secret",
        receipt_issuer_name="UBND phường Mỹ Bình",
        **overrides,
    )
    http = httpx.AsyncClient(timeout=15)
    for path, body in (
        ("/admin/vnpay/merchants", {"tmn_code": tmn, "secret": VNPAY_SECRET,
                                    "ipn_url": f"{base_url}/callbacks/vnpay/ipn"}),
        ("/admin/bank/accounts", {"account": account, "secret": BANK_SECRET,
                                  "webhook_url": f"{base_url}/callbacks/bank/vietqr"}),
        ("/admin/pos/terminals", {"terminal_id": terminal, "secret": POS_SECRET,
                                  "callback_url": f"{base_url}/callbacks/pos"}),
    ):
        (await http.post(f"{simulator}{path}", json=body)).raise_for_status()
    app = create_app(settings)
    lifespan = running_app(app)
    client = await lifespan.__aenter__()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    env = Env(app, client, http, base_url, simulator, tmn, account, terminal, settings.mongo_db_name)

    async def stop() -> None:
        server.should_exit = True
        await task
        await lifespan.__aexit__(None, None, None)
        await http.aclose()

    return env, stop


@pytest.fixture(scope="module")
async def env(servers: Endpoints, simulator: str) -> AsyncIterator[Env]:
    started, stop = await _start_env(servers, simulator, sweep_interval_s=3600)
    yield started
    await stop()


# ---- helpers ----------------------------------------------------------------------------------
CASHIER = auth(Role.CASHIER, unit_code=UNIT, subject="cashier-7", name="Lê Thị Thu")
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT)


async def _create(env: Env, amount: int = 150_000, unit: str = UNIT, headers: dict[str, str] | None = None,
                  no_appointment: bool = False) -> dict[str, Any]:
    code = f"000.00.12.H01-{uuid.uuid4().hex[:6]}"
    response = await env.client.post("/intents", headers=headers or auth(Role.CASHIER, unit_code=unit), json={
        "dossier_id": uuid.uuid4().hex, "dossier_code": code, "payer": {"name": "Nguyễn Thị Hương"},
        "items": [{"kind": "charge", "name": "Lệ phí đăng ký", "amount": amount}],
        "unit_path": [unit, "91"], "procedure_name": "Đăng ký khai sinh", "no_appointment": no_appointment,
    })
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _get(env: Env, intent_id: str, unit: str = UNIT) -> dict[str, Any]:
    response = await env.client.get(f"/intents/{intent_id}", headers=auth(Role.CASHIER, unit_code=unit))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _events(nc: NatsClient, subject: str, intent_id: str, *, expect: int = 1, wait_s: float = 5.0) -> list[Any]:
    """Payloads of `subject` events for one intent on the PAYMENT stream (waits for the relay)."""
    deadline = time.monotonic() + wait_s
    while True:
        found: list[Any] = []
        sub = await nc.jetstream().subscribe(subject, stream=PAYMENT.name, ordered_consumer=True)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.3)
                except TimeoutError:
                    break
                body = json.loads(msg.data)
                if body["payload"].get("intent_id") == intent_id:
                    found.append(body)
        finally:
            await sub.unsubscribe()
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def _pay_on_gateway(env: Env, intent_id: str, *, action: str = "pay", ipn: str = "send",
                          headers: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    checkout = await env.client.post(f"/intents/{intent_id}/checkout", headers=headers or CASHIER,
                                     json={"channel": "vnpay"})
    assert checkout.status_code == 200, checkout.text
    url = checkout.json()["payment_url"]
    page = await env.http.get(url)
    assert page.status_code == 200 and "Thanh toán" in page.text
    ref = checkout.json()["ref"]
    paid = await env.http.post(f"{env.sim}/vnpay/paymentv2/pay", follow_redirects=False,
                               data={"tmn_code": env.tmn_code, "txn_ref": ref, "action": action, "ipn": ipn})
    assert paid.status_code == 302
    return checkout.json(), paid.headers["location"]


def _signed_ipn(ref: str, amount_vnd: int, *, response: str = "00", status: str = "00",
                secret: str = VNPAY_SECRET, tmn: str = "") -> dict[str, str]:
    params = {"vnp_Amount": str(amount_vnd * 100), "vnp_BankCode": "NCB", "vnp_OrderInfo": "Thanh toan",
              "vnp_PayDate": vnpay.format_time(datetime.now(UTC)), "vnp_ResponseCode": response,
              "vnp_TmnCode": tmn, "vnp_TransactionNo": str(uuid.uuid4().int % 10**8),
              "vnp_TransactionStatus": status, "vnp_TxnRef": ref}
    params["vnp_SecureHash"] = vnpay.sign(params, secret)
    return params


# ---- the gateway -----------------------------------------------------------------------------
async def test_dossier_received_to_paid_through_gateway_ipn_once_even_if_delivered_twice(
    env: Env, nc: NatsClient
) -> None:
    dossier_id = uuid.uuid4().hex
    event = DossierReceived(unit_code=UNIT, unit_path=PATH, payload=DossierReceivedPayload(
        dossier_id=dossier_id, dossier_code=f"000.00.12.H01-260302-{uuid.uuid4().hex[:4]}", procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh", office_id="o1", channel="counter",
        applicant=ApplicantContact(name="Trần Văn Bình", email="binh@example.vn"),
        fees_due=[FeeDue(kind="charge", name="Lệ phí đăng ký hộ tịch", amount=8_000),
                  FeeDue(kind="fee", name="Phí cấp bản sao", amount=10_000)],
        received_at=datetime.now(UTC), no_appointment=True,
    ))
    js = nc.jetstream()
    for _ in range(2):  # a redelivery of the same event opens no second intent
        await js.publish("dossier.received", event.model_dump_json().encode())
    intents: list[Any] = []
    for _ in range(100):
        intents = (await env.client.get("/intents", params={"dossier_id": dossier_id}, headers=CASHIER)).json()
        if intents:
            break
        await asyncio.sleep(0.05)
    assert len(intents) == 1
    intent = intents[0]
    assert intent["amount"] == 18_000 and intent["status"] == "pending" and intent["unit_path"] == PATH
    await asyncio.sleep(0.3)
    assert len((await env.client.get("/intents", params={"dossier_id": dossier_id}, headers=CASHIER)).json()) == 1

    checkout, return_url = await _pay_on_gateway(env, intent["id"])
    query = dict(parse_qsl(urlsplit(checkout["payment_url"]).query))
    assert query["vnp_Amount"] == "1800000" and query["vnp_TxnRef"] == intent["ref"]
    assert vnpay.verify(query, VNPAY_SECRET)
    txn = (await env.http.get(f"{env.sim}/admin/vnpay/transactions/{env.tmn_code}/{intent['ref']}")).json()
    assert txn["ipn_replies"][-1]["RspCode"] == "00"

    paid = await _get(env, intent["id"])
    assert paid["status"] == "paid" and paid["channel"] == "vnpay" and paid["receipt"]["code"].startswith(f"{UNIT}-")
    # The IPN delivered again: "already confirmed", nothing new.
    again = (await env.http.post(f"{env.sim}/admin/vnpay/transactions/{env.tmn_code}/{intent['ref']}/ipn")).json()
    assert again["RspCode"] == "02"
    # The browser's return URL only displays.
    page = await env.client.get(urlsplit(return_url).path + "?" + urlsplit(return_url).query)
    assert "Thanh toán thành công" in page.text

    events = await _events(nc, "payment.paid", intent["id"])
    await asyncio.sleep(0.5)
    events = await _events(nc, "payment.paid", intent["id"])
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["dossier_id"] == dossier_id and payload["dossier_code"] == intent["dossier_code"]
    assert payload["no_appointment"] is True and payload["receipt_no"] == paid["receipt"]["code"]
    assert payload["payer"]["email"] == "binh@example.vn" and "/receipts/" in payload["receipt_url"]
    assert events[0]["unit_code"] == UNIT and events[0]["unit_path"] == PATH
    assert len(await _events(nc, "payment.intent_created", intent["id"])) == 1


async def test_return_url_changes_nothing_and_a_lost_ipn_is_recovered_by_status_query(env: Env, nc: NatsClient) -> None:
    intent = await _create(env, 25_000)
    _, return_url = await _pay_on_gateway(env, intent["id"], ipn="skip")  # paid at the gateway, IPN lost
    parts = urlsplit(return_url)
    assert parts.path == "/callbacks/vnpay/return"
    page = await env.client.get(f"{parts.path}?{parts.query}")
    assert 'data-status="pending"' in page.text and "Đang chờ xác nhận" in page.text
    assert (await _get(env, intent["id"]))["status"] == "pending"
    forged = dict(parse_qsl(parts.query))
    forged["vnp_Amount"] = "100"
    assert "Liên kết không hợp lệ" in (await env.client.get(parts.path, params=forged)).text

    counts = await env.service.sweep(now=datetime.now(UTC) + timedelta(minutes=6))
    assert counts["paid"] >= 1
    recovered = await _get(env, intent["id"])
    assert recovered["status"] == "paid" and recovered["receipt"] is not None
    assert len(await _events(nc, "payment.paid", intent["id"])) == 1


async def test_forged_wrong_amount_unknown_and_cancelled_gateway_callbacks(
    env: Env, nc: NatsClient, mongo_client: AsyncMongoClient[Document]
) -> None:
    intent = await _create(env, 40_000)
    ipn_url = f"{env.base_url}/callbacks/vnpay/ipn"
    forged = await env.http.get(ipn_url, params=_signed_ipn(intent["ref"], 40_000, secret="guessed", tmn=env.tmn_code))
    assert forged.json() == {"RspCode": "97", "Message": "Invalid signature"}
    tampered = _signed_ipn(intent["ref"], 40_000, tmn=env.tmn_code)
    tampered["vnp_Amount"] = "100"  # changed after signing
    assert (await env.http.get(ipn_url, params=tampered)).json()["RspCode"] == "97"
    security = await mongo_client[env.db_name]["security_events"].find({"ref": intent["ref"]}).to_list(None)
    assert len(security) == 2 and security[0]["kind"] == "bad_signature"

    wrong = await env.http.get(ipn_url, params=_signed_ipn(intent["ref"], 4_000, tmn=env.tmn_code))
    assert wrong.json() == {"RspCode": "04", "Message": "Invalid amount"}
    unknown = await env.http.get(ipn_url, params=_signed_ipn("MC0000000000", 40_000, tmn=env.tmn_code))
    assert unknown.json()["RspCode"] == "01"
    assert (await _get(env, intent["id"]))["status"] == "pending"
    alerts = (await env.client.get("/alerts", headers=auth(Role.UNIT_ADMIN, unit_code=UNIT))).json()
    assert any(a["kind"] == "amount_mismatch" and a["ref"] == intent["ref"] for a in alerts)
    alert_events = await _events(nc, "payment.alert", intent["id"])
    assert alert_events and alert_events[0]["payload"]["received_amount"] == 4_000
    sec = await env.client.get("/security-events", headers=auth(Role.INSPECTOR, unit_code="91"))
    assert sec.status_code == 200 and any(e["ref"] == intent["ref"] for e in sec.json())

    # The payer cancels on the gateway page: the IPN reports it and the intent fails.
    other = await _create(env, 40_000)
    await _pay_on_gateway(env, other["id"], action="cancel")
    failed = await _get(env, other["id"])
    assert failed["status"] == "failed" and "24" in failed["failure_reason"]
    assert len(await _events(nc, "payment.failed", other["id"])) == 1
    reopened = await env.client.post(f"/intents/{other['id']}/reopen", headers=CASHIER)
    assert reopened.status_code == 201 and reopened.json()["replaces"] == other["id"]


async def test_concurrent_duplicate_ipns_pay_once(env: Env, nc: NatsClient) -> None:
    intent = await _create(env, 60_000)
    params = _signed_ipn(intent["ref"], 60_000, tmn=env.tmn_code)
    replies = await asyncio.gather(*[env.http.get(f"{env.base_url}/callbacks/vnpay/ipn", params=params)
                                     for _ in range(6)])
    codes = sorted(r.json()["RspCode"] for r in replies)
    assert codes == ["00", "02", "02", "02", "02", "02"]
    await asyncio.sleep(0.5)
    assert len(await _events(nc, "payment.paid", intent["id"])) == 1


# ---- VietQR ----------------------------------------------------------------------------------
async def test_vietqr_transfer_notification_pays_when_amount_and_note_match(env: Env, nc: NatsClient) -> None:
    intent = await _create(env, 75_000)
    checkout = (await env.client.post(f"/intents/{intent['id']}/checkout", headers=OFFICER,
                                      json={"channel": "vietqr"})).json()
    qr = vietqr.parse(checkout["qr_string"])
    assert (qr.bank_bin, qr.account, qr.amount, qr.dynamic) == ("970436", env.account, 75_000, True)
    assert qr.note == f"MOTCUA {intent['ref']}"
    png = await env.client.get(checkout["qr_png_url"], headers=OFFICER)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    paid = (await env.http.post(f"{env.sim}/bank/qr-pay", json={"qr_string": checkout["qr_string"]})).json()
    assert paid["webhook_reply"]["result"] == "confirmed"
    after = await _get(env, intent["id"])
    assert after["status"] == "paid" and after["channel"] == "vietqr"
    again = (await env.http.post(f"{env.sim}/admin/bank/transfers/{paid['transaction_id']}/notify")).json()
    assert again["result"] == "already_confirmed"
    assert len(await _events(nc, "payment.paid", intent["id"])) == 1

    # Wrong amount: acknowledged to the bank, nothing paid, an alert for a person.
    short = await _create(env, 75_000)
    qr_short = (await env.client.post(f"/intents/{short['id']}/checkout", headers=OFFICER,
                                      json={"channel": "vietqr"})).json()["qr_string"]
    reply = (await env.http.post(f"{env.sim}/bank/qr-pay", json={"qr_string": qr_short,
                                                                  "amount_override": 70_000})).json()
    assert reply["webhook_reply"]["result"] == "invalid_amount"
    assert (await _get(env, short["id"]))["status"] == "pending"
    # A transfer whose note names no intent.
    stray = (await env.http.post(f"{env.sim}/bank/transfers", json={
        "account": env.account, "amount": 75_000, "description": "tien an trua"})).json()
    assert stray["webhook_reply"]["result"] == "not_found"
    # A forged notification.
    body = json.dumps({"transaction_id": "FTX", "account": env.account, "amount": 75_000,
                       "description": f"MOTCUA {short['ref']}"}).encode()
    ts = int(time.time())
    forged = await env.http.post(f"{env.base_url}/callbacks/bank/vietqr", content=body,
                                 headers={"x-bank-timestamp": str(ts), "x-bank-signature": sign_body("nope", ts, body)})
    assert forged.status_code == 401
    assert (await _get(env, short["id"]))["status"] == "pending"


# ---- POS ---------------------------------------------------------------------------------------
async def test_pos_card_payment_never_stores_or_logs_card_data(
    env: Env, nc: NatsClient, mongo_client: AsyncMongoClient[Document], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    intent = await _create(env, 120_000)
    checkout = (await env.client.post(f"/intents/{intent['id']}/checkout", headers=CASHIER,
                                      json={"channel": "pos"})).json()
    assert checkout["terminal_id"] == env.terminal and checkout["sale_id"]
    tap = (await env.http.post(f"{env.sim}/pos/sales/{checkout['sale_id']}/card", json={"pan": PAN})).json()
    assert tap["callback_reply"]["result"] == "confirmed"
    paid = await _get(env, intent["id"])
    assert paid["status"] == "paid" and paid["provider_data"]["card_last4"] == "1111"

    declined_intent = await _create(env, 120_000)
    sale = (await env.client.post(f"/intents/{declined_intent['id']}/checkout", headers=CASHIER,
                                  json={"channel": "pos"})).json()["sale_id"]
    declined = (await env.http.post(f"{env.sim}/pos/sales/{sale}/card", json={"pan": PAN, "approve": False})).json()
    assert declined["callback_reply"]["result"] == "confirmed"
    assert (await _get(env, declined_intent["id"]))["status"] == "failed"

    forged = await env.http.post(f"{env.base_url}/callbacks/pos", content=b'{"ref":"x"}',
                                 headers={"x-pos-timestamp": str(int(time.time())), "x-pos-signature": "00" * 32})
    assert forged.status_code == 401

    db = mongo_client[env.db_name]
    for name in await db.list_collection_names():
        async for doc in db[name].find({}):
            text = json.dumps(doc, default=str)
            assert PAN not in text, f"card number stored in {name}"
            assert "2912101" not in text  # track data
    assert PAN not in caplog.text


# ---- cash, roles, receipts, refunds ------------------------------------------------------------
async def test_cash_by_cashier_with_roles_units_and_receipt_pdf(env: Env, nc: NatsClient) -> None:
    intent = await _create(env, 50_000, headers=OFFICER)
    url = f"/intents/{intent['id']}/cash"
    assert (await env.client.post(url, json={"amount": 50_000})).status_code == 401
    assert (await env.client.post(url, json={"amount": 50_000},
                                  headers=auth(Role.INSPECTOR, unit_code=UNIT))).status_code == 403
    other_unit = await env.client.post(url, json={"amount": 50_000}, headers=auth(Role.CASHIER, unit_code="30281"))
    assert other_unit.status_code == 403 and other_unit.json()["error"]["code"] == "unit_not_allowed"
    assert (await env.client.get(f"/intents/{intent['id']}", headers=auth(Role.CASHIER, unit_code="30281"))
            ).status_code == 403
    wrong = await env.client.post(url, json={"amount": 40_000}, headers=CASHIER)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "amount_mismatch"

    paid = await env.client.post(url, json={"amount": 50_000}, headers=CASHIER)
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "paid" and body["collected_by"] == {"subject": "cashier-7", "name": "Lê Thị Thu"}
    assert (await env.client.post(url, json={"amount": 50_000}, headers=CASHIER)).status_code == 409
    province = await env.client.get(f"/intents/{intent['id']}", headers=auth(Role.PROVINCE_ADMIN, unit_code="91"))
    assert province.status_code == 200  # a province sees its communes' payments

    pdf = await env.client.get(f"/intents/{intent['id']}/receipt.pdf", headers=auth(Role.INSPECTOR, unit_code=UNIT))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "UBND phường Mỹ Bình", "Nguyễn Thị Hương", "Năm mươi nghìn đồng",
                     "Tiền mặt", "Lê Thị Thu", body["receipt"]["code"]):
        assert expected in text, expected
    link = urlsplit(body["receipt_url"])
    public = await env.client.get(f"{link.path}?{link.query}")
    assert public.status_code == 200 and public.content.startswith(b"%PDF")
    assert (await env.client.get(link.path + "?" + link.query.replace("sig=", "sig=0"))).status_code == 403
    events = await _events(nc, "payment.paid", intent["id"])
    assert len(events) == 1 and events[0]["payload"]["channel"] == "cash"


async def test_cancel_and_refunds_partial_then_whole_through_the_gateway(env: Env, nc: NatsClient) -> None:
    cancelled = await _create(env, 10_000)
    response = await env.client.post(f"/intents/{cancelled['id']}/cancel", headers=OFFICER,
                                     json={"reason": "Người nộp rút hồ sơ"})
    assert response.json()["status"] == "cancelled"
    assert len(await _events(nc, "payment.cancelled", cancelled["id"])) == 1
    assert (await env.client.post(f"/intents/{cancelled['id']}/checkout", headers=OFFICER,
                                  json={"channel": "vnpay"})).status_code == 409

    intent = await _create(env, 90_000)
    await _pay_on_gateway(env, intent["id"])
    url = f"/intents/{intent['id']}/refunds"
    assert (await env.client.post(url, headers=OFFICER, json={"amount": 1, "reason": "x"})).status_code == 403
    too_much = await env.client.post(url, headers=CASHIER, json={"amount": 90_001, "reason": "x"})
    assert too_much.status_code == 422
    partial = await env.client.post(url, headers=CASHIER, json={"amount": 30_000, "reason": "Thu thừa phí"})
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partially_refunded" and partial.json()["refunded_amount"] == 30_000
    whole = await env.client.post(url, headers=auth(Role.UNIT_ADMIN, unit_code=UNIT),
                                  json={"amount": 60_000, "reason": "Rút hồ sơ"})
    assert whole.json()["status"] == "refunded"
    txn = (await env.http.get(f"{env.sim}/admin/vnpay/transactions/{env.tmn_code}/{intent['ref']}")).json()
    assert [r["amount"] for r in txn["refunds"]] == [30_000, 60_000]
    events = await _events(nc, "payment.refunded", intent["id"], expect=2)
    assert sorted(e["payload"]["refund_amount"] for e in events) == [30_000, 60_000]


async def test_receipt_numbers_have_no_gaps_under_concurrency(env: Env) -> None:
    unit = f"9{uuid.uuid4().int % 10**4:04d}"
    intents = [await _create(env, 5_000, unit=unit) for _ in range(8)]
    cashier = auth(Role.CASHIER, unit_code=unit)
    results = await asyncio.gather(*[env.client.post(f"/intents/{i['id']}/cash", json={"amount": 5_000},
                                                     headers=cashier) for i in intents])
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    year = datetime.now(UTC).year
    numbers = sorted(r.json()["receipt"]["number"] for r in results)
    assert numbers == list(range(1, 9))
    assert {r.json()["receipt"]["series"] for r in results} in ({f"{unit}:{year}"}, {f"{unit}:{year + 1}"})


# ---- reconciliation ------------------------------------------------------------------------------
async def test_daily_reconciliation_against_the_gateway_settlement(env: Env) -> None:
    unit = f"8{uuid.uuid4().int % 10**4:04d}"
    headers = auth(Role.CASHIER, unit_code=unit)
    intents = [await _create(env, amount, unit=unit) for amount in (11_000, 22_000)]
    for intent in intents:
        await _pay_on_gateway(env, intent["id"], headers=headers)
    today = datetime.now(UTC).astimezone(vnpay.GMT7).date().isoformat()
    admin = auth(Role.UNIT_ADMIN, unit_code=unit)
    fetched = await env.client.post("/reconciliations", params={"channel": "vnpay", "day": today}, headers=admin)
    assert fetched.status_code == 201, fetched.text
    report = fetched.json()
    assert report["balanced"] and report["matched"] == 2 and report["our_total"] == 33_000

    # An uploaded settlement file: one amount differs, one row is unknown here, one payment is missing there.
    csv_text = (await env.service.adapter(Channel.VNPAY).fetch_statement(date.fromisoformat(today))) or ""
    lines = [line for line in csv_text.splitlines() if intents[1]["ref"] not in line]
    lines = [line.replace(",1100000,", ",1000000,") if intents[0]["ref"] in line else line for line in lines]
    lines.append(f"MCZZZZZZZZZZ,99999999,500000,{vnpay.format_time(datetime.now(UTC))},NCB,00")
    files = {"statement": ("vnpay.csv", "\n".join(lines).encode(), "text/csv")}
    uploaded = await env.client.post("/reconciliations", params={"channel": "vnpay", "day": today}, headers=admin,
                                     files=files)
    assert uploaded.status_code == 201, uploaded.text
    mismatches = {(m["kind"], m["ref"]) for m in uploaded.json()["mismatches"]}
    assert mismatches == {("amount_mismatch", intents[0]["ref"]), ("missing_at_provider", intents[1]["ref"]),
                          ("missing_here", "MCZZZZZZZZZZ")}
    report_id = uploaded.json()["id"]
    inspector = auth(Role.INSPECTOR, unit_code=unit)
    assert (await env.client.get(f"/reconciliations/{report_id}", headers=inspector)).status_code == 200
    assert (await env.client.get(f"/reconciliations/{report_id}",
                                 headers=auth(Role.INSPECTOR, unit_code="30281"))).status_code == 403
    xlsx = await env.client.get(f"/reconciliations/{report_id}/xlsx", headers=inspector)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row >= 8
    assert (await env.client.post("/reconciliations", params={"channel": "vnpay", "day": today},
                                  headers=auth(Role.RECEPTION_OFFICER, unit_code=unit))).status_code == 403
    bad = await env.client.post("/reconciliations", params={"channel": "vnpay", "day": today}, headers=admin,
                                files={"statement": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_statement"


async def test_daily_reconciliation_against_bank_and_pos_statements(env: Env) -> None:
    unit = f"7{uuid.uuid4().int % 10**4:04d}"
    headers = auth(Role.CASHIER, unit_code=unit)
    by_qr, by_card = await _create(env, 33_000, unit=unit), await _create(env, 44_000, unit=unit)
    qr = (await env.client.post(f"/intents/{by_qr['id']}/checkout", headers=headers, json={"channel": "vietqr"})).json()
    await env.http.post(f"{env.sim}/bank/qr-pay", json={"qr_string": qr["qr_string"]})
    sale = (await env.client.post(f"/intents/{by_card['id']}/checkout", headers=headers,
                                  json={"channel": "pos"})).json()
    await env.http.post(f"{env.sim}/pos/sales/{sale['sale_id']}/card", json={"pan": PAN, "send_card_data": False})
    today = datetime.now(UTC).astimezone(vnpay.GMT7).date().isoformat()
    admin = auth(Role.UNIT_ADMIN, unit_code=unit)

    bank = await env.client.post("/reconciliations", params={"channel": "vietqr", "day": today}, headers=admin)
    assert bank.status_code == 201, bank.text
    assert bank.json()["matched"] == 1 and bank.json()["our_total"] == 33_000
    # Transfers that name no intent (another test's stray one) are reported, never silently dropped.
    assert all(m["kind"] == "missing_here" and m["ref"] is None for m in bank.json()["mismatches"])

    pos = await env.client.post("/reconciliations", params={"channel": "pos", "day": today}, headers=admin)
    assert pos.status_code == 201, pos.text
    assert pos.json()["balanced"] and pos.json()["matched"] == 1 and pos.json()["their_total"] == 44_000
    cash = await env.client.post("/reconciliations", params={"channel": "cash", "day": today}, headers=admin)
    assert cash.status_code == 422


# ---- expiry by the background sweeper ----------------------------------------------------------
async def test_abandoned_intents_expire_by_the_sweeper(servers: Endpoints, simulator: str, nc: NatsClient) -> None:
    short, stop = await _start_env(servers, simulator, intent_ttl_minutes=0.01, sweep_interval_s=0.2)
    try:
        intent = await _create(short, 12_000)
        assert intent["status"] == "pending"
        for _ in range(50):
            if (await _get(short, intent["id"]))["status"] == "expired":
                break
            await asyncio.sleep(0.1)
        assert (await _get(short, intent["id"]))["status"] == "expired"
        late = await short.client.post(f"/intents/{intent['id']}/cash", json={"amount": 12_000}, headers=CASHIER)
        assert late.status_code == 409
        assert len(await _events(nc, "payment.expired", intent["id"])) == 1
    finally:
        await stop()
