"""Reception through intake's HTTP API against the real MongoDB and NATS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from pypdf import PdfReader

from services.contracts.streams import DOSSIER
from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from tests.support import auth, running_app, settings_for

VN = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNE_OFFICE = "ttpvhcc-long-xuyen"  # Phường Long Xuyên, unit 30307, province 91
COMMUNE = "30307"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=COMMUNE, name="Lê Thị Thu")
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91")

CERTIFIED_COPY = "2.000815"  # Chứng thực bản sao từ bản chính: 2 working hours, eligible for No-appointment
BIRTH = "1.001193"  # Đăng ký khai sinh: 1 working day


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(settings_for(servers, IntakeSettings))
    async with running_app(app) as client:
        yield client, app


async def hold_relay(app: FastAPI) -> None:
    """Stop the app's outbox relay without flushing: the relay deletes what it publishes, and
    these tests count what a reception wrote to the outbox."""
    relay = app.state.runtime.relay
    assert relay is not None
    await relay.stop(flush_timeout_s=0)


def applicant(**over: Any) -> dict[str, Any]:
    return {
        "full_name": "Nguyễn Thị Hồng Nhung",
        "id_number": "089303001234",
        "phone": "0912 345 678",
        "email": "nhung@example.vn",
        "address": "Phường Long Xuyên, An Giang",
        **over,
    }


def certified_copy_request(**over: Any) -> dict[str, Any]:
    return {
        "office_id": COMMUNE_OFFICE,
        "procedure_code": CERTIFIED_COPY,
        "applicant": applicant(),
        "components": [{"component_id": "ban_chinh", "provided": True}],
        "form_data": {"ten_giay_to": "Bằng tốt nghiệp", "so_trang": 1, "so_ban": 2},
        **over,
    }


def birth_request(**over: Any) -> dict[str, Any]:
    return {
        "office_id": COMMUNE_OFFICE,
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
            "ho_ten_nguoi_yeu_cau": "Nguyễn Thị Hồng Nhung",
            "so_dinh_danh_nguoi_yeu_cau": "089303001234",
            "noi_cu_tru": "Phường Long Xuyên",
            "quan_he": "Mẹ",
        },
        **over,
    }


async def test_receive_at_counter_stores_dossier_and_publishes_event(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 12, 9, 0, tzinfo=VN))  # a Monday, 09:00
    r = await client.post("/dossiers", json=birth_request(), headers=OFFICER)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "000.01.30.H01-260112-0001"
    assert body["status"] == "received" and body["unit_path"] == ["30307", "91"]
    assert body["applicant"]["id_masked"] == "089*******34" and "id_number" not in body["applicant"]
    # 1 working day, counted from the day after reception: Tuesday 13/01 at closing time
    assert datetime.fromisoformat(body["due_at"]).astimezone(VN) == datetime(2026, 1, 13, 17, 0, tzinfo=VN)
    assert body["no_appointment"] is False and "receipt_slip" in body["links"]
    # readable again, by code, by an officer of the unit
    again = await client.get(f"/dossiers/by-code/{body['code']}", headers=OFFICER)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # the event went through the outbox to the DOSSIER stream
    sub = await nc.jetstream().subscribe("dossier.received", stream=DOSSIER.name, ordered_consumer=True)
    found = None
    for _ in range(60):
        try:
            msg = await sub.next_msg(timeout=0.5)
        except TimeoutError:
            continue
        data = json.loads(msg.data)
        if data["payload"]["dossier_id"] == body["id"]:
            found = (data, msg.headers or {})
            break
    await sub.unsubscribe()
    assert found is not None, "dossier.received was not published"
    event, headers = found
    assert headers.get("Nats-Msg-Id") == event["event_id"] and "traceparent" in headers
    assert event["unit_path"] == ["30307", "91"] and event["payload"]["applicant"]["phone"] == "0912345678"
    assert event["payload"]["due_at"] and event["payload"]["lookup_url"].endswith(body["code"])
    # what notify keeps for reminders comes with the reception itself (one working day before due)
    remind_at = datetime.fromisoformat(event["payload"]["remind_at"]).astimezone(VN)
    assert remind_at == datetime(2026, 1, 12, 17, 0, tzinfo=VN)
    assert event["payload"]["return_channel"] == "counter"


async def test_no_appointment_day_due_in_two_working_hours_without_slip(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    # Wednesday 14/01/2026 at 10:30: a No-appointment day at commune offices in the sample data
    app.state.intake.clock = FixedClock(datetime(2026, 1, 14, 10, 30, tzinfo=VN))
    r = await client.post("/dossiers", json=certified_copy_request(), headers=OFFICER)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["no_appointment"] is True and body["print_slip"] is False
    # 10:30 + 2 working hours, skipping the lunch gap 11:30-13:30 → 14:30
    assert datetime.fromisoformat(body["due_at"]).astimezone(VN) == datetime(2026, 1, 14, 14, 30, tzinfo=VN)
    assert "receipt_slip" not in body["links"] and "receipt_slip_on_request" in body["links"]


async def test_no_writing_day_records_who_filled_the_forms(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 14, 8, 0, tzinfo=VN))
    r = await client.post(
        "/dossiers", json=birth_request(no_writing={"applicant_confirmation": "fingerprint"}), headers=OFFICER
    )
    assert r.status_code == 201, r.text
    nw = r.json()["no_writing"]
    assert nw["filled_by"]["name"] == "Lê Thị Thu" and nw["applicant_confirmation"] == "fingerprint"
    assert nw["writing_fee"] == 0


async def test_supplement_lists_every_missing_item_and_slip_02_shows_them(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 13, 9, 0, tzinfo=VN))
    req = birth_request(
        decision="supplement",
        components=[{"component_id": "to_khai"}],
        extra_missing=[{"name": "Tờ khai", "reason": "Thiếu chữ ký người yêu cầu"}],
    )
    r = await client.post("/dossiers", json=req, headers=OFFICER)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "not_received" and body["code"] is None
    names = [m["name"] for m in body["missing"]]
    assert len(names) == 3 and "Tờ khai" in names
    pdf = await client.get(body["links"]["supplement_slip"], headers=OFFICER)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(__import__("io").BytesIO(pdf.content)).pages)
    assert "PHIẾU YÊU CẦU BỔ SUNG" in text and "Thiếu chữ ký người yêu cầu" in text
    assert "Nguyễn Thị Hồng Nhung" in text


async def test_receipt_slip_01_and_refusal_slip_03(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 12, 9, 0, tzinfo=VN))  # Monday: not a model day
    r = await client.post("/dossiers", json=birth_request(), headers=OFFICER)
    body = r.json()
    pdf = await client.get(body["links"]["receipt_slip"], headers=OFFICER)
    reader = PdfReader(__import__("io").BytesIO(pdf.content))
    text = "".join(p.extract_text() for p in reader.pages)
    assert body["code"] in text and "Đăng ký khai sinh" in text and "13/01/2026" in text
    assert "Giấy chứng sinh" in text or "giấy chứng sinh" in text.lower()
    assert abs(float(reader.pages[0].mediabox.width) - 419.5) < 1.5
    refused = await client.post(
        "/dossiers",
        json=birth_request(decision="refuse", refusal_reason="Không thuộc thẩm quyền giải quyết"),
        headers=OFFICER,
    )
    assert refused.status_code == 201 and refused.json()["status"] == "not_received"
    slip3 = await client.get(refused.json()["links"]["refusal_slip"], headers=OFFICER)
    text3 = "".join(p.extract_text() for p in PdfReader(__import__("io").BytesIO(slip3.content)).pages)
    assert "Không thuộc thẩm quyền giải quyết" in text3 and "TỪ CHỐI" in text3


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"procedure_code": "9.999999"}, 422, "unknown_procedure"),
        ({"office_id": "no-such-office"}, 422, "unknown_office"),
        ({"procedure_code": "1.012753"}, 422, "procedure_not_served_here"),  # province-level land procedure
        ({"applicant": applicant(id_number="12345")}, 422, "validation_error"),
        ({"applicant": applicant(phone="0123")}, 422, "validation_error"),
        ({"form_data": {}}, 422, "missing_form_fields"),
        ({"components": []}, 422, "dossier_incomplete"),
        ({"decision": "refuse"}, 422, "refusal_reason_required"),
        ({"channel": "postal"}, 422, "channel_not_allowed"),  # certified copies need the original
    ],
)
async def test_bad_input_is_refused_with_a_code_and_nothing_is_written(
    intake: tuple[httpx.AsyncClient, FastAPI], change: dict[str, Any], status: int, code: str
) -> None:
    client, app = intake
    await hold_relay(app)
    app.state.intake.clock = FixedClock(datetime(2026, 1, 13, 9, 0, tzinfo=VN))
    req = certified_copy_request(**change)
    r = await client.post("/dossiers", json=req, headers=OFFICER)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    db = app.state.runtime.db
    assert await db.dossiers.count_documents({}) == 0
    assert await db.outbox.count_documents({}) == 0


async def test_roles_and_units_are_enforced(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 13, 9, 0, tzinfo=VN))
    assert (await client.post("/dossiers", json=birth_request())).status_code == 401
    inspector = auth(Role.INSPECTOR, unit_code="91")
    assert (await client.post("/dossiers", json=birth_request(), headers=inspector)).status_code == 403
    sibling = auth(Role.RECEPTION_OFFICER, unit_code="30316")  # Phường Châu Đốc
    r = await client.post("/dossiers", json=birth_request(), headers=sibling)
    assert r.status_code == 403 and r.json()["error"]["code"] == "unit_not_allowed"
    ok = await client.post("/dossiers", json=birth_request(), headers=OFFICER)
    code = ok.json()["code"]
    assert (await client.get(f"/dossiers/by-code/{code}", headers=inspector)).status_code == 200  # province
    assert (
        await client.get(f"/dossiers/by-code/{code}", headers=auth(Role.INSPECTOR, unit_code="30316"))
    ).status_code == 403


async def test_online_registration_then_reception_by_an_officer(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 13, 20, 0, tzinfo=VN))  # evening submission
    reg = birth_request()
    reg.pop("office_id")
    r = await client.post("/public/dossiers", json={**reg, "office_id": COMMUNE_OFFICE})
    assert r.status_code == 201 and r.json()["status"] == "registered"
    app.state.intake.clock = FixedClock(datetime(2026, 1, 14, 7, 30, tzinfo=VN))
    accepted = await client.post(f"/dossiers/{r.json()['id']}/receive", json={"decision": "receive"}, headers=OFFICER)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "received" and accepted.json()["code"].endswith("-260114-0001")
    again = await client.post(f"/dossiers/{r.json()['id']}/receive", json={}, headers=OFFICER)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


async def test_due_date_preview_and_calendar_range(intake: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, _ = intake
    r = await client.get(
        "/calendar/due",
        params={"office_id": COMMUNE_OFFICE, "procedure_code": BIRTH, "received_at": "2026-02-13T16:00:00+07:00"},
        headers=OFFICER,
    )
    assert r.status_code == 200, r.text
    # Friday 13/02/2026; Tết holidays 16-20/02 → the next working day is Monday 23/02
    assert r.json()["due_at"].startswith("2026-02-23T17:00")
    # received after 15:00: transfer by the end of the next working day
    assert r.json()["transfer_deadline"].startswith("2026-02-23")
    far = await client.get(
        "/calendar/due",
        params={"office_id": COMMUNE_OFFICE, "procedure_code": BIRTH, "received_at": "2099-01-05T08:00:00+07:00"},
        headers=OFFICER,
    )
    assert far.status_code == 422 and far.json()["error"]["code"] == "calendar_out_of_range"


async def test_200_concurrent_receptions_get_200_consecutive_codes(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    app.state.intake.clock = FixedClock(datetime(2026, 1, 13, 9, 0, tzinfo=VN))
    responses = await asyncio.gather(
        *(client.post("/dossiers", json=birth_request(), headers=OFFICER) for _ in range(200))
    )
    assert all(r.status_code == 201 for r in responses), {r.status_code for r in responses}
    codes = sorted(r.json()["code"] for r in responses)
    assert len(set(codes)) == 200
    assert [int(c.rsplit("-", 1)[1]) for c in codes] == list(range(1, 201))


async def test_catalogue_export_import_round_trip_and_admin_rights(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, _ = intake
    xlsx = await client.get("/procedures/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    up = await client.put("/admin/procedures", files={"file": ("thu-tuc.xlsx", xlsx.content)}, headers=PROVINCE_ADMIN)
    assert up.status_code == 200 and up.json()["procedures"] >= 15
    denied = await client.put("/admin/procedures", files={"file": ("t.xlsx", xlsx.content)}, headers=OFFICER)
    assert denied.status_code == 403
    bad = await client.put("/admin/procedures", content=b'{"procedures": [{"code": "x"}]}', headers=PROVINCE_ADMIN)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_catalogue"
    listing = await client.get("/procedures", params={"office_id": COMMUNE_OFFICE})
    assert any(p["code"] == BIRTH for p in listing.json())


async def test_a_reception_failing_half_way_leaves_no_dossier_and_no_event(
    intake: tuple[httpx.AsyncClient, FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dossier insert succeeds, then writing its event fails: the transaction rolls back."""
    client, app = intake
    await hold_relay(app)
    app.state.intake.clock = FixedClock(datetime(2026, 1, 12, 9, 0, tzinfo=VN))
    import services.intake.repository as repository

    async def broken_outbox(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("MongoDB went away after the dossier insert")

    monkeypatch.setattr(repository, "add_to_outbox", broken_outbox)
    r = await client.post("/dossiers", json=birth_request(), headers=OFFICER)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    db = app.state.runtime.db
    assert await db.dossiers.count_documents({}) == 0
    assert await db.outbox.count_documents({}) == 0
    monkeypatch.undo()
    ok = await client.post("/dossiers", json=birth_request(), headers=OFFICER)
    assert ok.status_code == 201 and await db.dossiers.count_documents({}) == 1


async def test_two_intake_processes_number_one_office_without_repeats(servers: Endpoints) -> None:
    """Daily numbers are handed out in process; the unique index on codes is the guard between
    processes. A process whose next number was stored by another moves past it."""
    settings = settings_for(servers, IntakeSettings)
    first_app = create_app(settings)
    second_app = create_app(settings)  # a second process: same database, same consumers
    day = FixedClock(datetime(2026, 1, 15, 9, 0, tzinfo=VN))
    async with running_app(first_app) as first, running_app(second_app) as second:
        await hold_relay(first_app)
        await hold_relay(second_app)
        first_app.state.intake.clock = second_app.state.intake.clock = day
        one = await first.post("/dossiers", json=birth_request(), headers=OFFICER)
        assert one.status_code == 201 and one.json()["code"].endswith("-260115-0001")
        # the second process starts from what is stored, and takes 2, 3, 4
        taken = [await second.post("/dossiers", json=birth_request(), headers=OFFICER) for _ in range(3)]
        assert [r.json()["code"][-4:] for r in taken] == ["0002", "0003", "0004"]
        # the first process still expects 2: refused by the index, it moves past the stored ones
        again = await first.post("/dossiers", json=birth_request(), headers=OFFICER)
        assert again.status_code == 201 and again.json()["code"].endswith("-260115-0005")
        # both at once, concurrently
        together = await asyncio.gather(
            *(client.post("/dossiers", json=birth_request(), headers=OFFICER) for client in [first, second] * 30)
        )
        assert {r.status_code for r in together} == {201}
        codes = [r.json()["code"] for r in together] + [one.json()["code"], again.json()["code"]]
        codes += [r.json()["code"] for r in taken]
        assert len(set(codes)) == len(codes) == 65
        db = first_app.state.runtime.db
        assert await db.dossiers.count_documents({}) == 65
        assert await db.outbox.count_documents({"subject": "dossier.received"}) == 65  # one event each
