"""Postal against the real servers (NATS JetStream, MongoDB) and the VNPost-style operator
simulator running as a real process (`python -m services.postal.simulator`) on a loopback port.

The postal app runs its real lifespan (broker, subscribers, outbox relay, sweeper) and is also
served over real HTTP, so the simulated operator's signed webhooks reach it.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pypdf
import pytest
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.contracts.events import (
    ANONYMISED_NAME,
    ApplicantContact,
    DossierAnonymised,
    DossierAnonymisedPayload,
    DossierReceived,
    DossierReceivedPayload,
    DossierResultReady,
)
from services.contracts.events import DossierResultReadyPayload as ReadyPayload
from services.contracts.streams import DOSSIER, SHIPMENT
from services.kit.auth import Role
from services.kit.mongo import Document
from services.launcher.ports import free_port
from services.launcher.servers import Endpoints
from services.postal.app import PostalSettings, create_app
from services.postal.model.signatures import sign_body
from services.postal.service.erasure import Erased
from tests.support import auth, dossier_code, running_app, settings_for, simulator_process

pytestmark = pytest.mark.integration

TOKEN = "operator-api-token-0123456789"
SECRET = "operator-webhook-secret-0123456789"
UNIT = "30280"  # a commune (phường Mỹ Bình) of An Giang (91)
PATH = [UNIT, "91"]
OFFICE = "ubnd-my-binh"

AGENT = auth(Role.POSTAL_AGENT, unit_code=UNIT, subject="bd-07", name="Trần Văn Bưu")
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="mc-03", name="Lê Thị Một Cửa")
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91", subject="tinh-01", name="Quản trị tỉnh")
OTHER_COMMUNE = auth(Role.RECEPTION_OFFICER, unit_code="30283", subject="mc-99")

COMPONENTS = [
    {"component_id": "to_khai", "name": "Tờ khai đăng ký khai sinh", "count": 1},
    {"component_id": "giay_chung_sinh", "name": "Giấy chứng sinh", "count": 1},
]


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient  # in-process (ASGI)
    http: httpx.AsyncClient  # real HTTP, to the simulator and to our webhooks
    base_url: str
    sim: str
    customer: str


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with simulator_process("services.postal.simulator", "--step-delay", "0.05") as url:
        yield url


UNITS = {  # the unit catalogue postal reads (in production: intake's GET /units and /offices)
    "units": [
        {"code": "91", "name": "Tỉnh An Giang", "type": "province"},
        {"code": UNIT, "name": "Phường Mỹ Bình", "type": "ward", "parent_code": "91"},
        {"code": "30283", "name": "Phường Mỹ Long", "type": "ward", "parent_code": "91"},
    ],
    "offices": [
        {"id": OFFICE, "name": "UBND phường Mỹ Bình", "unit_code": UNIT},
        {"id": "ubnd-my-long", "name": "UBND phường Mỹ Long", "unit_code": "30283"},
        {"id": "ubnd-cu", "name": "UBND phường đã giải thể", "unit_code": UNIT, "active": False},
    ],
}


@pytest.fixture(scope="module")
async def env(servers: Endpoints, simulator: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    port = free_port()
    units_file = tmp_path_factory.mktemp("postal-units") / "units.json"
    units_file.write_text(json.dumps(UNITS, ensure_ascii=False), encoding="utf-8")
    base_url = f"http://127.0.0.1:{port}"
    customer = f"MC-{uuid.uuid4().hex[:6].upper()}"
    settings = settings_for(
        servers,
        PostalSettings,
        postal_public_url=base_url,
        postal_operator_url=simulator,
        postal_customer_code=customer,
        postal_operator_token=TOKEN,
        postal_webhook_secret=SECRET,
        postal_durable_suffix=f"-{uuid.uuid4().hex[:6]}",
        postal_sweep_interval_s=3600,
        postal_carriage_in_province=20_000,
        postal_carriage_out_of_province=30_000,
        postal_max_attempts=3,
        postal_units_file=str(units_file),
    )
    http = httpx.AsyncClient(timeout=15)
    (
        await http.post(
            f"{simulator}/admin/customers",
            json={
                "customer_code": customer,
                "token": TOKEN,
                "webhook_secret": SECRET,
                "webhook_url": f"{base_url}/webhooks/vnpost",
            },
        )
    ).raise_for_status()
    app = create_app(settings)
    lifespan = running_app(app)
    client = await lifespan.__aenter__()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield Env(app, client, http, base_url, simulator, customer)
    server.should_exit = True
    await task
    await lifespan.__aexit__(None, None, None)
    await http.aclose()


# ---- helpers ----------------------------------------------------------------------------------
def _address(street: str = "12 Trần Hưng Đạo", province_code: str = "91") -> dict[str, Any]:
    return {"province_code": province_code, "province": "An Giang", "commune": "Phường Mỹ Bình", "street": street}


def _pickup_body(option: str = "both", phone: str = "0987654321", **extra: Any) -> dict[str, Any]:
    return {
        "option": option,
        "office_id": OFFICE,
        "office_name": "UBND phường Mỹ Bình",
        "unit_path": PATH,
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "applicant": {
            "full_name": "Nguyễn Văn An",
            "id_number": "089203004567",
            "phone": phone,
            "email": "an@example.vn",
            "address": "12 Trần Hưng Đạo, Mỹ Bình, An Giang",
        },
        "pickup_address": _address(),
        "components": COMPONENTS,
        "form_data": {"ho_ten_tre": "Nguyễn Văn Bình", "ngay_sinh": "2026-02-20"},
        "preferred_time": "sáng thứ Hai",
        **extra,
    }


async def _events(
    nc: NatsClient,
    subject: str,
    key: str,
    value: str,
    *,
    expect: int = 1,
    wait_s: float = 8.0,
    stream: str = SHIPMENT.name,
) -> list[dict[str, Any]]:
    """Bodies of `subject` events whose payload[key] == value (waits for the relay)."""
    deadline = time.monotonic() + wait_s
    while True:
        found: list[dict[str, Any]] = []
        sub = await nc.jetstream().subscribe(subject, stream=stream, ordered_consumer=True)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.3)
                except TimeoutError:
                    break
                body = json.loads(msg.data)
                if body["payload"].get(key) == value:
                    found.append(body)
        finally:
            await sub.unsubscribe()
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def _until(env: Env, path: str, check: Any, *, headers: dict[str, str] = OFFICER, wait_s: float = 10.0) -> Any:
    deadline = time.monotonic() + wait_s
    while True:
        response = await env.client.get(path, headers=headers)
        if response.status_code == 200 and check(response.json()):
            return response.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: condition not met; last {response.status_code} {response.text[:800]}")
        await asyncio.sleep(0.1)


async def _collect(env: Env, **extra: Any) -> dict[str, Any]:
    """An officer takes a pickup by phone; the postal worker checks the papers and signs the slip."""
    response = await env.client.post("/pickups", headers=OFFICER, json=_pickup_body(**extra))
    assert response.status_code == 201, response.text
    pickup = response.json()
    assert pickup["status"] == "scheduled" and pickup["tracking_number"].endswith("VN"), pickup
    check = await env.client.post(
        f"/pickups/{pickup['id']}/check",
        headers=AGENT,
        json={
            "items": [
                {"component_id": "to_khai", "present": True, "count": 1},
                {"component_id": "giay_chung_sinh", "present": True, "count": 1},
            ]
        },
    )
    assert check.status_code == 200 and check.json()["check"]["complete"], check.text
    slip = await env.client.post(
        f"/pickups/{pickup['id']}/slip",
        headers=AGENT,
        json={
            "sender_name": "Nguyễn Văn An",
            "seal_number": f"NP-{uuid.uuid4().hex[:4]}",
            "collected_fees": [{"kind": "duty", "name": "Lệ phí đăng ký khai sinh", "amount": 8000}],
            "prepay_return": False,
        },
    )
    assert slip.status_code == 200, slip.text
    return dict(slip.json())


async def _hand_over(env: Env, pickup_ids: list[str]) -> dict[str, Any]:
    draft = await env.client.post("/handovers", headers=AGENT, json={"office_id": OFFICE, "pickup_ids": pickup_ids})
    assert draft.status_code == 201, draft.text
    record = draft.json()
    first = await env.client.post(f"/handovers/{record['id']}/sign", headers=AGENT, json={"counted": len(pickup_ids)})
    assert first.status_code == 200 and first.json()["status"] == "draft", first.text
    second = await env.client.post(
        f"/handovers/{record['id']}/sign", headers=OFFICER, json={"counted": len(pickup_ids)}
    )
    assert second.status_code == 200, second.text
    return dict(second.json())


def _ref(dossier_id: str, code: str, channel: str) -> dict[str, Any]:
    """The dossier reference every dossier event carries, for this module's birth registration."""
    return {
        "dossier_id": dossier_id,
        "dossier_code": code,
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "office_id": OFFICE,
        "channel": channel,
    }


