"""Decision 45/2016 end to end on the launcher's stack (the operator simulator plays VNPost):

- home pickup → hand-over record signed → intake receives the dossier with channel "postal"
  at the signature moment;
- and the whole way for one dossier: home pickup → received via postal → processed →
  result ready (return by post) → delivery order with the operator → office → post hand-over
  record of the result → operator webhooks (in transit, out for delivery, delivered) → the
  dossier's timeline in intake carries every shipment status and ends returned (via postal).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from services.kit.auth import Role
from services.launcher.stack import Stack
from tests.support import auth, poll

UNIT, PATH, OFFICE = "30307", ["30307", "91"], "ttpvhcc-long-xuyen"
AGENT = auth(Role.POSTAL_AGENT, unit_code=UNIT, subject="bd-07", name="Trần Văn Bưu")
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="mc-03", name="Lê Thị Một Cửa")
SPECIALIST = auth(Role.SPECIALIST, unit_code=UNIT, subject="cv-11", name="Trần Văn Bình")
LEADER = auth(Role.SIGNING_LEADER, unit_code=UNIT, subject="ld-02", name="Phạm Minh Châu")
UNIT_ADMIN = auth(Role.UNIT_ADMIN, unit_code=UNIT, subject="qt-01", name="Quản trị phường")
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91", subject="tinh-01", name="Quản trị tỉnh")
COMPONENTS = ["to_khai", "giay_chung_sinh", "giay_to_tuy_than"]



def _pickup_body(email: str) -> dict[str, Any]:
    return {
        "option": "both",
        "office_id": OFFICE,
        "office_name": "Trung tâm Phục vụ hành chính công phường Long Xuyên",
        "unit_path": PATH,
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "applicant": {
            "full_name": "Nguyễn Văn An",
            "id_number": "089203004567",
            "phone": "0987654321",
            "email": email,
            "address": "12 Trần Hưng Đạo, Long Xuyên, An Giang",
        },
        "pickup_address": {
            "province_code": "91",
            "province": "An Giang",
            "commune": "Phường Long Xuyên",
            "street": "12 Trần Hưng Đạo",
        },
        "components": [{"component_id": c, "name": c, "count": 1} for c in COMPONENTS],
        "form_data": {
            "ho_ten": "Nguyễn Minh Khang",
            "ngay_sinh": "2026-02-20",
            "gioi_tinh": "Nam",
            "noi_sinh": "Bệnh viện Đa khoa An Giang",
            "dan_toc": "Kinh",
            "quoc_tich": "Việt Nam",
            "ho_ten_nguoi_yeu_cau": "Nguyễn Văn An",
            "so_dinh_danh_nguoi_yeu_cau": "089203004567",
            "noi_cu_tru": "Phường Long Xuyên",
            "quan_he": "Cha",
        },
    }


def test_home_pickup_becomes_a_postal_reception_in_intake(stack: Stack) -> None:
    postal, intake = stack.running["postal"].url, stack.running["intake"].url
    email = f"an.{uuid.uuid4().hex[:6]}@example.vn"
    body = _pickup_body(email)
    with httpx.Client(base_url=postal, timeout=15) as http:
        pickup = http.post("/pickups", headers=OFFICER, json=body)
        assert pickup.status_code == 201, pickup.text
        pickup_id = pickup.json()["id"]
        check = http.post(
            f"/pickups/{pickup_id}/check",
            headers=AGENT,
            json={"items": [{"component_id": c, "present": True, "count": 1} for c in COMPONENTS]},
        )
        assert check.status_code == 200, check.text
        slip = http.post(
            f"/pickups/{pickup_id}/slip",
            headers=AGENT,
            json={"sender_name": "Nguyễn Văn An", "seal_number": "NP-0001", "prepay_return": False},
        )
        assert slip.status_code == 200, slip.text
        dossier_id = slip.json()["dossier_id"]
        draft = http.post("/handovers", headers=AGENT, json={"office_id": OFFICE, "pickup_ids": [pickup_id]})
        assert draft.status_code == 201, draft.text
        record_id = draft.json()["id"]
        assert http.post(f"/handovers/{record_id}/sign", headers=AGENT, json={"counted": 1}).status_code == 200
        signed = http.post(f"/handovers/{record_id}/sign", headers=OFFICER, json={"counted": 1})
        assert signed.status_code == 200 and signed.json()["status"] == "signed", signed.text
        signed_at = datetime.fromisoformat(signed.json()["signed_at"])

    with httpx.Client(base_url=intake, timeout=15) as http:
        dossier = poll(lambda: http.get(f"/dossiers/{dossier_id}", headers=OFFICER), lambda r: r.status_code == 200)
        assert dossier.status_code == 200, "intake received the postal dossier"
        d = dossier.json()
        assert d["channel"] == "postal" and d["status"] == "received" and d["code"]
        # submitted from the hand-over signature (MongoDB keeps milliseconds)
        assert abs((datetime.fromisoformat(d["received_at"]) - signed_at).total_seconds()) < 0.001
        assert d["return_channel"] == "postal" and d["postal_reception_id"] == pickup_id
        assert d["history"][0]["actor"] == "mc-03"

    with httpx.Client(base_url=postal, timeout=15) as http:  # postal links the code intake assigned
        linked = poll(
            lambda: http.get(f"/pickups/{pickup_id}", headers=OFFICER).json(),
            lambda p: p.get("dossier_code") == d["code"],
        )
        assert linked.get("dossier_code") == d["code"]


def test_a_postal_agents_counter_reception_becomes_a_counter_dossier_linked_back(stack: Stack) -> None:
    """A postal agent receives at a commune counter, the one-stop officer confirms: intake
    receives a "counter" dossier that names postal's reception, and postal links its code."""
    postal, intake = stack.running["postal"].url, stack.running["intake"].url
    body = _pickup_body(f"cuc.{uuid.uuid4().hex[:6]}@example.vn")
    request = {
        "office_id": OFFICE,
        "counter": "Quầy 4",
        "unit_path": PATH,
        "procedure_code": body["procedure_code"],
        "procedure_name": body["procedure_name"],
        "applicant": body["applicant"],
        "components": body["components"],
        "form_data": body["form_data"],
        "return_channel": "counter",
    }
    with httpx.Client(base_url=postal, timeout=15) as http:
        approved = http.put(
            "/approved-procedures/91",
            headers=PROVINCE_ADMIN,
            json={"procedures": [{"code": "1.001193", "name": "Đăng ký khai sinh", "level": "commune"}]},
        )
        assert approved.status_code == 200, approved.text
        received = http.post("/counter-receptions", headers=AGENT, json=request)
        assert received.status_code == 201, received.text
        reception = received.json()
        confirmed = http.post(f"/counter-receptions/{reception['id']}/confirm", headers=OFFICER, json={})
        assert confirmed.status_code == 200, confirmed.text

    with httpx.Client(base_url=intake, timeout=15) as http:
        dossier = poll(
            lambda: http.get(f"/dossiers/{reception['dossier_id']}", headers=OFFICER), lambda r: r.status_code == 200
        )
        assert dossier.status_code == 200, "intake received the counter reception"
        d = dossier.json()
        assert d["channel"] == "counter" and d["status"] == "received" and d["code"]
        assert d["postal_reception_id"] == reception["id"]

    with httpx.Client(base_url=postal, timeout=15) as http:  # postal links the code intake assigned
        linked = poll(
            lambda: http.get(f"/counter-receptions/{reception['id']}", headers=OFFICER).json(),
            lambda r: r.get("dossier_code") == d["code"],
        )
        assert linked.get("dossier_code") == d["code"]


