"""A deletion request reaches every copy of the applicant's data (Decree 13/2023 art. 16).

One dossier on the launcher's stack leaves copies of its applicant in four services: intake
(the dossier), notify (the messages it sent), payments (the payer of the fee paid on the
gateway) and postal (the address and contact the result goes back to). Once the dossier is
finished and past its retention period (0 days on the test stack), a deletion request
anonymises it in intake, `dossier.anonymised` makes the three others erase theirs, and each
one's confirmation (`privacy.erased.<service>`) shows with the decision.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.contracts.events import ANONYMISED_NAME
from services.kit.auth import Role
from services.launcher.stack import Stack
from tests.support import auth, poll

UNIT = "30307"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="mc-05", name="Lê Thị Thu")
LEADER = auth(Role.SIGNING_LEADER, unit_code=UNIT, subject="ld-03", name="Phạm Minh Châu")
CASHIER = auth(Role.CASHIER, unit_code=UNIT, name="Thu ngân")
UNIT_ADMIN = auth(Role.UNIT_ADMIN, unit_code=UNIT, name="Quản trị phường")
NAME, PHONE, STREET = "Võ Thị Hạnh", "0912777888", "45 Lý Thái Tổ"



def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def test_a_deletion_request_erases_the_applicant_in_notify_payments_and_postal(stack: Stack) -> None:
    intake, payments, postal, notify = (stack.running[n].url for n in ("intake", "payments", "postal", "notify"))
    simulator = stack.simulator_urls["payments-sim"]
    person = f"0892030{uuid.uuid4().int % 10**5:05d}"
    email = f"hanh.{uuid.uuid4().hex[:6]}@example.vn"
    body = {
        "office_id": "ttpvhcc-long-xuyen",
        "procedure_code": "2.000815",  # a 2,000 VND fee
        "applicant": {"full_name": NAME, "id_number": person, "phone": PHONE, "email": email},
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Giấy khai sinh", "so_trang": 1, "so_ban": 3},
        "return_channel": "postal",
    }
    with httpx.Client(timeout=15) as http:
        # the dossier, its fee paid on the gateway, its result going back by post
        dossier = _ok(http.post(f"{intake}/dossiers", json=body, headers=OFFICER))
        dossier_id, code = dossier["id"], dossier["code"]
        intents = poll(
            lambda: http.get(f"{payments}/intents", params={"dossier_id": dossier_id}, headers=CASHIER).json(),
            lambda v: len(v) == 1,
        )
        checkout = _ok(http.post(f"{payments}/intents/{intents[0]['id']}/checkout", json={"channel": "vnpay"},
                                 headers=CASHIER))
        assert http.get(checkout["payment_url"]).status_code == 200  # the citizen opens the gateway's page
        pay = http.post(
            f"{simulator}/vnpay/paymentv2/pay",
            follow_redirects=False,
            data={"tmn_code": "MOTCUA01", "txn_ref": checkout["ref"], "action": "pay", "ipn": "send"},
        )
        assert pay.status_code == 302, pay.text
        paid = poll(
            lambda: http.get(f"{payments}/intents/{intents[0]['id']}", headers=CASHIER).json(),
            lambda v: v["status"] == "paid",
        )
        assert paid["status"] == "paid" and paid["payer"]["name"] == NAME
        seen = poll(
            lambda: http.get(f"{intake}/dossiers/{dossier_id}", headers=OFFICER).json(),
            lambda v: v["status"] != "awaiting_payment",
        )
        assert seen["status"] == "processing", seen["status"]  # paid: its processing goes on
        _ok(http.post(f"{intake}/dossiers/{dossier_id}/resolve", json={"note": "Đã chứng thực"}, headers=LEADER))
        _ok(http.post(f"{intake}/dossiers/{dossier_id}/result-ready", json={}, headers=OFFICER))
        deliveries = poll(
            lambda: http.get(f"{postal}/deliveries", params={"dossier_code": code}, headers=OFFICER).json(),
            lambda rows: len(rows) == 1,
        )
        assert len(deliveries) == 1, deliveries
        address = {"province_code": "91", "province": "An Giang", "commune": "Phường Long Xuyên", "street": STREET}
        placed = _ok(http.put(
            f"{postal}/deliveries/{deliveries[0]['id']}/address",
            json={"address": address, "contact": {"name": NAME, "phone": PHONE, "email": email}},
            headers=OFFICER,
        ))
        assert placed["address"]["street"] == STREET
        # the citizen came for it in person after all: the dossier is finished
        _ok(http.post(f"{intake}/dossiers/{dossier_id}/return", json={"via": "counter", "note": "Tự đến nhận"},
                      headers=OFFICER))
        sent = poll(
            lambda: http.get(f"{notify}/deliveries", params={"dossier_code": code}, headers=OFFICER).json(),
            lambda rows: {"dossier.received", "payment.paid", "dossier.returned"}
            <= {r["event_type"] for r in rows if r["recipient"] == email},
        )
        assert any(NAME in r["body"] for r in sent if r["recipient"] == email), "the messages name the applicant"

        # the deletion request: intake anonymises the dossier, and tells the others
        request = {"id_number": person, "reason": "Yêu cầu xoá dữ liệu", "request_reference": "YC-E2E"}
        decided = _ok(http.post(f"{intake}/privacy/deletion-requests", json=request, headers=OFFICER))
        assert decided["outcome"] == "completed", decided
        assert [v["decision"] for v in decided["dossiers"]] == ["anonymise"]
        assert _ok(http.get(f"{intake}/dossiers/{dossier_id}", headers=OFFICER))["applicant"]["name"] == ANONYMISED_NAME

        erased = poll(
            lambda: http.get(f"{payments}/intents/{intents[0]['id']}", headers=CASHIER).json(),
            lambda v: v["payer"]["name"] == ANONYMISED_NAME,
        )
        assert erased["payer"] == {"name": ANONYMISED_NAME, "email": None, "phone": None}
        assert erased["status"] == "paid" and erased["amount"] == 2000 and erased["receipt"]  # the accounts stay

        shipped = poll(
            lambda: http.get(f"{postal}/deliveries/{deliveries[0]['id']}", headers=OFFICER).json(),
            lambda v: v["recipient"]["name"] == ANONYMISED_NAME,
        )
        assert shipped["recipient"]["name"] == ANONYMISED_NAME and shipped["address"]["street"] == ANONYMISED_NAME
        assert shipped["contact"]["name"] == ANONYMISED_NAME and PHONE not in str(shipped) and email not in str(shipped)
        assert shipped["address"]["commune"] == "Phường Long Xuyên"  # the area stays, for the statistics

        messages = poll(
            lambda: http.get(f"{notify}/deliveries", params={"dossier_code": code}, headers=OFFICER).json(),
            lambda rows: all(r.get("anonymised_at") for r in rows),
        )
        assert len(messages) >= 3 and all(r.get("anonymised_at") for r in messages)
        text = str(messages)
        assert email not in text and NAME not in text and PHONE[-9:] not in text
        assert {r["status"] for r in messages} <= {"sent", "delivered", "skipped", "permanent_failure"}
        # nothing to find by the old address any more
        assert http.get(f"{notify}/deliveries", params={"recipient": email}, headers=OFFICER).json() == []

        # each service's confirmation shows with the decision, for the unit's administrator
        def confirmations() -> dict[str, int]:
            listed = http.get(f"{intake}/privacy/deletion-requests", headers=UNIT_ADMIN).json()["items"]
            mine = next(r for r in listed if r["id"] == decided["id"])
            return {e["service"]: e["records"] for e in mine["erasures"] if e["dossier_code"] == code}

        confirmed = poll(confirmations, lambda c: len(c) == 3)
        assert set(confirmed) == {"notify", "payments", "postal"} and min(confirmed.values()) >= 1, confirmed
        assert confirmed["payments"] == 1 and confirmed["postal"] == 1 and confirmed["notify"] == len(messages)