async def _result_ready(nc: NatsClient, dossier_id: str, code: str, *, phone: str = "0987654321") -> None:
    event = DossierResultReady(
        unit_code=UNIT,
        unit_path=PATH,
        payload=ReadyPayload(
            **_ref(dossier_id, code, "postal"),
            return_channel="postal",
            applicant=ApplicantContact(name="Nguyễn Văn An", phone=phone, email="an@example.vn"),
            status="result_ready",
        ),
    )
    await nc.jetstream().publish(
        event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}, stream=DOSSIER.name
    )


async def _delivery_for(env: Env, code: str) -> dict[str, Any]:
    found = await _until(env, f"/deliveries?dossier_code={code}", lambda rows: len(rows) == 1)
    return dict(found[0])


def _received(
    dossier_id: str, code: str, channel: str, name: str, at: Any = None, *, via: str | None = None
) -> DossierReceived:
    """Intake's dossier.received; `via`: the postal record it came from (as intake tells it)."""
    return DossierReceived(
        unit_code=UNIT,
        unit_path=PATH,
        payload=DossierReceivedPayload(
            **_ref(dossier_id, code, channel),
            applicant=ApplicantContact(name=name),
            received_at=at or datetime.now(UTC),
            postal_reception_id=via,
        ),
    )


def _code() -> str:
    return dossier_code("000.00.30.H01")


async def _sim(env: Env, method: str, path: str, **kwargs: Any) -> Any:
    response = await env.http.request(method, f"{env.sim}{path}", **kwargs)
    response.raise_for_status()
    return response.json()