def _act(http: httpx.Client, path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    """A staff action; retried while a consumer was updating the same dossier (409 concurrent_update)."""
    response = http.post(path, headers=headers, json=body or {})
    for _ in range(10):
        if response.status_code != 409 or response.json().get("error", {}).get("code") != "concurrent_update":
            break
        time.sleep(0.2)
        response = http.post(path, headers=headers, json=body or {})
    assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text[:600]}"
    return response.json()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_one_dossier_from_home_pickup_to_home_delivery(stack: Stack) -> None:
    postal, intake, notify = (stack.running[n].url for n in ("postal", "intake", "notify"))
    operator = stack.simulator_urls["postal-sim"]
    tag = uuid.uuid4().hex[:6]
    worker_email = f"buu.{tag}@example.vn"

    # the office's postal workers are told when a result goes back by post (DOMAIN §6)
    with httpx.Client(base_url=notify, timeout=15) as http:
        contacts = http.put(
            f"/offices/{OFFICE}/contacts",
            headers=UNIT_ADMIN,
            json={
                "unit_code": UNIT,
                "unit_path": PATH,
                "postal_workers": [{"name": "Trần Văn Bưu", "email": worker_email, "channels": ["email"]}],
            },
        )
        assert contacts.status_code == 200, contacts.text

    sim = httpx.Client(base_url=operator, timeout=15)
    sim.patch("/admin/config", json={"auto_progress": False}).raise_for_status()  # we drive the operator
    try:
        with httpx.Client(base_url=postal, timeout=15) as http:
            # 1. the citizen orders a home pickup online; the unit path comes from intake's offices
            body = _pickup_body(f"an.{tag}@example.vn")
            del body["unit_path"]
            ordered = http.post("/public/pickups", json=body)
            assert ordered.status_code == 201, ordered.text
            ref = ordered.json()["ref"]
            mine = [p for p in http.get("/pickups", headers=AGENT, params={"office_id": OFFICE}).json()]
            pickup = next(p for p in mine if p["ref"] == ref)
            assert pickup["unit_path"] == PATH and pickup["status"] == "scheduled"

            # 2. at the door: papers checked, slip signed and sealed; at the office: the record signed
            checks = [{"component_id": c, "present": True, "count": 1} for c in COMPONENTS]
            _act(http, f"/pickups/{pickup['id']}/check", AGENT, {"items": checks})
            slip = _act(
                http,
                f"/pickups/{pickup['id']}/slip",
                AGENT,
                {"sender_name": "Nguyễn Văn An", "seal_number": f"NP-{tag}"},
            )
            dossier_id = slip["dossier_id"]
            record = _act(http, "/handovers", AGENT, {"office_id": OFFICE, "pickup_ids": [pickup["id"]]})
            _act(http, f"/handovers/{record['id']}/sign", AGENT, {"counted": 1})
            signed = _act(http, f"/handovers/{record['id']}/sign", OFFICER, {"counted": 1})
            assert signed["status"] == "signed"
            submitted_at = _at(signed["signed_at"])

        with httpx.Client(base_url=intake, timeout=15) as http:
            # 3. intake received it via postal at the signature; officers process it
            found = poll(lambda: http.get(f"/dossiers/{dossier_id}", headers=OFFICER), lambda r: r.status_code == 200)
            assert found.status_code == 200, "intake received the postal dossier"
            d = found.json()
            code = d["code"]
            assert d["channel"] == "postal" and d["return_channel"] == "postal" and d["status"] == "received"
            assert abs((_at(d["received_at"]) - submitted_at).total_seconds()) < 0.001
            _act(http, f"/dossiers/{dossier_id}/transfer", OFFICER, {"note": "Chuyển bộ phận chuyên môn"})
            _act(http, f"/dossiers/{dossier_id}/start-processing", SPECIALIST, {"note": "Thụ lý"})
            _act(http, f"/dossiers/{dossier_id}/resolve", LEADER, {"note": "Cấp giấy khai sinh"})
            ready = _act(http, f"/dossiers/{dossier_id}/result-ready", OFFICER, {})
            assert ready["status"] == "result_ready"

        with httpx.Client(base_url=postal, timeout=15) as http:
            # 4. postal opens the delivery to the address given at pickup and orders it from the operator
            deliveries = poll(
                lambda: http.get("/deliveries", headers=OFFICER, params={"dossier_code": code}).json(),
                lambda rows: bool(rows) and rows[0]["shipment_status"] == "created",
            )
            assert len(deliveries) == 1 and deliveries[0]["shipment_status"] == "created", deliveries
            delivery = deliveries[0]
            item = delivery["tracking_number"]
            assert delivery["pickup_id"] == pickup["id"] and delivery["address"]["street"] == "12 Trần Hưng Đạo"

            # 5. the office hands the result to the postal worker under a record both sign: picked up
            results = _act(http, "/handovers/results", OFFICER, {"office_id": OFFICE, "delivery_ids": [delivery["id"]]})
            _act(http, f"/handovers/{results['id']}/sign", OFFICER, {"counted": 1})
            handed = _act(http, f"/handovers/{results['id']}/sign", AGENT, {"counted": 1})
            assert handed["status"] == "signed" and handed["kind"] == "results"
            taken = http.get(f"/deliveries/{delivery['id']}", headers=OFFICER).json()
            assert taken["shipment_status"] == "picked_up"

        # 6. the operator carries it home: signed webhooks, one status at a time
        for status in (
            {"status": "in_transit"},
            {"status": "out_for_delivery", "attempt": 1},
            {"status": "delivered", "attempt": 1},
        ):
            pushed = sim.post(f"/admin/orders/{item}/events", json={"events": [status]})
            pushed.raise_for_status()
            assert [r["answer"]["result"] for r in pushed.json()["replies"]] == ["applied"], pushed.json()
    finally:
        sim.patch("/admin/config", json={"auto_progress": True})
        sim.close()

    with httpx.Client(base_url=intake, timeout=15) as http:
        # 7. intake's timeline: received via postal, processed, result ready, the shipment, returned
        t = poll(
            lambda: http.get(f"/dossiers/{dossier_id}/timeline", headers=SPECIALIST).json(),
            lambda t: t.get("status") == "returned",
        )
        assert t["status"] == "returned", t.get("status")
        history = t["history"]
        assert [h["to_status"] for h in history] == [
            "received",
            "transferred",
            "processing",
            "resolved",
            "result_ready",
            "returned",
        ]
        assert abs((_at(history[0]["at"]) - submitted_at).total_seconds()) < 0.001  # submitted at the signature
        assert [h["actor"] for h in history] == ["mc-03", "mc-03", "cv-11", "ld-02", "mc-03", "system:postal"]
        assert t["returned"]["via"] == "postal" and item in t["returned"]["note"]
        shipments = [s for s in t["shipments"] if s["kind"] == "delivery"]
        assert [s["status"] for s in shipments] == [
            "created",
            "picked_up",
            "in_transit",
            "out_for_delivery",
            "delivered",
        ]
        assert {s["tracking_number"] for s in shipments} == {item}
        assert t["shipment"]["status"] == "delivered"
        # one story in time order (as each service recorded it): the shipment runs between
        # "result ready" and "returned"
        story = [(_at(h["at"]), h["to_status"]) for h in history[:-1]] + [
            (_at(s["updated_at"]), f"shipment.{s['status']}") for s in shipments
        ]
        assert [label for _, label in sorted(story, key=lambda e: e[0])] == [
            "received",
            "transferred",
            "processing",
            "resolved",
            "result_ready",
            "shipment.created",
            "shipment.picked_up",
            "shipment.in_transit",
            "shipment.out_for_delivery",
            "shipment.delivered",
        ]
        # returned last, at the delivery moment the operator reported (its clock has whole seconds:
        # never before the previous step)
        assert _at(history[-1]["at"]) == max(_at(shipments[-1]["at"]), _at(history[-2]["at"]))

    with httpx.Client(base_url=notify, timeout=15) as http:
        # 8. processing ended: notify told the citizen and the office's postal worker
        def notices() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = http.get(
                "/deliveries", headers=UNIT_ADMIN, params={"dossier_code": code}
            ).json()
            return rows

        want = {("result_ready", "applicant"), ("postal_result_ready", "postal_worker")}
        rows = poll(notices, lambda rows: want <= {(r["template_key"], r["role"]) for r in rows})
        assert want <= {(r["template_key"], r["role"]) for r in rows}, [(r["template_key"], r["role"]) for r in rows]
        worker = next(r for r in rows if r["template_key"] == "postal_result_ready")
        assert worker["recipient"] == worker_email
