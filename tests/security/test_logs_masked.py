"""No unmasked 12-digit ID number or phone number in any log line (Decree 13/2023, DOMAIN §9).

The whole stack through the launcher (as `motcua up`), a run that puts personal data
everywhere it can go — reception, search by ID number, public lookup and feedback, scan
upload and owner search, a payment, a postal pickup followed by phone, preferences keyed by
phone, requests the services refuse — then every log file of the run is scanned.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.kit.auth import Role
from services.launcher.servers import Endpoints
from services.launcher.stack import Stack
from tests.support import TEST_AUTH_SECRET, auth
from tests.unit.scan import scan_samples

pytestmark = pytest.mark.e2e

ID_NUMBER, OLD_ID, PHONE, PHONE_2 = "089303007788", "381234567", "0912388776", "0387112233"
NAME = "Huỳnh Thị Thanh Trúc"
UNIT, OFFICE = "30307", "ttpvhcc-long-xuyen"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, name="Lê Thị Thu")
ADMIN = auth(Role.UNIT_ADMIN, unit_code=UNIT)
CASHIER = auth(Role.CASHIER, unit_code=UNIT)
# a 12-digit run or a Vietnamese mobile number not inside a longer token (hex ids, hashes)
UNMASKED_ID = re.compile(r"(?<![0-9A-Za-z*])\d{12}(?![0-9A-Za-z*])")
UNMASKED_PHONE = re.compile(r"(?<![0-9A-Za-z*])(?:\+?84|0)[35789]\d{8}(?![0-9A-Za-z*])")


@pytest.fixture(scope="module")
def stack(servers: Endpoints, tmp_root: Path) -> Iterator[Stack]:
    s = Stack(data_dir=tmp_root / "logs-stack", random_ports=True, external=servers,
              extra_env={"MOTCUA_AUTH_DEV_SECRET": TEST_AUTH_SECRET, "MOTCUA_OUTBOX_POLL_S": "0.2",
                         "MOTCUA_LOG_LEVEL": "DEBUG"})
    s.start_servers()
    s.start_services(wait=90)
    yield s
    s.stop()


def _ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    return r.json()


def _full_run(stack: Stack) -> None:
    url = {name: s.url for name, s in stack.running.items()}
    with httpx.Client(timeout=20) as http:
        applicant = {"full_name": NAME, "id_number": ID_NUMBER, "phone": PHONE, "email": "truc@example.vn",
                     "address": "Phường Long Xuyên"}
        dossier = _ok(http.post(f"{url['intake']}/dossiers", headers=OFFICER, json={
            "office_id": OFFICE, "procedure_code": "2.000815", "applicant": applicant,
            "components": [{"component_id": "ban_chinh"}],
            "form_data": {"ten_giay_to": "Bằng tốt nghiệp", "so_trang": 1, "so_ban": 2}}))
        code = dossier["code"]
        # refused requests carrying personal data (validation errors are logged by some services)
        http.post(f"{url['intake']}/dossiers", headers=OFFICER, json={
            "office_id": OFFICE, "procedure_code": "2.000815",
            "applicant": {**applicant, "id_number": OLD_ID + "x", "phone": PHONE_2 + "9", "email": "not-an-email"}})
        http.post(f"{url['intake']}/dossiers", headers=auth(Role.RECEPTION_OFFICER, unit_code="30316"), json={
            "office_id": OFFICE, "procedure_code": "2.000815", "applicant": {**applicant, "id_number": OLD_ID}})
        http.get(f"{url['intake']}/applicants", params={"q": ID_NUMBER}, headers=OFFICER)
        http.get(f"{url['intake']}/applicants", params={"q": PHONE_2}, headers=OFFICER)
        http.get(f"{url['intake']}/public/lookup", params={"code": code, "last4": PHONE[-4:]})
        http.post(f"{url['intake']}/public/feedback", json={
            "name": NAME, "address": "Long Xuyên", "phone": PHONE_2, "dossier_code": code,
            "summary": f"Chậm trả kết quả, CCCD {ID_NUMBER}, gọi {PHONE_2} hoặc +84{PHONE[1:]}"})
        # scan: an upload and a search by owner
        http.post(f"{url['scan']}/dossiers/{code}/components/ban_chinh/documents", headers=OFFICER,
                  data={"unit_path": f"{UNIT},91", "owner_id": ID_NUMBER, "owner_phone": PHONE},
                  files=[("files", ("trang.png", scan_samples.png(text=uuid.uuid4().hex)))])
        http.post(f"{url['scan']}/reusable-documents/search", headers=OFFICER, json={"owner_id": ID_NUMBER})
        http.post(f"{url['scan']}/reusable-documents/search", headers=OFFICER, json={"owner_id": OLD_ID})
        # payments: an intent with the payer's phone, paid in cash
        intent = _ok(http.post(f"{url['payments']}/intents", headers=CASHIER, json={
            "dossier_id": dossier["id"], "dossier_code": code, "payer": {"name": NAME, "phone": PHONE},
            "items": [{"kind": "charge", "name": "Lệ phí", "amount": 10_000}], "unit_path": [UNIT, "91"]}))
        http.post(f"{url['payments']}/intents/{intent['id']}/cash", headers=CASHIER, json={"amount": 10_000})
        # postal: a citizen's pickup, followed (and once mistyped) by phone
        pickup = _ok(http.post(f"{url['postal']}/public/pickups", json={
            "option": "submit", "office_id": OFFICE, "office_name": "Long Xuyên", "unit_path": [UNIT, "91"],
            "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh", "applicant": applicant,
            "pickup_address": {"province_code": "91", "province": "An Giang", "commune": "Long Xuyên",
                               "street": "1 Lê Lợi"},
            "components": [{"component_id": "to_khai", "name": "Tờ khai", "count": 1}]}))
        http.get(f"{url['postal']}/public/pickups/{pickup['ref']}", params={"phone": PHONE})
        http.get(f"{url['postal']}/public/pickups/{pickup['ref']}", params={"phone": PHONE_2})
        # notify: preferences keyed by phone, deliveries searched by recipient
        http.put(f"{url['notify']}/preferences/{PHONE_2}", headers=ADMIN, json={"opted_out": ["sms"]})
        http.get(f"{url['notify']}/deliveries", params={"recipient": PHONE}, headers=ADMIN)
        # let the receipt notices go out (e-mail, SMS and Zalo to the simulators)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sent = http.get(f"{url['notify']}/deliveries", params={"dossier_code": code}, headers=ADMIN).json()
            if isinstance(sent, list) and len(sent) >= 2 and all(d.get("status") != "pending" for d in sent):
                break
            time.sleep(0.3)


def test_no_unmasked_id_or_phone_in_any_log(stack: Stack) -> None:
    _full_run(stack)
    stack.stop()  # flush and close every log
    logs = sorted((stack.data_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"intake", "scan", "postal", "payments", "notify", "portal"}
    keep = Path("var/test-logs/security")
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(stack.data_dir / "logs", keep, dirs_exist_ok=True)
    known = [ID_NUMBER, OLD_ID, PHONE, PHONE_2, "84" + PHONE[1:], "84" + PHONE_2[1:]]
    found: list[str] = []
    lines = 0
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            lines += 1
            hits = [k for k in known if k in line] + UNMASKED_ID.findall(line) + UNMASKED_PHONE.findall(line)
            if hits:
                found.append(f"{path.name}:{number}: {sorted(set(hits))} {line[:240]}")
    print(f"\nscanned {lines} log lines in {len(logs)} files (kept in {keep})")
    assert lines > 100, "the run logged something"
    assert not found, f"{len(found)} log line(s) with personal data:\n" + "\n".join(found[:30])
