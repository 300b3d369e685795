"""Home pickup through the postal operator simulator → hand-over record signed → intake
receives the dossier with channel "postal" at the signature moment (Decision 45/2016)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import httpx

from services.kit.auth import Role
from services.launcher.stack import Stack
from tests.support import auth

UNIT, PATH, OFFICE = "30307", ["30307", "91"], "ttpvhcc-long-xuyen"
AGENT = auth(Role.POSTAL_AGENT, unit_code=UNIT, subject="bd-07", name="Trần Văn Bưu")
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="mc-03", name="Lê Thị Một Cửa")
COMPONENTS = ["to_khai", "giay_chung_sinh", "giay_to_tuy_than"]


def _poll(fetch: Any, done: Any, limit_s: float = 30) -> Any:
    deadline = time.monotonic() + limit_s
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = fetch()
    return value


def test_home_pickup_becomes_a_postal_reception_in_intake(stack: Stack) -> None:
    postal, intake = stack.running["postal"].url, stack.running["intake"].url
    email = f"an.{uuid.uuid4().hex[:6]}@example.vn"
    body = {
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
        dossier = _poll(lambda: http.get(f"/dossiers/{dossier_id}", headers=OFFICER), lambda r: r.status_code == 200)
        assert dossier.status_code == 200, "intake received the postal dossier"
        d = dossier.json()
        assert d["channel"] == "postal" and d["status"] == "received" and d["code"]
        # submitted from the hand-over signature (MongoDB keeps milliseconds)
        assert abs((datetime.fromisoformat(d["received_at"]) - signed_at).total_seconds()) < 0.001
        assert d["return_channel"] == "postal"
        assert d["history"][0]["actor"] == "mc-03"

    with httpx.Client(base_url=postal, timeout=15) as http:  # postal links the code intake assigned
        linked = _poll(
            lambda: http.get(f"/pickups/{pickup_id}", headers=OFFICER).json(),
            lambda p: p.get("dossier_code") == d["code"],
        )
        assert linked.get("dossier_code") == d["code"]