# ---- pickup → hand-over → submitted ----------------------------------------------------------------
async def test_pickup_to_handover_publishes_the_reception_for_intake(env: Env, nc: NatsClient) -> None:
    one = await _collect(env)
    two = await _collect(env, option="submit", phone="0912345678")
    assert one["slip"]["total_collected"] == 20_000 + 8_000 and one["slip"]["receipt_number"].startswith("BC/")
    assert one["shipment_status"] == "picked_up"

    # roles and units: a one-stop officer cannot sign a slip, another commune cannot read it
    denied = await env.client.post(
        f"/pickups/{one['id']}/slip", headers=OFFICER, json={"sender_name": "x", "seal_number": "y"}
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_not_allowed"
    assert (await env.client.get(f"/pickups/{one['id']}", headers=OTHER_COMMUNE)).status_code == 403

    record = await _hand_over(env, [one["id"], two["id"]])
    assert record["status"] == "signed" and record["signed_at"]
    assert record["postal_signature"]["subject"] == "bd-07" and record["office_signature"]["subject"] == "mc-03"
    assert [i["slip_number"] for i in record["items"]] == [one["tracking_number"], two["tracking_number"]]

    signed = await _events(nc, "postal.handover_signed", "reception_id", one["id"])
    assert len(signed) == 1
    body = signed[0]
    p = body["payload"]
    assert body["unit_path"] == PATH and body["unit_code"] == UNIT
    assert p["dossier_id"] == one["dossier_id"] and p["channel"] == "postal" and p["return_channel"] == "postal"
    assert datetime.fromisoformat(p["received_at"]) == datetime.fromisoformat(record["signed_at"])
    assert p["applicant"]["id_number"] == "089203004567" and p["applicant"]["phone"] == "0987654321"
    assert [c["component_id"] for c in p["components"]] == ["to_khai", "giay_chung_sinh"]
    assert p["form_data"]["ho_ten_tre"] == "Nguyễn Văn Bình"
    assert p["dispatch_slip_number"] == one["tracking_number"] and p["handover_record_number"] == record["number"]
    assert p["office_officer"]["subject"] == "mc-03" and p["postal_worker"]["subject"] == "bd-07"
    assert p["return_address"]["line"].startswith("12 Trần Hưng Đạo")
    second = await _events(nc, "postal.handover_signed", "reception_id", two["id"])
    assert second[0]["payload"]["return_channel"] == "counter"

    statuses = [e["payload"]["status"] for e in await _events(nc, "shipment.>", "shipment_id", one["id"], expect=3)]
    assert statuses == ["created", "picked_up", "handed_over"]
    handed = await _events(nc, "shipment.handed_over", "shipment_id", one["id"])
    assert handed[0]["payload"]["applicant"]["phone"] == "0987654321"

    # signing again is refused; the record is binding
    again = await env.client.post(f"/handovers/{record['id']}/sign", headers=OFFICER, json={"counted": 2})
    assert again.status_code == 409
    pdf = await env.client.get(f"/handovers/{record['id']}/record.pdf", headers=OFFICER)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert pdf.status_code == 200 and "BIÊN BẢN GIAO NHẬN" in text and one["tracking_number"] in text
    slip_pdf = await env.client.get(f"/pickups/{one['id']}/slip.pdf", headers=AGENT)
    slip_text = pypdf.PdfReader(io.BytesIO(slip_pdf.content)).pages[0].extract_text()
    assert "PHIẾU GỬI" in slip_text and one["tracking_number"] in slip_text

    # intake answers with dossier.received: postal links the code it assigned
    code = _code()
    received = _received(one["dossier_id"], code, "postal", "Nguyễn Văn An", record["signed_at"])
    await nc.jetstream().publish(
        received.subject,
        received.model_dump_json().encode(),
        headers={"Nats-Msg-Id": received.event_id},
        stream=DOSSIER.name,
    )
    await _until(env, f"/pickups/{one['id']}", lambda p: p["dossier_code"] == code)


async def test_a_deletion_request_erases_the_pickup_its_handover_line_and_the_delivery(
    env: Env, nc: NatsClient
) -> None:
    one = await _collect(env)
    neighbour = await _collect(env, phone="0912345678")
    record = await _hand_over(env, [one["id"], neighbour["id"]])
    code = _code()
    await _result_ready(nc, one["dossier_id"], code)
    delivery = await _delivery_for(env, code)
    assert delivery["recipient"]["name"] == "Nguyễn Văn An"

    event = DossierAnonymised(
        unit_code=UNIT,
        unit_path=PATH,
        payload=DossierAnonymisedPayload(
            dossier_id=one["dossier_id"], dossier_code=code, deletion_request_id="dr-1", anonymised_at=datetime.now(UTC)
        ),
    )
    await nc.jetstream().publish(
        event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}, stream=DOSSIER.name
    )
    pickup = await _until(env, f"/pickups/{one['id']}", lambda p: p["applicant"]["full_name"] == ANONYMISED_NAME)
    assert "0987654321" not in json.dumps(pickup) and "12 Trần Hưng Đạo" not in json.dumps(pickup)
    assert pickup["form_data"] == {} and pickup["slip"]["sender_signature"]["name"] == ANONYMISED_NAME
    assert pickup["pickup_address"]["commune"] == "Phường Mỹ Bình"  # the area stays
    assert pickup["tracking_number"] == one["tracking_number"]
    erased = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["recipient"]["name"] == ANONYMISED_NAME)
    assert "0987654321" not in json.dumps(erased) and erased["tracking_number"] == delivery["tracking_number"]
    lines = (await env.client.get(f"/handovers/{record['id']}", headers=OFFICER)).json()["items"]
    assert [line["applicant_name"] for line in lines] == [ANONYMISED_NAME, "Nguyễn Văn An"]  # the neighbour's stays
    pdf = await env.client.get(f"/handovers/{record['id']}/record.pdf", headers=OFFICER)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert pdf.status_code == 200 and one["tracking_number"] in text and ANONYMISED_NAME in text
    slip = await env.client.get(f"/pickups/{one['id']}/slip.pdf", headers=AGENT)
    slip_text = pypdf.PdfReader(io.BytesIO(slip.content)).pages[0].extract_text()
    assert slip.status_code == 200 and "0987654321" not in slip_text and "PHIẾU GỬI" in slip_text
    # the neighbour on the same record keeps everything; the same event again changes nothing
    assert (await env.client.get(f"/pickups/{neighbour['id']}", headers=OFFICER)).json()["applicant"]["full_name"] == (
        "Nguyễn Văn An"
    )
    assert await env.app.state.postal.on_dossier_anonymised(event) == Erased()


