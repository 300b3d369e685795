"""Intake II through the HTTP API against the real MongoDB and NATS: lifecycle, routing,
inter-agency steps, late flags, apology, and the payment/document/shipment consumers."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy
from pypdf import PdfReader

from services.contracts.streams import DOSSIER
from services.intake.app import IntakeSettings, create_app
from services.intake.inbound import InboundEvents
from services.intake.processing import ACT_ATTEMPTS
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from tests.support import auth, running_app, settings_for

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LX_OFFICE = "ttpvhcc-long-xuyen"
PROVINCE_OFFICE = "ttpvhcc-an-giang"
PERMIT = "1.009994"  # building permit, commune, 15 working days, 75.000 đ
BUNDLE = "2.002621"  # birth + residence + health insurance, parallel, 5 working days
COPY = "2.000815"  # certified copy, 2 working hours, No-appointment eligible
BIRTH = "1.001193"

RECEPTION = auth(Role.RECEPTION_OFFICER, unit_code="30307", subject="rec-lx", name="Lê Thị Thu")
SPECIALIST = auth(Role.SPECIALIST, unit_code="30307", subject="spec-lx", name="Trần Văn Bình")
LEADER = auth(Role.SIGNING_LEADER, unit_code="30307", subject="lead-lx", name="Phạm Minh Châu")
PROVINCE_RECEPTION = auth(Role.RECEPTION_OFFICER, unit_code="91", subject="rec-ag")


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def at(day: int, hour: int = 9, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


def local(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(VN)


def set_clock(app: FastAPI, moment: datetime) -> None:
    app.state.intake.clock = FixedClock(moment)


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    # tests run the late scan themselves, at the clock's moments: no background scan racing them
    settings = settings_for(
        servers, IntakeSettings, durable_suffix=f"-t{uuid.uuid4().hex[:8]}", late_scan_interval_s=0
    )
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app


def applicant(**over: Any) -> dict[str, Any]:
    return {
        "full_name": "Nguyễn Văn Ánh",
        "id_number": "089203004567",
        "phone": "0987 654 321",
        "address": "Phường Long Xuyên, An Giang",
        **over,
    }


def permit_request(**over: Any) -> dict[str, Any]:
    return {
        "office_id": LX_OFFICE,
        "procedure_code": PERMIT,
        "applicant": applicant(),
        "components": [
            {"component_id": "don"},
            {"component_id": "giay_to_dat"},
            {"component_id": "ban_ve", "count": 2},
        ],
        "form_data": {
            "ho_ten_nguoi_yeu_cau": "Nguyễn Văn Ánh",
            "so_dinh_danh_nguoi_yeu_cau": "089203004567",
            "noi_cu_tru": "Phường Long Xuyên",
            "dia_diem_xay_dung": "Số 12 đường Trần Hưng Đạo",
            "dien_tich_xay_dung": 80,
            "so_tang": 3,
        },
        **over,
    }


def bundle_request(**over: Any) -> dict[str, Any]:
    return {
        "office_id": LX_OFFICE,
        "procedure_code": BUNDLE,
        "applicant": applicant(),
        "components": [
            {"component_id": c} for c in ("to_khai_khai_sinh", "giay_chung_sinh", "ct01", "tk1_ts", "giay_to_tuy_than")
        ],
        "form_data": {
            "ho_ten": "Nguyễn Minh Khang",
            "ngay_sinh": "2026-01-05",
            "gioi_tinh": "Nam",
            "noi_sinh": "Bệnh viện Đa khoa An Giang",
            "dia_chi_thuong_tru": "Phường Long Xuyên",
            "ho_ten_nguoi_yeu_cau": "Nguyễn Văn Ánh",
            "so_dinh_danh_nguoi_yeu_cau": "089203004567",
            "noi_cu_tru": "Phường Long Xuyên",
        },
        **over,
    }


def birth_request(**over: Any) -> dict[str, Any]:
    return {
        "office_id": LX_OFFICE,
        "procedure_code": BIRTH,
        "applicant": applicant(),
        "components": [{"component_id": c} for c in ("to_khai", "giay_chung_sinh", "giay_to_tuy_than")],
        "form_data": {
            "ho_ten": "Trần Minh Khôi",
            "ngay_sinh": "2026-01-10",
            "gioi_tinh": "Nam",
            "noi_sinh": "Bệnh viện Đa khoa An Giang",
            "dan_toc": "Kinh",
            "quoc_tich": "Việt Nam",
            "ho_ten_nguoi_yeu_cau": "Nguyễn Văn Ánh",
            "so_dinh_danh_nguoi_yeu_cau": "089203004567",
            "noi_cu_tru": "Phường Long Xuyên",
            "quan_he": "Cha",
        },
        **over,
    }


async def post_ok(client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    r = await client.post(url, json=body, headers=headers)
    for _ in range(5):  # the API asks the client to retry when a consumer updated the dossier meanwhile
        if r.status_code != 409 or r.json().get("error", {}).get("code") != "concurrent_update":
            break
        await asyncio.sleep(0.2)
        r = await client.post(url, json=body, headers=headers)
    assert r.status_code in (200, 201), f"{url}: {r.status_code} {r.text}"
    data: dict[str, Any] = r.json()
    return data


async def receive(
    client: httpx.AsyncClient, app: FastAPI, moment: datetime, body: dict[str, Any], headers: dict[str, str] = RECEPTION
) -> dict[str, Any]:
    set_clock(app, moment)
    return await post_ok(client, "/dossiers", body, headers)


async def dossier_events(
    nc: NatsClient, dossier_id: str, since: datetime, *, settle_s: float = 1.0, want: int = 0
) -> list[dict[str, Any]]:
    """Every DOSSIER-stream event about `dossier_id` published since `since` (relay included)."""
    js = nc.jetstream()
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since.isoformat())
    sub = await js.subscribe("dossier.>", stream=DOSSIER.name, ordered_consumer=True, config=config)
    found: list[dict[str, Any]] = []
    idle = 0.0
    try:
        while idle < settle_s or (want and len(found) < want and idle < 10):
            try:
                msg = await sub.next_msg(timeout=0.25)
            except TimeoutError:
                idle += 0.25
                continue
            idle = 0.0
            data = json.loads(msg.data)
            if data.get("payload", {}).get("dossier_id") == dossier_id:
                found.append({**data, "_headers": dict(msg.headers or {})})
    finally:
        await sub.unsubscribe()
    return found


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 15.0) -> None:
    for _ in range(int(within_s / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


def pdf_text(content: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


# ---------------------------------------------------------------------------------------------


async def test_lifecycle_with_supplement_is_audited_and_published(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    since = datetime.now(UTC)
    d = await receive(client, app, at(12, 9), permit_request())
    did = d["id"]
    assert d["handling"]["unit_code"] == "30307" and local(d["statutory_due_at"]) == at(2, 17, month=2)
    set_clock(app, at(12, 10))
    assert (await post_ok(client, f"/dossiers/{did}/transfer", {}, RECEPTION))["status"] == "transferred"
    set_clock(app, at(12, 11))
    await post_ok(client, f"/dossiers/{did}/start-processing", {"note": "Phân công chuyên viên"}, SPECIALIST)
    set_clock(app, at(14, 10))
    missing = [{"name": "Bản vẽ mặt bằng", "reason": "Thiếu chữ ký kiến trúc sư"}]
    sup = await post_ok(client, f"/dossiers/{did}/supplement-request", {"missing": missing}, SPECIALIST)
    assert sup["status"] == "supplement_requested" and sup["links"]["supplement_slip"]
    slip02 = await client.get(f"/dossiers/{did}/slips/02.pdf", headers=SPECIALIST)
    assert slip02.status_code == 200 and "Thiếu chữ ký kiến trúc sư" in pdf_text(slip02.content)
    again = await client.post(f"/dossiers/{did}/supplement-request", json={"missing": missing}, headers=SPECIALIST)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    set_clock(app, at(19, 9))
    done = await post_ok(client, f"/dossiers/{did}/supplement-complete", {}, RECEPTION)
    # the 15 working days restart on Monday 19/01: due Monday 09/02 17:00
    assert done["status"] == "processing" and local(done["due_at"]) == at(9, 17, month=2)
    # roles are declared per action: a reception officer cannot resolve
    denied = await client.post(f"/dossiers/{did}/resolve", json={}, headers=RECEPTION)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_not_allowed"
    set_clock(app, at(30, 10))
    assert (await post_ok(client, f"/dossiers/{did}/resolve", {"note": "Đủ điều kiện"}, LEADER))[
        "timeliness"
    ] == "early"
    twice = await client.post(f"/dossiers/{did}/resolve", json={}, headers=LEADER)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "invalid_transition"
    ready = await post_ok(client, f"/dossiers/{did}/result-ready", {"pager_number": "042"}, RECEPTION)
    assert ready["result"]["pickup_place"] == ready["office_name"]
    set_clock(app, at(2, 9, month=2))
    assert (await post_ok(client, f"/dossiers/{did}/return", {"via": "counter"}, RECEPTION))["status"] == "returned"

    timeline = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
    assert [(h["from_status"], h["to_status"]) for h in timeline["history"]] == [
        (None, "received"),
        ("received", "transferred"),
        ("transferred", "processing"),
        ("processing", "supplement_requested"),
        ("supplement_requested", "processing"),
        ("processing", "resolved"),
        ("resolved", "result_ready"),
        ("result_ready", "returned"),
    ]
    assert [h["role"] for h in timeline["history"]][1:4] == ["reception_officer", "specialist", "specialist"]
    assert all(h["unit_code"] == "30307" and h["actor"] for h in timeline["history"])
    assert timeline["pauses"][0]["reason"] == "supplement" and timeline["allowed_actions"] == []
    slip05 = await client.get(f"/dossiers/{did}/slips/05.pdf", headers=SPECIALIST)
    text05 = pdf_text(slip05.content)
    assert "KIỂM SOÁT QUÁ TRÌNH" in text05 and "Yêu cầu bổ sung" in text05 and "Trước hạn" in text05

    events = await dossier_events(nc, did, since, want=13)
    subjects = [e["type"] for e in events]
    assert subjects.count("dossier.status_changed") == 8
    for subject in ("dossier.received", "dossier.transferred", "dossier.supplement_requested"):
        assert subject in subjects
    assert subjects.count("dossier.result_ready") == 1 and subjects.count("dossier.returned") == 1
    ready_event = next(e for e in events if e["type"] == "dossier.result_ready")
    assert ready_event["payload"]["pager_number"] == "042" and ready_event["payload"]["remind_at"]
    assert all(e["_headers"].get("Nats-Msg-Id") == e["event_id"] for e in events)


async def test_routing_by_procedure_level_and_forwarding_a_misdirected_dossier(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    set_clock(app, at(13, 9))
    # filed online at Long Xuyên for a child registered in Châu Đốc: resolved by Châu Đốc
    reg = await post_ok(client, "/public/dossiers", {**_online(birth_request()), "competent_unit_code": "30316"}, {})
    did = reg["id"]
    bad = await client.post("/public/dossiers", json={**_online(birth_request()), "competent_unit_code": "91"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "wrong_level"
    accepted = await post_ok(client, f"/dossiers/{did}/receive", {"decision": "receive"}, RECEPTION)
    assert accepted["handling"]["unit_code"] == "30316" and accepted["handling"]["unit_path"] == ["30316", "91"]
    chau_doc = auth(Role.SPECIALIST, unit_code="30316", subject="spec-cd")
    my_hoa_hung = auth(Role.SPECIALIST, unit_code="30313", subject="spec-mhh")
    assert (await client.get(f"/dossiers/{did}", headers=chau_doc)).status_code == 200
    assert (await client.get(f"/dossiers/{did}", headers=my_hoa_hung)).status_code == 403
    await post_ok(client, f"/dossiers/{did}/transfer", {}, RECEPTION)
    wrong = await client.post(f"/dossiers/{did}/forward", json={"unit_code": "91", "reason": "nhầm"}, headers=chau_doc)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_level"
    fwd = await post_ok(
        client,
        f"/dossiers/{did}/forward",
        {"unit_code": "30313", "reason": "Nơi cư trú của trẻ là xã Mỹ Hòa Hưng"},
        chau_doc,
    )
    assert fwd["handling"]["unit_code"] == "30313" and fwd["status"] == "transferred"
    timeline = (await client.get(f"/dossiers/{did}/timeline", headers=my_hoa_hung)).json()
    assert [r["kind"] for r in timeline["routing"]] == ["transfer", "forward"]
    assert [r["to_unit"] for r in timeline["routing"]] == ["30316", "30313"]
    assert "Mỹ Hòa Hưng" in timeline["history"][-1]["note"] and len(timeline["history"]) == 4
    inbox = (await client.get("/dossiers", params={"handled_here": True}, headers=my_hoa_hung)).json()
    assert [x["id"] for x in inbox] == [did]
    # a province-level procedure filed at the province centre is resolved by the province body
    enterprise = {
        "office_id": PROVINCE_OFFICE,
        "procedure_code": "2.001610",
        "applicant": applicant(),
        "components": [{"component_id": c["id"]} for c in _components("2.001610", app)],
        "form_data": _required_form("2.001610", app),
    }
    d = await post_ok(client, "/dossiers", enterprise, PROVINCE_RECEPTION)
    assert d["handling"]["unit_code"] == "91" and d["handling"]["level"] == "province"


def _components(code: str, app: FastAPI) -> list[dict[str, Any]]:
    procedure = app.state.intake.reference.procedure(code)
    return [{"id": c.id} for c in procedure.components if c.mandatory]


def _required_form(code: str, app: FastAPI) -> dict[str, Any]:
    procedure = app.state.intake.reference.procedure(code)
    return {f.name: "089203004567" if "dinh_danh" in f.name else "Giá trị" for f in procedure.form_fields if f.required}


def _online(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in body.items() if k in ("office_id", "procedure_code", "applicant", "components", "form_data")
    }


async def test_the_late_scan_flags_a_dossier_changed_between_its_read_and_its_write(
    intake: tuple[httpx.AsyncClient, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment event that lands while the scan is deciding must not leave the late step
    unflagged until the next scan (seen in CI: the scan reported 0)."""
    client, app = intake
    d = await receive(client, app, at(12, 9), bundle_request())
    did = d["id"]
    set_clock(app, at(12, 10))
    await post_ok(client, f"/dossiers/{did}/start-processing", {}, SPECIALIST)
    set_clock(app, at(14, 9))  # step 0 was due Tuesday 17:00
    processing = app.state.processing
    read_candidates = processing.dossiers.late_candidates
    payment = {
        "event_id": uuid.uuid4().hex,
        "type": "payment.intent_created",
        "occurred_at": datetime.now(UTC).isoformat(),
        "unit_code": "30307",
        "payload": {"dossier_id": did, "intent_id": "pi-race", "status": "pending", "amount": 50000},
    }

    async def read_then_a_payment_lands(now: datetime) -> list[dict[str, Any]]:
        found = await read_candidates(now)
        applied = await InboundEvents(processing).on_payment_event("intake-payments-race", payment)
        assert applied == "applied"
        return found

    monkeypatch.setattr(processing.dossiers, "late_candidates", read_then_a_payment_lands)
    admin = auth(Role.UNIT_ADMIN, unit_code="30307")
    assert (await post_ok(client, "/admin/late-scan", {}, admin))["flagged"] == 1
    timeline = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
    assert [s["body"] for s in timeline["late_steps"]] == ["Ủy ban nhân dân cấp xã"]
    dossier = (await client.get(f"/dossiers/{did}", headers=SPECIALIST)).json()
    assert dossier["payment"]["intent_id"] == "pi-race"  # the payment's change is kept, not overwritten


