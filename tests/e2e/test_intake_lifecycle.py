"""One dossier from counter to return, end to end on the real servers (intake in process):
reception → transfer → processing with two sequential inter-agency steps → supplement (clock
paused, deadline restarted) → a late step → apology and new date (form 04) → late flag →
resolution → result digitised (scan's event on the bus) → result ready → returned.

Checks the process control timeline (form 05), the events on the DOSSIER stream, the citizen
lookup and the indicators afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.kit.bus import ensure_streams
from services.launcher.servers import Endpoints
from tests.integration.test_intake_processing import (
    LEADER,
    RECEPTION,
    SPECIALIST,
    at,
    dossier_events,
    eventually,
    local,
    pdf_text,
    permit_request,
    post_ok,
    receive,
    set_clock,
)
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.e2e

PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91", subject="admin-ag")
UNIT_ADMIN = auth(Role.UNIT_ADMIN, unit_code="30307", subject="admin-lx")
PERMIT = "1.009994"
TWO_STEPS = {
    "mode": "sequential",
    "lead_body": None,
    "steps": [
        {"body": "Phòng Kinh tế, Hạ tầng và Đô thị", "task": "Thẩm định hồ sơ thiết kế", "deadline_working_days": 7},
        {"body": "Ủy ban nhân dân cấp xã", "task": "Ký cấp giấy phép xây dựng", "deadline_working_days": 5},
    ],
}


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    # the test runs the late scan itself, at moments of its choosing: no background scan (a scan
    # 5 s after start, with the clock already moved on, would flag first)
    settings = settings_for(
        servers, IntakeSettings, durable_suffix=f"-e2e{uuid.uuid4().hex[:6]}", late_scan_interval_s=0
    )
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app


@pytest.fixture
async def bus(servers: Endpoints) -> AsyncIterator[NatsClient]:
    client = await nats.connect(servers.nats_url)
    await ensure_streams(client.jetstream())
    yield client
    await client.close()


async def test_one_dossier_from_counter_to_return(intake: tuple[httpx.AsyncClient, FastAPI], bus: NatsClient) -> None:
    client, app = intake
    since = datetime.now(UTC)

    # The province gives the building permit a two-step paper route (one deadline per step).
    catalogue = json.loads((await client.get("/procedures/export")).content)
    for procedure in catalogue["procedures"]:
        if procedure["code"] == PERMIT:
            procedure["route"] = TWO_STEPS
    replaced = await client.put("/admin/procedures", content=json.dumps(catalogue), headers=PROVINCE_ADMIN)
    assert replaced.status_code == 200, replaced.text

    # Monday 12/01/2026 09:00 at the counter: 15 working days → due Monday 02/02 17:00.
    d = await receive(client, app, at(12, 9), permit_request())
    did, code = d["id"], d["code"]
    assert local(d["due_at"]) == at(2, 17, month=2)
    set_clock(app, at(12, 10))
    await post_ok(client, f"/dossiers/{did}/transfer", {"note": "Chuyển bản giấy"}, RECEPTION)
    set_clock(app, at(12, 11))
    started = await post_ok(client, f"/dossiers/{did}/start-processing", {}, SPECIALIST)
    assert [s["status"] for s in started["steps"]] == ["active", "waiting"]

    # Supplement within 3 working days: the clock stops; complete on Monday 19/01 → restart.
    set_clock(app, at(14, 10))
    missing = [{"name": "Bản vẽ kết cấu", "reason": "Thiếu chữ ký chủ trì thiết kế"}]
    await post_ok(client, f"/dossiers/{did}/supplement-request", {"missing": missing}, SPECIALIST)
    set_clock(app, at(19, 9))
    restarted = await post_ok(client, f"/dossiers/{did}/supplement-complete", {}, RECEPTION)
    assert local(restarted["due_at"]) == at(9, 17, month=2)  # 15 working days from Monday 19/01

    # Step 1 (7 working days from the restart: Wednesday 28/01) runs late; the scan flags it once.
    set_clock(app, at(29, 9))
    assert (await post_ok(client, "/admin/late-scan", {}, UNIT_ADMIN))["flagged"] == 1
    set_clock(app, at(29, 10))
    await post_ok(client, f"/dossiers/{did}/steps/0/complete", {"note": "Đạt yêu cầu"}, SPECIALIST)

    # Apology no later than one working day before the due moment (Friday 06/02 17:00), once.
    set_clock(app, at(5, 10, month=2))
    reason = "Chờ ý kiến thẩm định của Phòng Kinh tế, Hạ tầng và Đô thị"
    sorry = await post_ok(
        client, f"/dossiers/{did}/apology", {"reason": reason, "new_due_on": "2026-02-12"}, SPECIALIST
    )
    assert local(sorry["due_at"]) == at(12, 17, month=2)
    slip04 = await client.get(sorry["links"]["apology_slip"], headers=SPECIALIST)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in pdf_text(slip04.content)

    # Past the legal due moment (Monday 09/02 17:00) and unfinished: flagged late automatically.
    set_clock(app, at(10, 9, month=2))
    assert (await post_ok(client, "/admin/late-scan", {}, UNIT_ADMIN))["flagged"] == 1
    set_clock(app, at(10, 10, month=2))
    await post_ok(client, f"/dossiers/{did}/steps/1/complete", {}, LEADER)
    set_clock(app, at(10, 14, month=2))
    resolved = await post_ok(client, f"/dossiers/{did}/resolve", {"note": "Cấp giấy phép"}, LEADER)
    assert resolved["timeliness"] == "late"

    # Scan digitises the result and announces it on the bus; intake records it.
    result_event = {
        "event_id": uuid.uuid4().hex,
        "type": "document.result_digitised",
        "occurred_at": datetime.now(UTC).isoformat(),
        "unit_code": "30307",
        "payload": {
            "document_id": "doc-result-1",
            "dossier_code": code,
            "pages": 2,
            "digitised_at": datetime.now(UTC).isoformat(),
            "digitised_by": "scan-officer",
        },
    }
    await bus.jetstream().publish("document.result_digitised", json.dumps(result_event).encode(), stream="DOCUMENT")

    async def result_digitised() -> bool:
        t = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
        return bool(t["result"] and t["result"]["digitised"])

    await eventually(result_digitised)
    set_clock(app, at(10, 15, month=2))
    await post_ok(client, f"/dossiers/{did}/result-ready", {"pager_number": "017"}, RECEPTION)
    set_clock(app, at(11, 9, month=2))
    returned = await post_ok(client, f"/dossiers/{did}/return", {"via": "counter"}, RECEPTION)
    assert returned["status"] == "returned"
    await post_ok(
        client,
        "/counter/ratings",
        {"dossier_code": code, "level": "satisfied", "indicators": {"staff_attitude": 2}},
        RECEPTION,
    )

    # ---- the timeline (process control slip) ----
    t = (await client.get(f"/dossiers/{did}/timeline", headers=SPECIALIST)).json()
    assert [h["to_status"] for h in t["history"]] == [
        "received",
        "transferred",
        "processing",
        "supplement_requested",
        "processing",
        "processing",  # step 1 done
        "processing",  # apology
        "processing",  # step 2 done
        "resolved",
        "result_ready",
        "returned",
    ]
    assert [h["action"] for h in t["history"]][5:8] == ["complete_step", "apologise", "complete_step"]
    assert all(h["actor"] and h["role"] and h["unit_code"] == "30307" and h["at"] for h in t["history"])
    steps = t["steps"]
    assert [s["status"] for s in steps] == ["done", "done"] and steps[0]["late"] and steps[1]["late"]
    assert local(steps[0]["due_at"]) == at(28, 17) and local(steps[1]["due_at"]) == at(5, 17, month=2)
    assert t["late"] and local(t["late_since"]) == at(9, 17, month=2) and t["timeliness"] == "late"
    assert t["apology"]["reason"] == reason and local(t["apology"]["previous_due_at"]) == at(9, 17, month=2)
    assert [p["reason"] for p in t["pauses"]] == ["supplement"]
    assert t["returned"]["via"] == "counter" and t["result"]["document_id"] == "doc-result-1"
    slip05 = pdf_text((await client.get(f"/dossiers/{did}/slips/05.pdf", headers=SPECIALIST)).content)
    assert "Phòng Kinh tế, Hạ tầng và Đô thị" in slip05 and "Quá hạn" in slip05

    # ---- the events on the bus, in order, once each ----
    events = await dossier_events(bus, did, since, want=17)
    subjects = [e["type"] for e in events]
    specific = [s for s in subjects if s != "dossier.status_changed"]
    assert specific == [
        "dossier.received",
        "dossier.transferred",
        "dossier.supplement_requested",
        "dossier.step_late",
        "dossier.late_apology",
        "dossier.late",
        "dossier.step_late",  # step 2 (due Thursday 05/02) found late by the same scan
        "dossier.result_ready",
        "dossier.returned",
    ]
    changes = [
        (e["payload"]["from_status"], e["payload"]["status"]) for e in events if e["type"] == "dossier.status_changed"
    ]
    assert changes == [
        (None, "received"),
        ("received", "transferred"),
        ("transferred", "processing"),
        ("processing", "supplement_requested"),
        ("supplement_requested", "processing"),
        ("processing", "resolved"),
        ("resolved", "result_ready"),
        ("result_ready", "returned"),
    ]
    assert len({e["event_id"] for e in events}) == len(events) == 17
    assert all(e["_headers"].get("Nats-Msg-Id") == e["event_id"] and "traceparent" in e["_headers"] for e in events)
    assert all(e["unit_path"] == ["30307", "91"] and e["payload"]["dossier_code"] == code for e in events)
    by_type = {e["type"]: e["payload"] for e in events}
    assert local(by_type["dossier.late_apology"]["new_due_at"]) == at(12, 17, month=2)
    assert local(by_type["dossier.late"]["late_since"]) == at(9, 17, month=2)
    late_steps = [
        (e["payload"]["step_index"], e["payload"]["step_body"]) for e in events if e["type"] == "dossier.step_late"
    ]
    assert late_steps == [(0, "Phòng Kinh tế, Hạ tầng và Đô thị"), (1, "Ủy ban nhân dân cấp xã")]
    assert by_type["dossier.result_ready"]["pager_number"] == "017"
    assert by_type["dossier.returned"]["returned_via"] == "counter"

    # ---- what the citizen sees ----
    lookup = (await client.get("/public/lookup", params={"code": code, "last4": "4321"})).json()
    assert lookup["status"] == "returned" and lookup["new_appointment"] is True
    assert [x["status"] for x in lookup["timeline"]][-3:] == ["resolved", "result_ready", "returned"]

    # ---- the indicators afterwards ----
    report = (
        await client.get("/reports/indicators", params={"from": "2026-01-01", "to": "2026-02-28"}, headers=UNIT_ADMIN)
    ).json()
    totals = report["totals"]
    assert (totals["dossiers"], totals["finished"], totals["late"], totals["late_rate"]) == (1, 1, 1, 100.0)
    assert totals["apologies"] == 1 and totals["digitised_results_share"] == 100.0
    assert report["by_status"]["returned"]["dossiers"] == 1 and report["by_field"][0]["field_code"] == "xay_dung"
    sat = report["satisfaction"]
    assert sat["ratings"] == 1 and sat["satisfied_share"] == 100.0
    # staff attitude 2 (device); total time 0 (late) and agency time 0 (two late steps) derived: 0.7
    assert sat["circular01"]["average"] == 0.7 and sat["circular01"]["indicators"]["agency_time"] == 0.0
    province = (
        await client.get(
            "/reports/indicators", params={"from": "2026-01-01", "to": "2026-02-28"}, headers=PROVINCE_ADMIN
        )
    ).json()
    assert [u["unit_code"] for u in province["by_unit"]] == ["30307"] and province["totals"]["late"] == 1
    assert isinstance(province["by_period"], list)