async def test_a_dossier_postal_never_saw_is_told_apart_without_a_transaction(env: Env) -> None:
    """Most dossiers never pass through postal staff: no transaction, no marker, no write; a
    counter dossier intake says no postal staff received costs no read either."""
    db = env.app.state.runtime.db
    plain = _received(f"d-{uuid.uuid4().hex}", _code(), "counter", "Nguyễn Văn An")
    claimed = _received(f"d-{uuid.uuid4().hex}", _code(), "counter", "Nguyễn Văn An", via=f"r-{uuid.uuid4().hex}")
    await db.command("profile", 2)
    try:
        assert await env.app.state.postal.on_dossier_received(plain) == "unknown"
        assert await env.app.state.postal.on_dossier_received(claimed) == "unknown"  # no such reception here
    finally:
        await db.command("profile", 0)

    async def commands_for(event: DossierReceived) -> list[Document]:
        return [p async for p in db["system.profile"].find() if event.payload.dossier_id in str(p.get("command"))]

    assert await commands_for(plain) == []  # the old code read counter_receptions
    # one plain read: a "counter" dossier can only be a postal agent's counter reception, never a pickup
    reads = await commands_for(claimed)
    assert len(reads) == 1 and reads[0]["op"] == "query" and "txnNumber" not in reads[0]["command"]
    assert reads[0]["ns"] == f"{db.name}.counter_receptions"
    for event in (plain, claimed):
        assert await db["processed_events"].count_documents({"_id": {"$regex": event.event_id}}) == 0


async def test_a_record_needs_a_matching_count_and_collected_slips(env: Env) -> None:
    one = await _collect(env)
    draft = await env.client.post("/handovers", headers=AGENT, json={"office_id": OFFICE, "pickup_ids": [one["id"]]})
    record = draft.json()
    wrong = await env.client.post(f"/handovers/{record['id']}/sign", headers=OFFICER, json={"counted": 2})
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "count_mismatch"
    twice = await env.client.post("/handovers", headers=AGENT, json={"office_id": OFFICE, "pickup_ids": [one["id"]]})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "on_another_record"
    fresh = (await env.client.post("/pickups", headers=OFFICER, json=_pickup_body())).json()
    not_collected = await env.client.post(
        "/handovers", headers=AGENT, json={"office_id": OFFICE, "pickup_ids": [fresh["id"]]}
    )
    assert not_collected.status_code == 409 and not_collected.json()["error"]["code"] == "not_collected"
    cancelled = await env.client.post(f"/handovers/{record['id']}/cancel", headers=AGENT, json={"reason": "nhầm"})
    assert cancelled.json()["status"] == "cancelled"
    assert (await env.client.get(f"/pickups/{one['id']}", headers=AGENT)).json()["handover_id"] is None


async def test_a_citizen_orders_online_and_follows_it(env: Env) -> None:
    response = await env.client.post("/public/pickups", json=_pickup_body(phone="0977000111"))
    assert response.status_code == 201, response.text
    mine = response.json()
    assert mine["status"] == "scheduled" and mine["contact_phone"] == "097****111" and "applicant" not in mine
    ok = await env.client.get(f"/public/pickups/{mine['ref']}", params={"phone": "0977000111"})
    assert ok.status_code == 200 and ok.json()["tracking_number"] == mine["tracking_number"]
    assert (await env.client.get(f"/public/pickups/{mine['ref']}", params={"phone": "0900000000"})).status_code == 404
    cancel = await env.client.post(
        f"/public/pickups/{mine['ref']}/cancel", params={"phone": "0977000111"}, json={"reason": "tự nộp tại quầy"}
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    order = await _sim(env, "GET", f"/admin/orders/{mine['tracking_number']}")
    assert order["status_code"] == "800" and "cancel" in order["requests"]
    bad = await env.client.post("/public/pickups", json=_pickup_body(option="submit", components=[]))
    assert bad.status_code == 422


async def test_an_operator_outage_is_retried_by_the_sweeper(env: Env) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"api_failures": 1})
    response = await env.client.post("/pickups", headers=OFFICER, json=_pickup_body())
    pickup = response.json()
    assert response.status_code == 201 and pickup["status"] == "requested" and "503" in pickup["order_error"]
    swept = await env.client.post("/maintenance/sweep", headers=auth(Role.UNIT_ADMIN, unit_code=UNIT))
    assert swept.status_code == 200 and swept.json()["pickups"] >= 1
    again = (await env.client.get(f"/pickups/{pickup['id']}", headers=OFFICER)).json()
    assert again["status"] == "scheduled" and again["tracking_number"]


# ---- result → delivery ---------------------------------------------------------------------------
async def test_result_ready_to_delivered(env: Env, nc: NatsClient) -> None:
    one = await _collect(env, return_address=_address("99 Lý Thái Tổ"))
    await _hand_over(env, [one["id"]])
    code = _code()
    await _result_ready(nc, one["dossier_id"], code)
    delivery = await _delivery_for(env, code)
    assert delivery["pickup_id"] == one["id"] and delivery["address"]["street"] == "99 Lý Thái Tổ"
    done = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "delivered")
    assert done["attempt"] == 1 and done["failures"] == [] and done["next_action"] is None
    assert [c["amount"] for c in done["charges"]] == [20_000]  # carriage collected on delivery
    events = await _events(nc, "shipment.>", "shipment_id", delivery["id"], expect=5)
    assert [e["payload"]["status"] for e in events] == [
        "created",
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    last = events[-1]["payload"]
    assert last["dossier_code"] == code and last["applicant"]["phone"] == "0987654321" and last["kind"] == "delivery"
    assert last["tracking_number"] == done["tracking_number"]
    order = await _sim(env, "GET", f"/admin/orders/{done['tracking_number']}")
    assert order["body"]["CodAmount"] == 20_000 and order["body"]["ReceiverStreet"] == "99 Lý Thái Tổ"

    # the same result_ready again (a redelivery by JetStream or intake): nothing new
    await _result_ready(nc, one["dossier_id"], code)
    await asyncio.sleep(0.8)
    assert len((await env.client.get(f"/deliveries?dossier_code={code}", headers=OFFICER)).json()) == 1


async def test_failed_deliveries_are_retried_then_returned_to_the_office(env: Env, nc: NatsClient) -> None:
    # a citizen's fault once, then delivered: one re-delivery charged to the citizen
    first = await _collect(env)
    await _hand_over(env, [first["id"]])
    code = _code()
    await _sim(env, "PUT", f"/admin/scripts/{code}", json={"fail_attempts": 1, "fail_reason": "R01"})
    await _result_ready(nc, first["dossier_id"], code)
    delivery = await _delivery_for(env, code)
    done = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "delivered")
    assert done["attempt"] == 2 and [f["fault"] for f in done["failures"]] == ["citizen"]
    redelivery = [c for c in done["charges"] if c["kind"] == "redelivery"]
    assert redelivery == [
        {
            "kind": "redelivery",
            "name": "Cước phát lại lần 2",
            "amount": 10_000,
            "payer": "citizen",
            "reason": "Người nhận vắng nhà",
        }
    ]
    failed = await _events(nc, "shipment.failed", "shipment_id", delivery["id"])
    assert failed[0]["payload"]["fault"] == "citizen" and failed[0]["payload"]["charge"]["amount"] == 10_000

    # never delivered (wrong address): 3 attempts, then returned to the office
    second = await _collect(env)
    await _hand_over(env, [second["id"]])
    code2 = _code()
    await _sim(env, "PUT", f"/admin/scripts/{code2}", json={"fail_attempts": 99, "fail_reason": "R02"})
    await _result_ready(nc, second["dossier_id"], code2)
    delivery2 = await _delivery_for(env, code2)
    back = await _until(env, f"/deliveries/{delivery2['id']}", lambda d: d["shipment_status"] == "returned", wait_s=15)
    assert back["attempt"] == 3 and len(back["failures"]) == 3 and back["next_action"] is None
    assert len([c for c in back["charges"] if c["kind"] == "redelivery"]) == 2
    order = await _sim(env, "GET", f"/admin/orders/{back['tracking_number']}")
    assert order["requests"].count("redeliver") == 2 and order["requests"].count("return") == 1
    statuses = [
        e["payload"]["status"] for e in await _events(nc, "shipment.>", "shipment_id", delivery2["id"], expect=11)
    ]
    assert statuses[-2:] == ["returning", "returned"] and statuses.count("failed") == 3