async def test_an_officers_action_is_decided_again_when_a_payment_lands_between_its_read_and_write(
    intake: tuple[httpx.AsyncClient, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The officer acted on the dossier, not on a version of it: a consumer's change in between
    is kept and the action applies on top (no 409 to the officer); only a dossier that keeps
    changing under every attempt is refused."""
    client, app = intake
    d = await receive(client, app, at(12, 9), bundle_request())
    did = d["id"]
    set_clock(app, at(12, 10))
    processing = app.state.processing
    read = processing.load
    reads: list[int] = []

    def payment(n: int) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4().hex,
            "type": "payment.intent_created",
            "occurred_at": datetime.now(UTC).isoformat(),
            "unit_code": "30307",
            "payload": {"dossier_id": did, "intent_id": f"pi-race-{n}", "status": "pending", "amount": 50000},
        }

    async def read_then_a_payment_lands(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        if kwargs.get("for_update") and len(reads) < landing:
            reads.append(1)
            assert await InboundEvents(processing).on_payment_event("intake-payments-race", payment(len(reads))) == (
                "applied"
            )
        return found

    monkeypatch.setattr(processing, "load", read_then_a_payment_lands)
    landing = 1
    r = await client.post(f"/dossiers/{did}/start-processing", json={}, headers=SPECIALIST)
    assert r.status_code == 200, r.text
    dossier = (await client.get(f"/dossiers/{did}", headers=SPECIALIST)).json()
    assert dossier["status"] == "processing" and dossier["payment"]["intent_id"] == "pi-race-1"  # both kept
    history = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()["history"]
    assert [h["to_status"] for h in history].count("processing") == 1  # the action applied once

    reads.clear()
    landing = 10  # a payment lands under every attempt: the officer is told to reload
    r = await client.post(f"/dossiers/{did}/suspend", json={"reason": "Chờ xác minh"}, headers=SPECIALIST)
    assert r.status_code == 409 and r.json()["error"]["code"] == "concurrent_update"
    assert len(reads) == ACT_ATTEMPTS
    assert (await client.get(f"/dossiers/{did}", headers=SPECIALIST)).json()["status"] == "processing"


async def test_parallel_steps_late_flags_and_the_one_apology(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    since = datetime.now(UTC)
    d = await receive(client, app, at(12, 9), bundle_request())
    did = d["id"]
    set_clock(app, at(12, 10))
    started = await post_ok(client, f"/dossiers/{did}/start-processing", {}, SPECIALIST)
    assert [s["status"] for s in started["steps"]] == ["active"] * 3 and started[
        "lead_body"
    ] == "Ủy ban nhân dân cấp xã"
    blocked = await client.post(f"/dossiers/{did}/resolve", json={}, headers=LEADER)
    assert blocked.status_code == 422 and blocked.json()["error"]["code"] == "steps_pending"
    set_clock(app, at(14, 9))  # step 0 was due Tuesday 17:00
    admin = auth(Role.UNIT_ADMIN, unit_code="30307")
    assert (await post_ok(client, "/admin/late-scan", {}, admin))["flagged"] == 1
    assert (await post_ok(client, "/admin/late-scan", {}, admin))["flagged"] == 0
    timeline = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
    assert [s["body"] for s in timeline["late_steps"]] == ["Ủy ban nhân dân cấp xã"] and not timeline["late"]
    assert timeline["holders"] == ["Ủy ban nhân dân cấp xã", "Công an cấp xã", "Bảo hiểm xã hội cơ sở"]
    await post_ok(client, f"/dossiers/{did}/steps/0/complete", {"note": "Đã cấp số định danh"}, SPECIALIST)
    # apology: due Monday 19/01 17:00 → no later than Friday 16/01 17:00, and only once
    set_clock(app, at(15, 10))
    body = {"reason": "Chờ cơ quan bảo hiểm xã hội xác minh", "new_due_on": "2026-01-21"}
    apology = await post_ok(client, f"/dossiers/{did}/apology", body, SPECIALIST)
    assert local(apology["due_at"]) == at(21, 17) and local(apology["statutory_due_at"]) == at(19, 17)
    second = await client.post(
        f"/dossiers/{did}/apology", json={**body, "new_due_on": "2026-01-22"}, headers=SPECIALIST
    )
    assert second.status_code == 409 and second.json()["error"]["code"] == "apology_already_recorded"
    slip04 = await client.get(apology["links"]["apology_slip"], headers=SPECIALIST)
    assert slip04.status_code == 200
    text = pdf_text(slip04.content)
    assert "XIN LỖI" in text and "Chờ cơ quan bảo hiểm xã hội xác minh" in text and "21/01/2026" in text
    set_clock(app, at(20, 9))  # past the legal due moment, unfinished
    assert (await post_ok(client, "/admin/late-scan", {}, admin))["flagged"] == 1
    late = (await client.get("/dossiers", params={"late": True}, headers=SPECIALIST)).json()
    assert [x["id"] for x in late] == [did]

    events = await dossier_events(nc, did, since, want=7)
    subjects = [e["type"] for e in events]
    assert subjects.count("dossier.late") == 1 and subjects.count("dossier.late_apology") == 1
    assert sorted(e["payload"]["step_index"] for e in events if e["type"] == "dossier.step_late") == [0, 1, 2]
    apology_event = next(e for e in events if e["type"] == "dossier.late_apology")
    assert local(apology_event["payload"]["new_due_at"]) == at(21, 17)
    assert local(apology_event["payload"]["remind_at"]) == at(20, 17)


async def test_apology_too_late_and_invalid_dates(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    d = await receive(client, app, at(12, 9), permit_request())
    set_clock(app, at(2, 8, month=2))  # due that very day: too late for an apology
    r = await client.post(
        f"/dossiers/{d['id']}/apology", json={"reason": "Quá tải", "new_due_on": "2026-02-05"}, headers=SPECIALIST
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "apology_too_late"
    set_clock(app, at(20, 8))
    r = await client.post(
        f"/dossiers/{d['id']}/apology", json={"reason": "Quá tải", "new_due_on": "2026-02-07"}, headers=SPECIALIST
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "new_date_not_working_day"
    other = auth(Role.SPECIALIST, unit_code="30316")
    r = await client.post(f"/dossiers/{d['id']}/withdraw", json={"reason": "x"}, headers=other)
    assert r.status_code == 403
    r = await client.post(f"/dossiers/{d['id']}/withdraw", json={"reason": "Người nộp rút"}, headers=RECEPTION)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await client.get(f"/dossiers/{d['id']}/slips/04.pdf", headers=SPECIALIST)).status_code == 409


async def test_payment_document_and_shipment_events_are_consumed_once(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    d = await receive(client, app, at(14, 10, 30), _copy_request())  # Wednesday: No-appointment day
    assert d["no_appointment"] is True
    did, code = d["id"], d["code"]
    js = nc.jetstream()

    async def publish(subject: str, payload: dict[str, Any], event_id: str | None = None) -> str:
        event_id = event_id or uuid.uuid4().hex
        body = {
            "event_id": event_id,
            "type": subject,
            "occurred_at": datetime.now(UTC).isoformat(),
            "schema_version": 1,
            "unit_code": "30307",
            "unit_path": ["30307", "91"],
            "payload": payload,
        }
        stream = {"payment": "PAYMENT", "document": "DOCUMENT", "shipment": "SHIPMENT"}[subject.split(".")[0]]
        await js.publish(subject, json.dumps(body).encode(), stream=stream)
        return event_id

    async def state() -> dict[str, Any]:
        data: dict[str, Any] = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
        return data

    base = {"intent_id": "pi-1", "intent_ref": "PI0001", "dossier_id": did, "dossier_code": code, "amount": 2000}
    await publish("payment.intent_created", {**base, "status": "pending"})

    async def awaiting() -> bool:
        return (await state())["status"] == "awaiting_payment"

    await eventually(awaiting)
    paid = {**base, "status": "paid", "channel": "vnpay", "receipt_no": "BL-1"}
    paid_id = await publish("payment.paid", paid)
    # a redelivery is the same event (same id, same body): intake's payment consumer runs several
    # workers, so either copy may be handled first
    await publish("payment.paid", paid, event_id=paid_id)

    async def processing() -> bool:
        s = await state()
        return s["status"] == "processing" and (s["payment"] or {}).get("status") == "paid"

    await eventually(processing)
    s = await state()
    assert s["payment"]["channel"] == "vnpay" and s["payment"]["receipt_no"] == "BL-1"
    assert [h["to_status"] for h in s["history"]] == ["received", "awaiting_payment", "processing"]
    assert s["history"][1]["actor"] == "system:payments"
    await publish(
        "document.component_digitised",
        {
            "document_id": "doc-7",
            "dossier_code": code,
            "component_code": "ban_chinh",
            "pages": 2,
            "reused": True,
            "digitised_at": datetime.now(UTC).isoformat(),
            "digitised_by": "scan",
        },
    )
    await publish(
        "document.result_digitised",
        {
            "document_id": "doc-8",
            "dossier_code": code,
            "pages": 1,
            "digitised_at": datetime.now(UTC).isoformat(),
            "digitised_by": "x",
        },
    )
    await publish("shipment.picked_up", {"dossier_code": code, "status": "picked_up", "carrier_extra": {"x": 1}})
    await publish("shipment.something_new", {"unknown": True})  # no dossier named: ignored, acknowledged

    async def digitised() -> bool:
        s = await state()
        return bool(s["result"] and s["result"]["digitised"] and s["shipment"])

    await eventually(digitised)
    view = (await client.get(f"/dossiers/{did}", headers=SPECIALIST)).json()
    component = next(c for c in view["components"] if c["component_id"] == "ban_chinh")
    assert component["digitised"] and component["reused"] and component["document_id"] == "doc-7"
    s = await state()
    assert s["shipment"]["status"] == "picked_up" and s["result"]["document_id"] == "doc-8"
    db = app.state.runtime.db
    assert await db.processed_events.count_documents({"_id": {"$regex": f":{paid_id}$"}}) == 1
    assert len([h for h in s["history"] if h["to_status"] == "processing"]) == 1


def _copy_request() -> dict[str, Any]:
    return {
        "office_id": LX_OFFICE,
        "procedure_code": COPY,
        "applicant": applicant(),
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Bằng tốt nghiệp", "so_trang": 1, "so_ban": 2},
    }
