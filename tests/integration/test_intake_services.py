"""Intake II services through the HTTP API against the real servers: citizen lookup, feedback,
ratings, applicant registry, indicators and exports, national-portal sync with its simulator."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from openpyxl import load_workbook

from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from tests.integration.test_intake_processing import (
    LEADER,
    RECEPTION,
    SPECIALIST,
    applicant,
    at,
    birth_request,
    eventually,
    local,
    permit_request,
    post_ok,
    receive,
    set_clock,
)
from tests.support import auth, running_app, settings_for, simulator_process

CHAU_DOC = "ttpvhcc-chau-doc"
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91", subject="admin-ag")
INSPECTOR = auth(Role.INSPECTOR, unit_code="91", subject="insp-ag")
CD_RECEPTION = auth(Role.RECEPTION_OFFICER, unit_code="30316", subject="rec-cd")
CD_SPECIALIST = auth(Role.SPECIALIST, unit_code="30316", subject="spec-cd")


async def publish(nc: NatsClient, subject: str, payload: dict[str, Any]) -> None:
    """Another service's event, as its outbox relay would publish it."""
    body = {
        "event_id": uuid.uuid4().hex,
        "type": subject,
        "occurred_at": datetime.now(UTC).isoformat(),
        "unit_code": "30307",
        "payload": payload,
    }
    stream = {"payment": "PAYMENT", "document": "DOCUMENT"}[subject.split(".")[0]]
    await nc.jetstream().publish(subject, json.dumps(body).encode(), stream=stream)


def _app(servers: Endpoints, **over: Any) -> FastAPI:
    return create_app(settings_for(servers, IntakeSettings, durable_suffix=f"-t{uuid.uuid4().hex[:8]}", **over))


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = _app(servers, lookup_burst=4, lookup_rate_per_minute=0.01)
    async with running_app(app) as client:
        yield client, app