async def test_a_result_without_a_known_address_waits_for_one(env: Env, nc: NatsClient) -> None:
    code = _code()
    await _result_ready(nc, uuid.uuid4().hex, code, phone="0909123456")
    delivery = await _delivery_for(env, code)
    assert delivery["shipment_status"] == "awaiting_address" and delivery["tracking_number"] is None
    assert (
        await env.client.put(
            f"/deliveries/{delivery['id']}/address",
            headers=OTHER_COMMUNE,
            json={"address": _address(), "contact": {"name": "An", "phone": "0909123456"}},
        )
    ).status_code == 403
    response = await env.client.put(
        f"/deliveries/{delivery['id']}/address",
        headers=OFFICER,
        json={
            "address": _address("5 Hai Bà Trưng", province_code="79") | {"province": "TP. Hồ Chí Minh"},
            "contact": {"name": "Nguyễn Văn An", "phone": "0909123456"},
        },
    )
    assert response.status_code == 200, response.text
    placed = response.json()
    assert placed["tracking_number"] and [c["amount"] for c in placed["charges"]] == [30_000]  # out of province
    await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "delivered")


# ---- webhook safety --------------------------------------------------------------------------------
async def test_duplicate_forged_stale_out_of_order_and_unknown_webhooks(env: Env, nc: NatsClient) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"auto_progress": False})
    try:
        code = _code()
        await _result_ready(nc, uuid.uuid4().hex, code)
        delivery = await _delivery_for(env, code)
        response = await env.client.put(
            f"/deliveries/{delivery['id']}/address",
            headers=OFFICER,
            json={"address": _address(), "contact": {"name": "Nguyễn Văn An", "phone": "0987654321"}},
        )
        item = response.json()["tracking_number"]
        path = f"/deliveries/{delivery['id']}"

        # forged and stale signatures: refused, nothing moves
        forged = await _sim(
            env,
            "POST",
            f"/admin/orders/{item}/events",
            json={"events": [{"status": "delivered"}], "signature": "forged"},
        )
        assert forged["replies"][0]["http_status"] == 401
        assert forged["replies"][0]["answer"]["result"] == "rejected:bad_signature"
        stale = await _sim(
            env,
            "POST",
            f"/admin/orders/{item}/events",
            json={"events": [{"status": "delivered"}], "signature": "stale"},
        )
        assert stale["replies"][0]["answer"]["result"] == "rejected:stale_timestamp"
        unsigned = await _sim(
            env, "POST", f"/admin/orders/{item}/events", json={"events": [{"status": "delivered"}], "signature": "none"}
        )
        assert unsigned["replies"][0]["http_status"] == 401
        assert (await env.client.get(path, headers=OFFICER)).json()["shipment_status"] == "created"

        # out of order: the statuses arrive newest first; the shipment ends delivered, never goes back
        pushed = await _sim(
            env,
            "POST",
            f"/admin/orders/{item}/events",
            json={
                "reverse": True,
                "events": [
                    {"status": "picked_up"},
                    {"status": "in_transit"},
                    {"status": "out_for_delivery", "attempt": 1},
                    {"status": "failed", "attempt": 1, "reason_code": "R01"},
                    {"status": "out_for_delivery", "attempt": 2},
                ],
            },
        )
        results = [r["answer"]["result"] for r in pushed["replies"]]
        assert results == ["applied", "stale", "stale", "stale", "stale"]
        current = (await env.client.get(path, headers=OFFICER)).json()
        assert current["shipment_status"] == "out_for_delivery" and current["attempt"] == 2
        assert current["failures"] == [] and current["next_action"] is None  # the late failure changed nothing

        # duplicates: the same event twice (and re-sent later) is applied once
        done = await _sim(
            env,
            "POST",
            f"/admin/orders/{item}/events",
            json={"duplicate": True, "events": [{"status": "delivered", "attempt": 2}]},
        )
        assert [r["answer"]["result"] for r in done["replies"]] == ["applied", "duplicate"]
        resent = await _sim(env, "POST", f"/admin/events/{done['events'][0]}/resend")
        assert resent["answer"]["result"] == "duplicate"
        late = await _sim(env, "POST", f"/admin/orders/{item}/events", json={"events": [{"status": "returned"}]})
        assert late["replies"][0]["answer"]["result"] == "stale"
        final = (await env.client.get(path, headers=OFFICER)).json()
        assert final["shipment_status"] == "delivered"
        delivered = await _events(nc, "shipment.delivered", "shipment_id", delivery["id"])
        assert len(delivered) == 1

        # an item we never ordered: rejected
        body = json.dumps(
            {
                "CustomerCode": env.customer,
                "EventId": "EV-X",
                "ItemCode": "EB999999995VN",
                "OrderCode": "nope",
                "StatusCode": "500",
                "Attempt": 1,
                "EventTime": "2026-03-02T10:00:00+07:00",
            }
        ).encode()
        ts = int(time.time())
        unknown = await env.http.post(
            f"{env.base_url}/webhooks/vnpost",
            content=body,
            headers={"x-postal-timestamp": str(ts), "x-postal-signature": sign_body(SECRET, ts, body)},
        )
        assert unknown.status_code == 404 and unknown.json()["result"] == "unknown"
        nobody = await env.client.post("/webhooks/someone-else", content=body)
        assert nobody.status_code == 404 and nobody.json()["result"] == "unknown_operator"

        # tracking pull applies what the webhooks missed (and nothing twice)
        tracked = await env.client.post(f"{path}/track", headers=OFFICER)
        assert tracked.status_code == 200 and tracked.json()["shipment_status"] == "delivered"
        province = await env.client.get("/webhook-log", headers=PROVINCE_ADMIN)
        assert {"rejected:bad_signature", "rejected:stale_timestamp", "duplicate", "stale", "applied", "unknown"} <= {
            r["result"] for r in province.json()
        }
        unit = await env.client.get("/webhook-log", headers=auth(Role.UNIT_ADMIN, unit_code=UNIT))
        assert {"duplicate", "stale", "applied"} <= {r["result"] for r in unit.json()}
        assert all(r.get("unit_path") == PATH for r in unit.json())
        other = await env.client.get("/webhook-log", headers=auth(Role.UNIT_ADMIN, unit_code="30283"))
        assert other.json() == []
    finally:
        await _sim(env, "PATCH", "/admin/config", json={"auto_progress": True})


