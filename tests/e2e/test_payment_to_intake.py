"""A dossier's fee paid through the VNPay-style gateway simulator: payments confirms it on the
signed IPN and intake's dossier shows the payment (issue 7's end-to-end check)."""

from __future__ import annotations

import uuid

import httpx

from services.kit.auth import Role
from services.launcher.stack import Stack
from tests.support import auth, poll

OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="30307", name="Lê Thị Thu")
CASHIER = auth(Role.CASHIER, unit_code="30307", name="Thu ngân")



def test_fee_paid_on_the_gateway_shows_on_the_dossier(stack: Stack) -> None:
    intake, payments = stack.running["intake"].url, stack.running["payments"].url
    simulator = stack.simulator_urls["payments-sim"]
    body = {
        "office_id": "ttpvhcc-long-xuyen",
        "procedure_code": "2.000815",  # a 2,000 VND fee
        "applicant": {
            "full_name": "Đỗ Văn Phúc",
            "id_number": "089203001111",
            "phone": "0977123456",
            "email": f"phuc.{uuid.uuid4().hex[:6]}@example.vn",
        },
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Giấy khai sinh", "so_trang": 1, "so_ban": 3},
    }
    with httpx.Client(timeout=10) as http:
        dossier = http.post(f"{intake}/dossiers", json=body, headers=OFFICER).json()
        intents = poll(
            lambda: http.get(f"{payments}/intents", params={"dossier_id": dossier["id"]}, headers=CASHIER).json(),
            lambda v: len(v) == 1,
        )
        assert len(intents) == 1 and intents[0]["status"] == "pending" and intents[0]["amount"] == 2000
        checkout = http.post(
            f"{payments}/intents/{intents[0]['id']}/checkout", json={"channel": "vnpay"}, headers=CASHIER
        )
        assert checkout.status_code == 200, checkout.text
        page = http.get(checkout.json()["payment_url"])  # the citizen opens the gateway's pay page
        assert page.status_code == 200 and "Thanh toán" in page.text
        paid = http.post(
            f"{simulator}/vnpay/paymentv2/pay",
            follow_redirects=False,
            data={"tmn_code": "MOTCUA01", "txn_ref": checkout.json()["ref"], "action": "pay", "ipn": "send"},
        )
        assert paid.status_code == 302
        intent = poll(
            lambda: http.get(f"{payments}/intents/{intents[0]['id']}", headers=CASHIER).json(),
            lambda v: v["status"] == "paid",
        )
        assert intent["status"] == "paid" and intent["channel"] == "vnpay"
        seen = poll(
            lambda: http.get(f"{intake}/dossiers/{dossier['id']}", headers=OFFICER).json(),
            lambda v: (v.get("payment") or {}).get("status") == "paid",
        )
        assert seen["payment"]["status"] == "paid", seen.get("payment")