async def test_citizen_lookup_needs_the_second_factor_and_is_rate_limited(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    d = await receive(client, app, at(12, 9), birth_request())
    ok = await client.get("/public/lookup", params={"code": d["code"], "last4": "4321"})  # phone 0987 654 321
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["status"] == "received" and body["status_label"] == "Đã tiếp nhận"
    assert local(body["due_at"]) == at(13, 17) and body["collect"]["channel"] == "counter"
    assert [t["status"] for t in body["timeline"]] == ["received"]
    text = ok.text
    assert "Nguyễn Văn Ánh" not in text and "0987654321" not in text and "089203004567" not in text
    by_id = await client.get("/public/lookup", params={"code": d["code"].lower(), "last4": "4567"})  # ID number
    assert by_id.status_code == 200
    wrong = await client.get("/public/lookup", params={"code": d["code"], "last4": "0000"})
    unknown = await client.get("/public/lookup", params={"code": "000.01.30.H01-260112-9999", "last4": "4321"})
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()
    limited = await client.get("/public/lookup", params={"code": d["code"], "last4": "4321"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # behind the portal (a trusted proxy) each citizen has a bucket of their own
    citizen = {"X-Forwarded-For": "203.0.113.7"}
    behind = await client.get("/public/lookup", params={"code": d["code"], "last4": "4321"}, headers=citizen)
    assert behind.status_code == 200


async def test_feedback_from_hotline_and_web_assigned_answered_and_published(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    d = await receive(client, app, at(12, 9), permit_request())
    web = {"name": "Võ Thị Lan", "address": "Phường Long Xuyên", "summary": "Hồ sơ chậm, không được báo"}
    no_phone = await client.post("/public/feedback", json=web)
    assert no_phone.status_code == 422 and no_phone.json()["error"]["code"] == "validation_error"
    public = await post_ok(client, "/public/feedback", {**web, "phone": "0912345678", "dossier_code": d["code"]}, {})
    assert public["unit_code"] == "30307" and public["reference"].startswith("PA-260112-")
    assert local(public["response_due_at"]) == at(26, 17)  # 10 working days
    hotline = await post_ok(
        client,
        "/feedback",
        {
            "channel": "hotline_1022",
            "name": "Đặng Văn Tâm",
            "address": "Xã Mỹ Hòa Hưng",
            "phone": "0901 234 567",
            "summary": "Đề nghị hướng dẫn thủ tục cấp phép xây dựng",
            "unit_code": "91",
        },
        PROVINCE_ADMIN,
    )
    assert hotline["status"] == "new" and hotline["channel"] == "hotline_1022"
    fid = hotline["id"]
    assert (await client.get(f"/feedback/{fid}", headers=SPECIALIST)).status_code == 403  # still at the province
    assigned = await post_ok(client, f"/feedback/{fid}/assign", {"unit_code": "30307"}, PROVINCE_ADMIN)
    assert assigned["status"] == "assigned" and assigned["unit_path"] == ["30307", "91"]
    assert (await client.get(f"/feedback/{fid}", headers=CD_SPECIALIST)).status_code == 403
    text = "Ông/bà nộp hồ sơ tại Trung tâm Phục vụ hành chính công phường Long Xuyên."
    answered = await post_ok(client, f"/feedback/{fid}/answer", {"text": text, "publish": True}, SPECIALIST)
    assert answered["status"] == "published" and answered["answer"]["by"] == "spec-lx"
    answers = (await client.get("/public/feedback/answers", params={"unit_code": "30307"})).json()
    assert [a["reference"] for a in answers] == [hotline["reference"]] and answers[0]["name"] == "Đ. V. Tâm"
    assert "0901234567" not in str(answers)
    set_clock(app, at(28, 9))
    overdue = (await client.get("/feedback", params={"overdue": True}, headers=SPECIALIST)).json()
    assert [f["reference"] for f in overdue] == [public["reference"]] and overdue[0]["overdue"]
    again = await client.post(f"/feedback/{fid}/close", json={"reason": "x"}, headers=SPECIALIST)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


async def test_one_rating_per_dossier_from_the_counter_device_or_online(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    first = await receive(client, app, at(12, 9), birth_request())
    second = await receive(client, app, at(12, 10), birth_request())
    device = {"dossier_code": first["code"], "level": "very_satisfied", "device_id": "lx-q1-pad"}
    indicators = {"staff_attitude": 2, "publicity": 2, "contacts": 1}
    rated = await post_ok(client, "/counter/ratings", {**device, "indicators": indicators}, RECEPTION)
    assert rated["source"] == "device" and rated["score"] == 1.7 and rated["level"] == "very_satisfied"
    dup = await client.post("/counter/ratings", json=device, headers=RECEPTION)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "already_rated"
    other_unit = await client.post("/counter/ratings", json=device, headers=CD_RECEPTION)
    assert other_unit.status_code == 403
    bad = await client.post("/counter/ratings", json={**device, "indicators": {"staff_attitude": 5}}, headers=RECEPTION)
    assert bad.status_code == 422
    online = {"dossier_code": second["code"], "last4": "4321", "level": "unsatisfied", "comment": "Chờ lâu"}
    assert (await client.post("/public/ratings", json={**online, "last4": "1111"})).status_code == 404
    done = await post_ok(client, "/public/ratings", online, {})
    assert done["source"] == "online" and done["score"] is None
    assert (await client.post("/public/ratings", json=online)).status_code == 409


async def test_applicant_registry_finds_names_without_diacritics_within_the_units(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    await receive(client, app, at(12, 9), birth_request())
    await receive(client, app, at(12, 10), permit_request())
    other = applicant(full_name="Trần Thị Bé", id_number="089303001234", phone="0912345678")
    await receive(client, app, at(12, 11), birth_request(applicant=other))
    await receive(client, app, at(12, 14), birth_request(office_id=CHAU_DOC), CD_RECEPTION)

    found = (await client.get("/applicants", params={"q": "nguyen van anh"}, headers=SPECIALIST)).json()
    assert [(a["name"], a["dossier_count"]) for a in found] == [("Nguyễn Văn Ánh", 2)]
    assert found[0]["id_masked"] == "089*******67" and found[0]["phone_masked"] != "0987654321"
    assert [a["name"] for a in (await client.get("/applicants", params={"q": "NGUYEN van"}, headers=SPECIALIST)).json()]
    by_id = (await client.get("/applicants", params={"q": "089203004567"}, headers=SPECIALIST)).json()
    by_phone = (await client.get("/applicants", params={"q": "0912 345 678"}, headers=SPECIALIST)).json()
    assert [a["key"] for a in by_id] == [found[0]["key"]] and [a["name"] for a in by_phone] == ["Trần Thị Bé"]
    province = (await client.get("/applicants", params={"q": "nguyen van anh"}, headers=INSPECTOR)).json()
    assert province[0]["dossier_count"] == 3
    profile = (await client.get(f"/applicants/{found[0]['key']}", headers=SPECIALIST)).json()
    assert profile["id_number"] == "089203004567" and len(profile["dossiers"]) == 2
    assert {x["procedure_code"] for x in profile["dossiers"]} == {"1.001193", "1.009994"}
    chau_doc = (await client.get(f"/applicants/{found[0]['key']}", headers=CD_SPECIALIST)).json()
    assert len(chau_doc["dossiers"]) == 1
    cashier = auth(Role.CASHIER, unit_code="30307")
    assert (await client.get("/applicants", params={"q": "nguyen"}, headers=cashier)).status_code == 403
    audit = app.state.runtime.db["audit_log"]
    assert await audit.count_documents({"action": "applicant_search"}) == 5
    assert await audit.count_documents({"action": "applicant_read", "subject": "spec-lx"}) == 1


async def test_indicators_roll_up_to_the_province_and_export(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    early = await receive(client, app, at(12, 9), permit_request())
    set_clock(app, at(12, 10))
    await post_ok(client, f"/dossiers/{early['id']}/start-processing", {}, SPECIALIST)
    set_clock(app, at(20, 10))
    await post_ok(client, f"/dossiers/{early['id']}/resolve", {}, LEADER)
    late = await receive(client, app, at(13, 9), birth_request(office_id=CHAU_DOC), CD_RECEPTION)
    set_clock(app, at(13, 10))
    await post_ok(client, f"/dossiers/{late['id']}/start-processing", {}, CD_SPECIALIST)
    set_clock(app, at(16, 10))
    await post_ok(client, f"/dossiers/{late['id']}/resolve", {}, auth(Role.SIGNING_LEADER, unit_code="30316"))
    set_clock(app, at(14, 9))
    online = await post_ok(client, "/public/dossiers", birth_request(), {})
    await post_ok(client, f"/dossiers/{online['id']}/receive", {"decision": "receive"}, RECEPTION)
    await post_ok(
        client,
        "/counter/ratings",
        {"dossier_code": early["code"], "level": "satisfied", "indicators": {"staff_attitude": 2, "contacts": 1}},
        RECEPTION,
    )
    now = datetime.now(UTC).isoformat()
    ref = {"dossier_id": early["id"], "dossier_code": early["code"]}
    await publish(
        nc, "payment.paid", {**ref, "intent_id": "pi", "intent_ref": "R", "status": "paid", "channel": "vietqr"}
    )
    digitised = {"document_id": "d1", "component_code": "don", "pages": 1, "digitised_at": now, "digitised_by": "s"}
    await publish(nc, "document.component_digitised", {**ref, **digitised})

    async def consumed() -> bool:
        doc = await app.state.runtime.db.dossiers.find_one({"_id": early["id"]})
        return bool(doc and doc.get("payment") and any(c.get("digitised") for c in doc.get("components", [])))

    await eventually(consumed)
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    report = (await client.get("/reports/indicators", params=params, headers=PROVINCE_ADMIN)).json()
    totals = report["totals"]
    assert report["unit_code"] == "91" and totals["dossiers"] == 3 and totals["received"] == 3
    assert (totals["early"], totals["late"], totals["finished"]) == (1, 1, 2)
    assert totals["late_rate"] == 50.0 and totals["online_share"] == 33.3
    assert totals["paid_online_share"] == 100.0 and totals["digitised_components_share"] == 33.3
    assert [(u["unit_code"], u["dossiers"]) for u in report["by_unit"]] == [("30307", 2), ("30316", 1)]
    assert report["by_channel"] == {"counter": 2, "online": 1} and report["by_period"][0]["period"] == "2026-01"
    assert report["satisfaction"]["ratings"] == 1 and report["satisfaction"]["satisfied_share"] == 100.0
    # staff attitude 2 and contacts 1 from the device, total time 2 derived (resolved early): 1.7
    circular01 = report["satisfaction"]["circular01"]
    assert circular01["average"] == 1.7 and circular01["indicators"]["total_time"] == 2.0
    assert circular01["indicators"]["contacts"] == 1.0 and circular01["indicators"]["publicity"] is None
    assert report["by_status"]["resolved"]["dossiers"] == 2
    unit_admin = auth(Role.UNIT_ADMIN, unit_code="30307")
    own = (await client.get("/reports/indicators", params=params, headers=unit_admin)).json()
    assert own["totals"]["dossiers"] == 2 and [u["unit_code"] for u in own["by_unit"]] == ["30307"]
    sibling = await client.get("/reports/indicators", params={**params, "unit_code": "30316"}, headers=unit_admin)
    assert sibling.status_code == 403
    assert (await client.get("/reports/indicators", params=params, headers=RECEPTION)).status_code == 403
    exported = await client.get("/reports/indicators.csv", params=params, headers=PROVINCE_ADMIN)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["Phạm vi", "Mã", "Tên"] and rows[2][:2] == ["Tổng", "91"]
    assert [r[1] for r in rows if r and r[0] == "Đơn vị"] == ["30307", "30316"]
    xlsx = await client.get("/reports/indicators.xlsx", params=params, headers=PROVINCE_ADMIN)
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["Chi so", "Trang thai", "Kenh", "TT01"]
    assert wb["Chi so"]["B3"].value == "91" and wb["Chi so"]["D3"].value == 3


@pytest.fixture
def portal_sim() -> Iterator[tuple[str, str]]:
    """The national-portal simulator as a real HTTP server (a subprocess), failing until healed."""
    with simulator_process("services.intake.national_portal_sim", "--fail-first", "1000") as base:
        yield base, f"{base}/api/v1/dossiers"


async def test_national_portal_sync_retries_and_shows_its_backlog(
    servers: Endpoints, portal_sim: tuple[str, str]
) -> None:
    base, endpoint = portal_sim
    app = _app(servers, national_portal_url=endpoint, national_portal_poll_s=0.2, national_portal_backoff_s=(0.2,))
    async with running_app(app) as client, httpx.AsyncClient(base_url=base) as sim:
        d = await receive(client, app, at(12, 9), permit_request())
        admin = auth(Role.UNIT_ADMIN, unit_code="30307")

        async def failing() -> bool:
            backlog = (await client.get("/national-portal/backlog", headers=admin)).json()
            return backlog["pending"] == 1 and backlog["items"][0]["attempts"] >= 2

        await eventually(failing)
        backlog = (await client.get("/national-portal/backlog", headers=admin)).json()
        assert backlog["enabled"] and backlog["failing"] == 1 and "HTTP 503" in backlog["items"][0]["last_error"]
        assert backlog["items"][0]["code"] == d["code"]
        await sim.post("/_sim/fail", json={"count": 0})

        async def synced() -> bool:
            return (await sim.get(f"/_sim/dossiers/{d['code']}")).status_code == 200

        await eventually(synced)
        pushed = (await sim.get(f"/_sim/dossiers/{d['code']}")).json()["body"]
        assert pushed["TrangThaiHoSo"] == "receiving" and pushed["KenhThucHien"] == 1
        assert pushed["NgayTiepNhan"] == "20260112090000" and pushed["MaTTHC"] == "1.009994"
        set_clock(app, at(12, 10))
        await post_ok(client, f"/dossiers/{d['id']}/transfer", {}, RECEPTION)

        async def second_push() -> bool:
            item = (await sim.get(f"/_sim/dossiers/{d['code']}")).json()
            return bool(item["pushes"] == 2 and item["body"]["TrangThaiHoSo"] == "processing")

        await eventually(second_push)
        body = (await sim.get(f"/_sim/dossiers/{d['code']}")).json()["body"]
        assert [h["DenTrangThai"] for h in body["QuaTrinhXuLy"]] == ["received", "transferred"]

        async def drained() -> bool:
            b = (await client.get("/national-portal/backlog", headers=admin)).json()
            return bool(b["pending"] == 0 and b["synced"] == 1)

        await eventually(drained)
        assert (await client.get("/national-portal/backlog", headers=RECEPTION)).status_code == 403


async def test_an_anonymised_dossier_reaches_the_national_portal_anonymised(
    servers: Endpoints, portal_sim: tuple[str, str]
) -> None:
    base, endpoint = portal_sim
    app = _app(servers, national_portal_url=endpoint, national_portal_poll_s=0.2, national_portal_backoff_s=(0.2,),
               dossier_retention_days=0.0)
    async with running_app(app) as client, httpx.AsyncClient(base_url=base) as sim:
        await sim.post("/_sim/fail", json={"count": 0})
        d = await receive(client, app, at(12, 9), permit_request())
        await post_ok(client, f"/dossiers/{d['id']}/withdraw", {"reason": "Người dân rút hồ sơ"}, RECEPTION)

        async def pushed(check: Any) -> bool:
            item = await sim.get(f"/_sim/dossiers/{d['code']}")
            return item.status_code == 200 and bool(check(item.json()["body"]))

        await eventually(lambda: pushed(lambda body: body["TrangThaiHoSo"] == "cancelled"))
        before = (await sim.get(f"/_sim/dossiers/{d['code']}")).json()["body"]
        assert before["MaDoiTuong"] and before["ChuHoSo"] != "[đã ẩn danh]"

        set_clock(app, at(12, 10))
        person = before["MaDoiTuong"]
        decided = await post_ok(client, "/privacy/deletion-requests", {"id_number": person}, RECEPTION)
        assert [v["decision"] for v in decided["dossiers"]] == ["anonymise"]
        await eventually(lambda: pushed(lambda body: body["ChuHoSo"] == "[đã ẩn danh]"))
        after = (await sim.get(f"/_sim/dossiers/{d['code']}")).json()["body"]
        assert after["MaDoiTuong"] == "" and after["SoDienThoai"] == "" and after["Email"] == ""
        assert person not in json.dumps(after) and after["TrangThaiHoSo"] == before["TrangThaiHoSo"]