async def test_a_lost_result_is_the_operator_s_liability(env: Env, nc: NatsClient) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"auto_progress": False})
    try:
        code = _code()
        await _result_ready(nc, uuid.uuid4().hex, code)
        delivery = await _delivery_for(env, code)
        placed = (
            await env.client.put(
                f"/deliveries/{delivery['id']}/address",
                headers=OFFICER,
                json={"address": _address(), "contact": {"name": "An", "phone": "0987654321"}},
            )
        ).json()
        await _sim(
            env,
            "POST",
            f"/admin/orders/{placed['tracking_number']}/events",
            json={"events": [{"status": "picked_up"}, {"status": "lost", "note": "thất lạc tại bưu cục"}]},
        )
        lost = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "lost")
        assert lost["liability"]["payer"] == "operator" and lost["liability"]["amount"] == 500_000
        event = await _events(nc, "shipment.lost", "shipment_id", delivery["id"])
        assert event[0]["payload"]["fault"] == "operator"
    finally:
        await _sim(env, "PATCH", "/admin/config", json={"auto_progress": True})


# ---- postal staff at a counter ---------------------------------------------------------------------
async def test_a_postal_agent_receives_at_the_counter_under_supervision(env: Env, nc: NatsClient) -> None:
    put = await env.client.put(
        "/approved-procedures/91",
        headers=PROVINCE_ADMIN,
        json={
            "procedures": [{"code": "1.001193", "name": "Đăng ký khai sinh", "level": "commune"}],
            "decision_ref": "1234/QĐ-UBND",
        },
    )
    assert put.status_code == 200 and put.json()["updated_by"]["subject"] == "tinh-01"
    assert (
        await env.client.put("/approved-procedures/91", headers=OFFICER, json={"procedures": []})
    ).status_code == 403
    assert (
        await env.client.put("/approved-procedures/79", headers=PROVINCE_ADMIN, json={"procedures": []})
    ).status_code == 403
    request = {
        "office_id": OFFICE,
        "counter": "Quầy 4",
        "unit_path": PATH,
        "procedure_code": "1.001193",
        "applicant": {"full_name": "Phạm Thị Cúc", "phone": "0912000111", "id_number": "089303004568"},
        "components": COMPONENTS,
        "return_channel": "postal",
        "return_address": _address("7 Nguyễn Trãi"),
        "return_contact": {"name": "Phạm Thị Cúc", "phone": "0912000111"},
    }
    not_approved = await env.client.post(
        "/counter-receptions", headers=AGENT, json=request | {"procedure_code": "2.000815"}
    )
    assert not_approved.status_code == 403 and not_approved.json()["error"]["code"] == "procedure_not_approved"
    assert (await env.client.post("/counter-receptions", headers=OFFICER, json=request)).status_code == 403
    received = await env.client.post("/counter-receptions", headers=AGENT, json=request)
    assert received.status_code == 201, received.text
    reception = received.json()
    assert reception["status"] == "awaiting_confirmation"
    assert (
        await env.client.post(f"/counter-receptions/{reception['id']}/confirm", headers=OTHER_COMMUNE, json={})
    ).status_code == 403
    confirmed = await env.client.post(
        f"/counter-receptions/{reception['id']}/confirm", headers=OFFICER, json={"note": "đã kiểm tra"}
    )
    assert confirmed.status_code == 200 and confirmed.json()["supervision"]["officer"]["subject"] == "mc-03"
    events = await _events(nc, "postal.counter_reception_confirmed", "reception_id", reception["id"])
    p = events[0]["payload"]
    assert p["channel"] == "counter" and p["dossier_id"] == reception["dossier_id"]
    assert p["postal_worker"]["subject"] == "bd-07" and p["office_officer"]["subject"] == "mc-03"
    assert p["received_at"][:19] == reception["received_at"][:19]
    again = await env.client.post(f"/counter-receptions/{reception['id']}/reject", headers=OFFICER, json={"note": "x"})
    assert again.status_code == 409

    # intake receives it as a "counter" dossier: postal links the code to the counter reception
    code = _code()
    linked = _received(reception["dossier_id"], code, "counter", "Phạm Thị Cúc", via=reception["id"])
    assert await env.app.state.postal.on_dossier_received(linked) == "linked"
    stored = await env.client.get(f"/counter-receptions/{reception['id']}", headers=OFFICER)
    assert stored.status_code == 200 and stored.json()["dossier_code"] == code

    # its result later goes home by post, to the address the agent recorded
    await _result_ready(nc, reception["dossier_id"], code, phone="0912000111")
    delivery = await _delivery_for(env, code)
    assert delivery["pickup_id"] == reception["id"] and delivery["address"]["street"] == "7 Nguyễn Trãi"


async def test_a_noisy_operator_duplicates_and_reorders_yet_the_delivery_ends_right(env: Env, nc: NatsClient) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"duplicate_webhooks": True, "reverse_batches": True})
    try:
        code = _code()
        await _sim(env, "PUT", f"/admin/scripts/{code}", json={"fail_attempts": 1, "fail_reason": "R12"})
        pickup = await _collect(env)
        await _hand_over(env, [pickup["id"]])
        await _result_ready(nc, pickup["dossier_id"], code)
        delivery = await _delivery_for(env, code)
        done = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "delivered")
        assert done["attempt"] == 2 and [f["fault"] for f in done["failures"]] == ["operator"]
        assert [c["payer"] for c in done["charges"] if c["kind"] == "redelivery"] == ["operator"]
        await _sim(env, "POST", "/admin/idle")  # the last duplicates are still on their way
        order = await _sim(env, "GET", f"/admin/orders/{done['tracking_number']}")
        results = [r["answer"]["result"] for r in order["webhook_replies"]]
        assert results.count("applied") == 2 and results.count("duplicate") == 6 and results.count("stale") == 4
        statuses = [
            e["payload"]["status"] for e in await _events(nc, "shipment.>", "shipment_id", delivery["id"], expect=3)
        ]
        assert statuses == ["created", "failed", "delivered"]
    finally:
        await _sim(env, "PATCH", "/admin/config", json={"duplicate_webhooks": False, "reverse_batches": False})


# ---- the unit path comes from the office, not from the caller ---------------------------------------
async def test_the_unit_path_is_derived_from_the_office_and_unknown_ones_are_refused(env: Env) -> None:
    body = _pickup_body(phone="0977000222")
    del body["unit_path"]
    derived = await env.client.post("/pickups", headers=OFFICER, json=body)
    assert derived.status_code == 201, derived.text
    assert derived.json()["unit_path"] == PATH and derived.json()["unit_code"] == UNIT

    # a citizen cannot file an order of office Mỹ Bình under another commune (its staff would see it)
    forged = await env.client.post("/public/pickups", json=_pickup_body(unit_path=["30283", "91"]))
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "unit_path_mismatch"
    unknown = await env.client.post("/public/pickups", json=_pickup_body(office_id="ubnd-khong-co"))
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_office"
    closed = await env.client.post("/public/pickups", json=_pickup_body(office_id="ubnd-cu"))
    assert closed.status_code == 422 and closed.json()["error"]["code"] == "unknown_office"
    # staff of another commune cannot take an order for this office by claiming their own path
    other = await env.client.post(
        "/pickups", headers=OTHER_COMMUNE, json=_pickup_body(unit_path=["30283", "91"]) | {"office_id": OFFICE}
    )
    assert other.status_code == 422
    mine = {k: v for k, v in _pickup_body().items() if k != "unit_path"}
    assert (await env.client.post("/pickups", headers=OTHER_COMMUNE, json=mine)).status_code == 403


# ---- paper dispatch slips (operator down): a number is used once -------------------------------------
async def test_a_paper_slip_number_already_used_is_a_conflict(env: Env) -> None:
    number = f"PG{uuid.uuid4().int % 10**10:010d}"

    async def paper_slip() -> httpx.Response:
        await _sim(env, "PATCH", "/admin/config", json={"api_failures": 1})
        created = (await env.client.post("/pickups", headers=OFFICER, json=_pickup_body())).json()
        assert created["status"] == "requested" and created["tracking_number"] is None
        checks = [{"component_id": c["component_id"], "present": True, "count": 1} for c in COMPONENTS]
        await env.client.post(f"/pickups/{created['id']}/check", headers=AGENT, json={"items": checks})
        return await env.client.post(
            f"/pickups/{created['id']}/slip",
            headers=AGENT,
            json={"sender_name": "Nguyễn Văn An", "seal_number": "NP-77", "slip_number": number},
        )

    first = await paper_slip()
    assert first.status_code == 200 and first.json()["tracking_number"] == number, first.text
    second = await paper_slip()
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "duplicate_slip_number"


# ---- results: office → post hand-over record ----------------------------------------------------------
async def test_the_office_hands_results_to_the_post_under_a_signed_record(env: Env, nc: NatsClient) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"auto_progress": False})
    try:
        one = await _collect(env)
        await _hand_over(env, [one["id"]])
        code = _code()
        await _result_ready(nc, one["dossier_id"], code)
        delivery = await _delivery_for(env, code)
        delivery = await _until(env, f"/deliveries/{delivery['id']}", lambda d: d["shipment_status"] == "created")
        item = delivery["tracking_number"]
        waiting = await _delivery_for(env, await _awaiting_address(nc))

        # the one-stop officer lists the results; a postal agent does not draft the office's record
        body = {"office_id": OFFICE, "delivery_ids": [delivery["id"]]}
        assert (await env.client.post("/handovers/results", headers=AGENT, json=body)).status_code == 403
        assert (await env.client.post("/handovers/results", headers=OTHER_COMMUNE, json=body)).status_code == 403
        no_order = await env.client.post(
            "/handovers/results", headers=OFFICER, json={"office_id": OFFICE, "delivery_ids": [waiting["id"]]}
        )
        assert no_order.status_code == 409 and no_order.json()["error"]["code"] == "not_ready_for_handover"
        draft = await env.client.post("/handovers/results", headers=OFFICER, json=body)
        assert draft.status_code == 201, draft.text
        record = draft.json()
        assert record["kind"] == "results" and record["number"].startswith(f"BBGN-KQ-{UNIT}-")
        assert record["office_name"] == "UBND phường Mỹ Bình"
        assert [(i["delivery_id"], i["slip_number"], i["dossier_code"]) for i in record["items"]] == [
            (delivery["id"], item, code)
        ]
        twice = await env.client.post("/handovers/results", headers=OFFICER, json=body)
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "on_another_record"
        listed = await env.client.get("/handovers", headers=OFFICER, params={"kind": "results", "status": "draft"})
        assert record["id"] in [r["id"] for r in listed.json()]
        assert record["id"] not in [
            r["id"] for r in (await env.client.get("/handovers", headers=OFFICER, params={"kind": "dossiers"})).json()
        ]

        # both sides count and sign: from the second signature the post holds the result
        office = await env.client.post(f"/handovers/{record['id']}/sign", headers=OFFICER, json={"counted": 1})
        assert office.status_code == 200 and office.json()["status"] == "draft"
        assert (await env.client.get(f"/deliveries/{delivery['id']}", headers=OFFICER)).json()[
            "shipment_status"
        ] == "created"
        signed = await env.client.post(f"/handovers/{record['id']}/sign", headers=AGENT, json={"counted": 1})
        assert signed.status_code == 200 and signed.json()["status"] == "signed", signed.text
        signed_at = datetime.fromisoformat(signed.json()["signed_at"])
        taken = (await env.client.get(f"/deliveries/{delivery['id']}", headers=OFFICER)).json()
        assert taken["shipment_status"] == "picked_up" and taken["handover_number"] == record["number"]
        assert abs(datetime.fromisoformat(taken["handed_over_at"]) - signed_at).total_seconds() < 0.001  # ms kept
        picked = await _events(nc, "shipment.picked_up", "shipment_id", delivery["id"])
        assert len(picked) == 1 and picked[0]["payload"]["kind"] == "delivery"
        assert datetime.fromisoformat(picked[0]["payload"]["at"]) == signed_at
        pdf = await env.client.get(f"/handovers/{record['id']}/record.pdf", headers=AGENT)
        text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert "BIÊN BẢN GIAO NHẬN KẾT QUẢ" in text and item in text and "Bưu chính nhận kết quả" in text

        # the operator's own scan of the pickup is stale; its later statuses carry on to delivered
        pushed = await _sim(
            env,
            "POST",
            f"/admin/orders/{item}/events",
            json={
                "events": [
                    {"status": "picked_up"},
                    {"status": "in_transit"},
                    {"status": "out_for_delivery", "attempt": 1},
                    {"status": "delivered", "attempt": 1},
                ]
            },
        )
        assert [r["answer"]["result"] for r in pushed["replies"]] == ["stale", "applied", "applied", "applied"]
        statuses = [
            e["payload"]["status"] for e in await _events(nc, "shipment.>", "shipment_id", delivery["id"], expect=5)
        ]
        assert statuses == ["created", "picked_up", "in_transit", "out_for_delivery", "delivered"]
        cancel = await env.client.post(f"/handovers/{record['id']}/cancel", headers=OFFICER, json={"reason": "x"})
        assert cancel.status_code == 409
    finally:
        await _sim(env, "PATCH", "/admin/config", json={"auto_progress": True})


async def test_a_results_record_is_edited_or_cancelled_before_anyone_signs(env: Env, nc: NatsClient) -> None:
    await _sim(env, "PATCH", "/admin/config", json={"auto_progress": False})
    try:
        deliveries = []
        for _ in range(2):
            pickup = await _collect(env)
            await _hand_over(env, [pickup["id"]])
            code = _code()
            await _result_ready(nc, pickup["dossier_id"], code)
            found = await _delivery_for(env, code)
            deliveries.append(
                await _until(env, f"/deliveries/{found['id']}", lambda d: d["shipment_status"] == "created")
            )
        ids = [d["id"] for d in deliveries]
        record = (
            await env.client.post(
                "/handovers/results", headers=OFFICER, json={"office_id": OFFICE, "delivery_ids": ids}
            )
        ).json()
        wrong = await env.client.post(f"/handovers/{record['id']}/sign", headers=AGENT, json={"counted": 1})
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "count_mismatch"
        removed = await env.client.delete(f"/handovers/{record['id']}/items/{ids[1]}", headers=OFFICER)
        assert removed.status_code == 200 and [i["delivery_id"] for i in removed.json()["items"]] == [ids[0]]
        freed = (await env.client.get(f"/deliveries/{ids[1]}", headers=OFFICER)).json()
        assert freed["handover_id"] is None
        cancelled = await env.client.post(f"/handovers/{record['id']}/cancel", headers=OFFICER, json={"reason": "nhầm"})
        assert cancelled.json()["status"] == "cancelled"
        again = await env.client.post(
            "/handovers/results", headers=OFFICER, json={"office_id": OFFICE, "delivery_ids": ids}
        )
        assert again.status_code == 201 and len(again.json()["items"]) == 2
        assert (await env.client.get(f"/deliveries/{ids[0]}", headers=OFFICER)).json()["shipment_status"] == "created"
    finally:
        await _sim(env, "PATCH", "/admin/config", json={"auto_progress": True})


async def _awaiting_address(nc: NatsClient) -> str:
    """A result by post whose address is not known yet (no operator order): its dossier code."""
    code = _code()
    await _result_ready(nc, uuid.uuid4().hex, code, phone="0909000111")
    return code
