"""`motcua demo`: a realistic day at a commune office, played against the running stack.

Morning tickets at the kiosk (priority citizens, an online appointment checked in), counter
calls, receptions on a No-writing day (the officer types, the citizen signs or fingerprints), a
No-appointment dossier with a vibrating pager, a supplement request and a refusal, fees paid
in cash, by VietQR transfer, by card on the POS and online through the VNPay-style gateway
(the payment simulators play the bank, the terminal and the gateway), processing and results,
a postal pickup and a delivery by post, late dossiers, ratings and a feedback — so that every
page of the portal has something to show.

Everything goes through the services' HTTP APIs with dev tokens (the dev secret in
`var/secrets`), except one thing that no API can do in a day: making dossiers late. For that
the demo moves the dates of three of its own open dossiers back by three weeks in intake's
*dev* database, then asks intake's late scan to flag them (`--no-late` skips it).

If today is not a No-writing / No-appointment day at the office, the demo makes it one (from
today, as a unit administrator would for an event) and sets the sample weekdays back from
tomorrow (`--keep-calendar` leaves the calendar alone).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx

from services.kit.auth import Role, mint_dev_token

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE = "ttpvhcc-long-xuyen"
UNIT = "30307"
PROVINCE = "91"
SAMPLE_MODEL_WEEKDAYS = [1, 2]  # the sample data's commune model days (Tuesday, Wednesday)


class DemoError(RuntimeError):
    pass


@dataclass(frozen=True)
class Citizen:
    name: str
    id_number: str
    phone: str
    address: str
    email: str | None = None

    def applicant(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "full_name": self.name,
            "id_number": self.id_number,
            "phone": self.phone,
            "address": self.address,
        }
        if self.email:
            out["email"] = self.email
        return out


CITIZENS = [
    Citizen(
        "Nguyễn Văn An", "089203004567", "0987654321", "Số 12 Trần Hưng Đạo, phường Long Xuyên", "an.nguyen@example.vn"
    ),
    Citizen(
        "Trần Thị Bích", "089185012345", "0912345678", "Số 5 Hà Hoàng Hổ, phường Long Xuyên", "bich.tran@example.vn"
    ),
    Citizen("Huỳnh Văn Em", "089060111222", "0868123456", "Ấp Bình Đức, phường Long Xuyên"),
    Citizen("Lê Văn Cường", "089078123456", "0903123456", "Số 40 Lý Thái Tổ, phường Long Xuyên", "cuong.le@example.vn"),
    Citizen(
        "Phạm Thị Dung", "089192654321", "0376543210", "Số 8 Nguyễn Huệ, phường Long Xuyên", "dung.pham@example.vn"
    ),
    Citizen("Võ Thị Phương", "089199333444", "0789123456", "Khóm Đông Thịnh, phường Long Xuyên"),
    Citizen(
        "Đặng Văn Giang", "089201555666", "0356789012", "Số 3 Tôn Đức Thắng, phường Long Xuyên", "giang.dang@example.vn"
    ),
    Citizen("Bùi Thị Hoa", "089188777888", "0945678123", "Số 21 Lê Lợi, phường Long Xuyên", "hoa.bui@example.vn"),
]

OFFICERS = {
    Role.RECEPTION_OFFICER: "Lê Thị Thu",
    Role.SPECIALIST: "Ngô Minh Tâm",
    Role.SIGNING_LEADER: "Phan Quốc Hùng",
    Role.CASHIER: "Đỗ Thị Lan",
    Role.POSTAL_AGENT: "Trương Văn Bưu",
    Role.UNIT_ADMIN: "Mai Thị Hạnh",
    Role.PROVINCE_ADMIN: "Lý Văn Tỉnh",
}


@dataclass
class Received:
    """A dossier the demo received, with what later scenes need."""

    id: str
    code: str | None
    procedure: str
    citizen: Citizen
    no_appointment: bool = False
    ticket_id: str | None = None
    notes: list[str] = field(default_factory=list)


class Demo:
    def __init__(self, state: dict[str, Any], secret: str, *, office: str, pace_s: float, out: Callable[[str], None]):
        self.urls = {n: s["url"] for n, s in state.get("services", {}).items()}
        self.sims = {n: s.get("url") for n, s in state.get("simulators", {}).items() if s.get("url")}
        self.endpoints: dict[str, str] = state.get("endpoints", {})
        self.secret = secret
        self.office = office
        self.pace_s = pace_s
        self.out = out
        self.http = httpx.Client(timeout=30)
        self.done: list[str] = []
        self.skipped: list[str] = []
        self.received: list[Received] = []
        self.counters: dict[str, dict[str, Any]] = {}
        self.office_info: dict[str, Any] = {}

    # ---- plumbing ------------------------------------------------------------------------
    def token(self, role: Role, unit: str = UNIT) -> str:
        return mint_dev_token(
            self.secret,
            subject=f"demo-{role.value}-{unit}",
            roles=[role],
            unit_code=unit,
            name=OFFICERS.get(role, "Cán bộ"),
            office_id=self.office,
            ttl_s=3600,
        )

    def call(
        self,
        service: str,
        method: str,
        path: str,
        role: Role | None = None,
        *,
        unit: str = UNIT,
        ok: tuple[int, ...] = (200, 201),
        **kwargs: Any,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token(role, unit)}"} if role else {}
        url = f"{self.urls[service]}{path}" if service in self.urls else f"{self.sims[service]}{path}"
        for attempt in range(8):
            try:
                r = self.http.request(method, url, headers=headers, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
                if attempt:  # a kept-alive connection the server had closed: once more on a new one
                    raise
                continue
            if r.status_code == 429:  # public endpoints are rate-limited per address: wait as told
                time.sleep(min(10.0, float(r.headers.get("retry-after", "2"))))
                continue
            break
        if r.status_code not in ok:
            raise DemoError(f"{method} {path} → {r.status_code} {r.text[:300]}")
        try:
            return r.json() if r.content else None
        except ValueError:
            return r.content

    def say(self, text: str) -> None:
        self.out(f"  {text}")

    def pause(self) -> None:
        if self.pace_s:
            time.sleep(self.pace_s)

    def attempt(self, what: str, step: Callable[[], Any]) -> Any:
        """A step whose failure is reported without stopping its scene."""
        try:
            return step()
        except (DemoError, httpx.HTTPError) as exc:
            self.skipped.append(f"{what}: {exc}")
            self.out(f"  ⚠ {what}: {exc}")
            return None

    def scene(self, title: str, play: Callable[[], None]) -> None:
        self.out(f"\n▶ {title}")
        try:
            play()
            self.done.append(title)
        except (DemoError, httpx.HTTPError, KeyError) as exc:
            self.skipped.append(f"{title}: {exc}")
            self.out(f"  ⚠ not completed: {exc}")

    def wait_for(self, what: str, probe: Callable[[], Any], timeout_s: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.4)
        raise DemoError(f"timed out waiting for {what}")

    # ---- reference data ----------------------------------------------------------------
    def prepare(self) -> None:
        offices = self.call("intake", "GET", "/offices")
        info = next((o for o in offices if o["id"] == self.office), None)
        if info is None:
            raise DemoError(f"office {self.office} not found: load the sample data with `motcua seed`")
        self.office_info = info
        self.counters = {c["id"]: c for c in info["counters"]}
        self.say(f"{info['name']} — {len(self.counters)} quầy")

    def model_day(self, keep_calendar: bool) -> None:
        due = self.call(
            "intake",
            "GET",
            "/calendar/due",
            Role.RECEPTION_OFFICER,
            params={"office_id": self.office, "procedure_code": "1.001193"},
        )
        if due["no_writing_day"] and due["no_appointment"]:
            self.say("Hôm nay là Ngày không viết, Ngày không hẹn tại đơn vị.")
            return
        if keep_calendar:
            self.say("Hôm nay không phải Ngày không viết (--keep-calendar): các hồ sơ được tiếp nhận như ngày thường.")
            return
        today = datetime.now(VN_TZ).date()
        for start, weekdays in (
            (today, sorted({today.weekday(), *SAMPLE_MODEL_WEEKDAYS})),
            (today + timedelta(days=1), SAMPLE_MODEL_WEEKDAYS),
        ):
            self.call(
                "intake",
                "PUT",
                f"/admin/offices/{self.office}/model-days",
                Role.UNIT_ADMIN,
                json={
                    "office_id": self.office,
                    "effective_from": start.isoformat(),
                    "no_writing_weekdays": weekdays,
                    "no_appointment_weekdays": weekdays,
                },
            )
        self.say("Đơn vị tổ chức Ngày không viết, Ngày không hẹn hôm nay (từ mai trở lại thứ Ba, thứ Tư).")

    # ---- the kiosk ------------------------------------------------------------------------
    def ticket(self, field_code: str, priority: str = "none") -> dict[str, Any]:
        t: dict[str, Any] = self.call(
            "intake",
            "POST",
            "/queue/kiosk/tickets",
            json={"office_id": self.office, "field_code": field_code, "priority": priority, "kiosk_id": "demo-kiosk"},
        )
        self.say(f"Lấy số {t['number']} ({t['field_name']}{', ưu tiên' if priority != 'none' else ''})")
        return t

    def morning_tickets(self) -> None:
        for field_code, priority in (
            ("ho_tich", "none"),
            ("chung_thuc", "none"),
            ("ho_tich", "elderly"),
            ("cu_tru", "none"),
            ("ho_tich", "none"),
            ("chung_thuc", "none"),
            ("cu_tru", "pregnant"),
            ("bao_tro_xa_hoi", "none"),
            ("ho_tich", "none"),
            ("xay_dung", "none"),
            ("dang_ky_kinh_doanh", "none"),
        ):
            self.ticket(field_code, priority)
            self.pause()

    def appointment(self) -> None:
        at = (datetime.now(VN_TZ) + timedelta(minutes=20)).replace(second=0, microsecond=0)
        booked = self.call(
            "intake",
            "POST",
            "/queue/appointments",
            json={
                "office_id": self.office,
                "field_code": "ho_tich",
                "at": at.isoformat(),
                "name": CITIZENS[7].name,
                "phone": CITIZENS[7].phone,
            },
            ok=(200, 201, 422),
        )
        if not isinstance(booked, dict) or "code" not in booked:
            # the office is closed now: book the next opening instead (checked in on that day)
            opening = self.call(
                "intake",
                "GET",
                "/calendar/due",
                Role.RECEPTION_OFFICER,
                params={"office_id": self.office, "procedure_code": "2.000815"},
            )["counting_from"]
            at = datetime.fromisoformat(opening).astimezone(VN_TZ) + timedelta(minutes=30)
            booked = self.call(
                "intake",
                "POST",
                "/queue/appointments",
                json={
                    "office_id": self.office,
                    "field_code": "ho_tich",
                    "at": at.isoformat(),
                    "name": CITIZENS[7].name,
                    "phone": CITIZENS[7].phone,
                },
            )
            self.say(
                f"Ngoài giờ làm việc: {CITIZENS[7].name} đặt lịch hẹn lúc {at:%H:%M %d/%m}, mã {booked['code']}"
                " (xác nhận tại kiosk vào hôm đó)"
            )
            return
        self.say(f"{CITIZENS[7].name} đặt lịch hẹn lúc {at:%H:%M}, mã {booked['code']}")
        t = self.call(
            "intake",
            "POST",
            "/queue/kiosk/check-in",
            json={"office_id": self.office, "appointment_code": booked["code"], "kiosk_id": "demo-kiosk"},
        )
        self.say(f"Xác nhận lịch hẹn tại kiosk: số {t['number']} được đưa lên đầu hàng đợi")

    # ---- the counter ---------------------------------------------------------------------
    def call_next(self, counter_id: str) -> dict[str, Any] | None:
        reply = self.call("intake", "POST", f"/queue/counters/{counter_id}/call-next", Role.RECEPTION_OFFICER)
        ticket: dict[str, Any] | None = reply.get("ticket")
        if ticket:
            self.say(f"Quầy {self.counters[counter_id]['number']} gọi số {ticket['number']}")
        return ticket

    def free_counter(self, counter_id: str) -> None:
        """A ticket still at the counter (an earlier session) is closed before the first call."""
        view = self.call("intake", "GET", f"/queue/counters/{counter_id}", Role.RECEPTION_OFFICER)
        current = view.get("current")
        if current and current["status"] == "serving":
            self.finish(current)
        elif current:
            self.call(
                "intake", "POST", f"/queue/tickets/{current['id']}/skip", Role.RECEPTION_OFFICER, json={"no_show": True}
            )

    def serve_next(self, counter_id: str) -> dict[str, Any]:
        self.free_counter(counter_id)
        ticket = self.call_next(counter_id)
        if ticket is None:
            raise DemoError(f"nobody waiting at {counter_id}")
        self.call("intake", "POST", f"/queue/tickets/{ticket['id']}/serve", Role.RECEPTION_OFFICER)
        self.pause()
        return ticket

    def finish(self, ticket: dict[str, Any]) -> None:
        self.call("intake", "POST", f"/queue/tickets/{ticket['id']}/finish", Role.RECEPTION_OFFICER)

    def form_data(self, procedure: dict[str, Any], citizen: Citizen) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in procedure.get("form_fields") or []:
            name, kind = f["name"], f["type"]
            if kind == "number":
                data[name] = 1
            elif kind == "date":
                data[name] = "1990-05-12" if "sinh" in name else datetime.now(VN_TZ).date().isoformat()
            elif kind == "select":
                data[name] = (f.get("options") or ["Khác"])[0]
            elif kind == "checkbox":
                data[name] = True
            elif kind == "citizen_id":
                data[name] = citizen.id_number
            elif kind == "phone":
                data[name] = citizen.phone
            elif kind == "email":
                data[name] = citizen.email or "nguoinop@example.vn"
            elif kind == "address":
                data[name] = citizen.address
            elif "ho_ten" in name or name.startswith("ten_nguoi"):
                data[name] = citizen.name
            else:
                data[name] = "Theo giấy tờ người nộp xuất trình"
        return data

    def receive(
        self,
        procedure_code: str,
        citizen: Citizen,
        ticket: dict[str, Any] | None,
        *,
        decision: str = "receive",
        leave_out: tuple[str, ...] = (),
        refusal_reason: str | None = None,
        no_writing: str | None = "signature",
        return_channel: str = "counter",
        channel: str = "counter",
    ) -> Received:
        procedure = self.call("intake", "GET", f"/procedures/{procedure_code}")
        due = self.call(
            "intake",
            "GET",
            "/calendar/due",
            Role.RECEPTION_OFFICER,
            params={"office_id": self.office, "procedure_code": procedure_code},
        )
        eligible = procedure["models"]["eligible_no_writing"] and not procedure["models"]["no_writing_forbidden_by_law"]
        body: dict[str, Any] = {
            "office_id": self.office,
            "procedure_code": procedure_code,
            "applicant": citizen.applicant(),
            "components": [
                {"component_id": c["id"], "provided": c["id"] not in leave_out, "count": c["count"]}
                for c in procedure["components"]
                if c["mandatory"] or c["id"] in leave_out
            ],
            "form_data": self.form_data(procedure, citizen),
            "decision": decision,
            "return_channel": return_channel,
            "channel": channel,
        }
        if decision == "supplement":
            body["extra_missing"] = [{"name": "Ảnh chân dung 4x6", "reason": "Ảnh đã quá 6 tháng"}]
        if refusal_reason:
            body["refusal_reason"] = refusal_reason
        if no_writing and eligible and due["no_writing_day"] and channel == "counter":
            body["no_writing"] = {"filled_by_officer": True, "applicant_confirmation": no_writing}
        d = self.call("intake", "POST", "/dossiers", Role.RECEPTION_OFFICER, json=body)
        shown = d.get("code") or d.get("reference")
        how = {"receive": "tiếp nhận", "supplement": "yêu cầu bổ sung", "refuse": "từ chối"}[decision]
        extra = " — Ngày không viết, cán bộ điền thay" if d.get("no_writing") else ""
        self.say(f"{how.capitalize()} hồ sơ {shown}: {procedure['name'][:60]} ({citizen.name}){extra}")
        if ticket:
            self.call(
                "intake",
                "POST",
                f"/queue/tickets/{ticket['id']}/dossiers",
                Role.RECEPTION_OFFICER,
                json={"dossier_id": d["id"], "dossier_code": d.get("code")},
            )
        received = Received(
            d["id"],
            d.get("code"),
            procedure_code,
            citizen,
            bool(d.get("no_appointment")),
            ticket["id"] if ticket else None,
        )
        self.received.append(received)
        self.pause()
        return received

    def intent_of(self, r: Received) -> dict[str, Any]:
        def probe() -> Any:
            found = self.call("payments", "GET", "/intents", Role.CASHIER, params={"dossier_id": r.id})
            return next((i for i in found if i["status"] == "pending"), None)

        intent: dict[str, Any] = self.wait_for(f"the fees of {r.code}", probe)
        return intent

    def paid(self, r: Received, channel: str) -> None:
        def probe() -> Any:
            found = self.call("payments", "GET", "/intents", Role.CASHIER, params={"dossier_id": r.id})
            return next((i for i in found if i["status"] == "paid"), None)

        intent = self.wait_for(f"the payment of {r.code}", probe)
        receipt = (intent.get("receipt") or {}).get("code", "")
        self.say(f"Đã thu {intent['amount']:,} đồng ({channel}) — biên lai {receipt}".replace(",", "."))

    def pay_cash(self, r: Received) -> None:
        intent = self.intent_of(r)
        self.call(
            "payments",
            "POST",
            f"/intents/{intent['id']}/cash",
            Role.RECEPTION_OFFICER,
            json={"amount": intent["amount"]},
        )
        self.paid(r, "tiền mặt")

    def pay_vietqr(self, r: Received) -> None:
        intent = self.intent_of(r)
        checkout = self.call(
            "payments", "POST", f"/intents/{intent['id']}/checkout", Role.RECEPTION_OFFICER, json={"channel": "vietqr"}
        )
        self.say("Người nộp quét mã VietQR bằng ứng dụng ngân hàng")
        self.call("payments-sim", "POST", "/bank/qr-pay", json={"qr_string": checkout["qr_string"]})
        self.paid(r, "chuyển khoản VietQR")

    def pay_pos(self, r: Received) -> None:
        intent = self.intent_of(r)
        checkout = self.call(
            "payments", "POST", f"/intents/{intent['id']}/checkout", Role.RECEPTION_OFFICER, json={"channel": "pos"}
        )
        self.say(f"Máy POS nhận lệnh {checkout['sale_id']}; người nộp chạm thẻ")
        self.call("payments-sim", "POST", f"/pos/sales/{checkout['sale_id']}/card", json={"approve": True})
        self.paid(r, "thẻ qua máy POS")

    def pay_online(self, r: Received) -> None:
        intent = self.intent_of(r)
        checkout = self.call(
            "payments", "POST", f"/intents/{intent['id']}/checkout", Role.RECEPTION_OFFICER, json={"channel": "vnpay"}
        )
        url = checkout["payment_url"]
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        page = self.http.get(url)
        if page.status_code != 200:
            raise DemoError(f"gateway page → {page.status_code}")
        self.say("Người nộp thanh toán trên cổng thanh toán trực tuyến (mô phỏng)")
        self.http.post(
            f"{self.sims['payments-sim']}/vnpay/paymentv2/pay",
            data={"tmn_code": query["vnp_TmnCode"], "txn_ref": query["vnp_TxnRef"], "action": "pay"},
            follow_redirects=False,
        )
        self.paid(r, "cổng thanh toán trực tuyến")

    def bind_pager(self, r: Received, pager: str) -> None:
        self.call(
            "intake",
            "POST",
            f"/queue/offices/{self.office}/pagers",
            Role.RECEPTION_OFFICER,
            json={"pager_number": pager, "dossier_id": r.id, "dossier_code": r.code, "ticket_id": r.ticket_id},
        )
        self.say(f"Giao thẻ rung số {pager} cho {r.citizen.name} (Ngày không hẹn, chờ kết quả tại chỗ)")

    # ---- processing and results -----------------------------------------------------------
    def act(self, r: Received, action: str, role: Role, body: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "intake", "POST", f"/dossiers/{r.id}/{action}", role, json=body or {"note": ""}
        )
        return result

    def allowed(self, r: Received) -> list[str]:
        timeline = self.call("intake", "GET", f"/dossiers/{r.id}/timeline", Role.SPECIALIST)
        return list(timeline.get("allowed_actions") or [])

    def resolve(self, r: Received, *, pager: str | None = None) -> None:
        self.wait_for(f"{r.code} ready for processing", lambda: {"start_processing", "resolve"} & set(self.allowed(r)))
        if "start_processing" in self.allowed(r):
            self.act(r, "start-processing", Role.SPECIALIST, {"note": "Chuyên viên thẩm định"})
        self.act(r, "resolve", Role.SIGNING_LEADER, {"note": "Lãnh đạo ký duyệt"})
        place = self.office_info.get("name", "")
        self.act(
            r,
            "result-ready",
            Role.RECEPTION_OFFICER,
            {"pickup_place": f"Quầy trả kết quả — {place}", "pager_number": pager, "note": ""},
        )
        self.say(f"Hồ sơ {r.code}: đã giải quyết, có kết quả{' — rung thẻ ' + pager if pager else ''}")
        if pager:
            counter = next(iter(self.counters.values()))["number"]
            self.call(
                "intake",
                "POST",
                f"/queue/offices/{self.office}/pagers/{pager}/call",
                Role.RECEPTION_OFFICER,
                json={"counter_number": counter},
            )

    def hand_back(self, r: Received, *, pager: str | None = None) -> None:
        self.act(r, "return", Role.RECEPTION_OFFICER, {"via": "counter", "note": "Công dân nhận kết quả tại quầy"})
        if pager:
            self.call("intake", "POST", f"/queue/offices/{self.office}/pagers/{pager}/release", Role.RECEPTION_OFFICER)
        self.say(f"Trả kết quả hồ sơ {r.code} cho {r.citizen.name}")

    # ---- scenes ---------------------------------------------------------------------------
    def counter_one(self) -> None:
        c = "lx-q1"
        t = self.serve_next(c)
        birth = self.receive("1.001193", CITIZENS[0], t, no_writing="fingerprint")
        if birth.no_appointment:
            self.bind_pager(birth, "01")
        self.finish(t)
        t = self.serve_next(c)
        copy = self.receive("2.000815", CITIZENS[1], t)
        self.pay_cash(copy)
        self.finish(t)
        t = self.serve_next(c)
        single = self.receive("1.004873", CITIZENS[2], t, no_writing="fingerprint")
        self.pay_vietqr(single)
        self.finish(t)
        t = self.serve_next(c)
        self.attempt(
            "yêu cầu bổ sung",
            lambda: self.receive("1.000894", CITIZENS[3], t, decision="supplement", leave_out=("giay_to_tuy_than",)),
        )
        self.finish(t)
        t = self.serve_next(c)
        self.attempt(
            "từ chối tiếp nhận",
            lambda: self.receive(
                "2.000884",
                CITIZENS[4],
                t,
                decision="refuse",
                no_writing=None,
                refusal_reason="Văn bản đề nghị chứng thực chữ ký có nội dung trái pháp luật",
            ),
        )
        self.finish(t)
        self.free_counter(c)
        absent = self.call_next(c)
        if absent:
            self.call(
                "intake", "POST", f"/queue/tickets/{absent['id']}/skip", Role.RECEPTION_OFFICER, json={"no_show": True}
            )
            self.say(f"Số {absent['number']} vắng mặt")

    def counter_two(self) -> None:
        c = "lx-q2"
        t = self.serve_next(c)
        temp = self.receive("1.004194", CITIZENS[5], t)
        self.pay_pos(temp)
        self.finish(t)
        t = self.serve_next(c)
        perm = self.receive("1.004222", CITIZENS[6], t, return_channel="postal")
        self.pay_online(perm)
        self.finish(t)

    def counter_three(self) -> None:
        c = "lx-q3"
        for procedure, citizen in (("1.009994", CITIZENS[3]), ("1.001612", CITIZENS[0])):
            t = self.serve_next(c)
            r = self.receive(procedure, citizen, t)
            self.pay_cash(r)
            self.finish(t)

    def counter_four(self) -> None:
        c = "lx-q4"
        t = self.serve_next(c)
        self.receive("1.001776", CITIZENS[7], t)
        self.finish(t)

    def processing(self) -> None:
        by_code = {r.procedure: r for r in self.received if r.code}
        birth, copy, single = by_code.get("1.001193"), by_code.get("2.000815"), by_code.get("1.004873")
        if birth:
            pager = "01" if birth.no_appointment else None
            self.resolve(birth, pager=pager)
            self.hand_back(birth, pager=pager)
        if copy:
            self.resolve(copy)
            self.hand_back(copy)
        if single:
            self.resolve(single)  # ready, waiting at the counter: the board shows it
        perm = by_code.get("1.004222")
        if perm:
            self.resolve(perm)  # its result goes back by post

    def postal(self) -> None:
        perm = next((r for r in self.received if r.procedure == "1.004222" and r.code), None)
        c = CITIZENS[6]
        address = {
            "province_code": PROVINCE,
            "province": "An Giang",
            "commune": "Phường Long Xuyên",
            "street": "Số 3 Tôn Đức Thắng",
        }
        contact = {"name": c.name, "phone": c.phone}
        procedure = self.call("intake", "GET", "/procedures/1.004873")
        pickup = self.call(
            "postal",
            "POST",
            "/public/pickups",
            json={
                "option": "both",
                "office_id": self.office,
                "office_name": self.office_info.get("name", ""),
                "unit_path": [UNIT, PROVINCE],
                "procedure_code": procedure["code"],
                "procedure_name": procedure["name"],
                "applicant": {
                    "full_name": CITIZENS[3].name,
                    "id_number": CITIZENS[3].id_number,
                    "phone": CITIZENS[3].phone,
                    "address": CITIZENS[3].address,
                },
                "pickup_address": {**address, "street": "Số 40 Lý Thái Tổ"},
                "components": [
                    {"component_id": x["id"], "name": x["name"], "count": x["count"], "required": x["mandatory"]}
                    for x in procedure["components"]
                ],
                "form_data": self.form_data(procedure, CITIZENS[3]),
                "preferred_time": "Chiều nay",
            },
        )
        self.say(f"{CITIZENS[3].name} đặt bưu điện đến nhận hồ sơ tại nhà: đơn {pickup['ref']} ({pickup['status']})")
        found = self.call("postal", "GET", "/pickups", Role.POSTAL_AGENT, params={"office_id": self.office})
        order = next((p for p in found if p.get("ref") == pickup["ref"]), None)
        if order:
            checks = [{"component_id": x["id"], "present": True, "count": x["count"]} for x in procedure["components"]]
            self.call("postal", "POST", f"/pickups/{order['id']}/check", Role.POSTAL_AGENT, json={"items": checks})
            slip = {"sender_name": CITIZENS[3].name, "seal_number": "NP-000123", "prepay_return": True}
            signed = self.call(
                "postal", "POST", f"/pickups/{order['id']}/slip", Role.POSTAL_AGENT, json=slip, ok=(200, 409)
            )
            if isinstance(signed, dict) and signed.get("error", {}).get("code") == "no_slip_number":
                self.say("Hệ thống bưu chính chưa cấp số phiếu: dùng phiếu gửi giấy")
                slip["slip_number"] = f"PG{datetime.now(VN_TZ):%d%m%H%M%S}{os.getpid() % 1000:03d}"
                self.call("postal", "POST", f"/pickups/{order['id']}/slip", Role.POSTAL_AGENT, json=slip)
            record = self.call(
                "postal",
                "POST",
                "/handovers",
                Role.POSTAL_AGENT,
                json={"office_id": self.office, "pickup_ids": [order["id"]]},
            )
            self.call("postal", "POST", f"/handovers/{record['id']}/sign", Role.POSTAL_AGENT, json={"counted": 1})
            self.call("postal", "POST", f"/handovers/{record['id']}/sign", Role.RECEPTION_OFFICER, json={"counted": 1})
            self.say(
                "Nhân viên bưu điện kiểm tra, niêm phong, bàn giao cho bộ phận một cửa "
                f"(biên bản {record.get('number', '')})"
            )
            by_post = self.receive("1.004873", CITIZENS[3], None, channel="postal")
            self.pay_cash(by_post)
        if perm:

            def delivery() -> Any:
                found = self.call(
                    "postal", "GET", "/deliveries", Role.RECEPTION_OFFICER, params={"dossier_code": perm.code}
                )
                return found[0] if found else None

            d = self.wait_for(f"the delivery of {perm.code}", delivery, timeout_s=10)
            if d.get("shipment_status") == "awaiting_address":
                d = self.call(
                    "postal",
                    "PUT",
                    f"/deliveries/{d['id']}/address",
                    Role.RECEPTION_OFFICER,
                    json={"address": address, "contact": contact},
                )
            self.say(
                f"Kết quả hồ sơ {perm.code} chuyển phát đến {address['street']}: "
                f"{d.get('shipment_status')} {d.get('tracking_number') or ''}".rstrip()
            )
            # intake returns the dossier itself when the operator reports the result delivered
            if d.get("shipment_status") == "delivered" and "return" in self.allowed(perm):
                self.act(perm, "return", Role.POSTAL_AGENT, {"via": "postal", "note": "Đã phát tận tay"})

    def online(self) -> None:
        """A citizen submits online the night before; the officer checks and receives it."""
        citizen = CITIZENS[4]
        procedure = self.call("intake", "GET", "/procedures/1.004873")
        registered = self.call(
            "intake",
            "POST",
            "/public/dossiers",
            json={
                "office_id": self.office,
                "procedure_code": procedure["code"],
                "applicant": citizen.applicant(),
                "components": [{"component_id": c["id"]} for c in procedure["components"] if c["mandatory"]],
                "form_data": self.form_data(procedure, citizen),
            },
        )
        self.say(f"{citizen.name} nộp hồ sơ trực tuyến: {registered['reference']}")
        d = self.call(
            "intake",
            "POST",
            f"/dossiers/{registered['id']}/receive",
            Role.RECEPTION_OFFICER,
            json={"decision": "receive"},
        )
        r = Received(d["id"], d.get("code"), procedure["code"], citizen, bool(d.get("no_appointment")))
        self.received.append(r)
        self.say(f"Cán bộ kiểm tra và tiếp nhận hồ sơ trực tuyến: {r.code}")
        self.pay_online(r)

    def late(self) -> None:
        """Move three open dossiers of the demo three weeks back (dev database), then flag them."""
        from pymongo import MongoClient

        mongo_url = self.endpoints.get("MOTCUA_MONGO_URL")
        if not mongo_url:
            raise DemoError("no MongoDB URL in stack.json")
        prefix = os.environ.get("MOTCUA_MONGO_DB_PREFIX", "motcua_")
        candidates = [r for r in self.received if r.code and r.procedure in ("1.001776", "1.009994", "1.001612")]
        candidates += [r for r in self.received if r.code and r not in candidates]
        shift = timedelta(days=21)
        now = datetime.now(UTC)
        moved = 0
        client: MongoClient[dict[str, Any]]
        with MongoClient(mongo_url, serverSelectionTimeoutMS=5000) as client:
            dossiers: Any = client[f"{prefix}intake"]["dossiers"]
            for r in candidates:
                if moved == 3:
                    break
                doc = dossiers.find_one({"_id": r.id})
                if not doc or doc.get("status") not in ("received", "transferred", "processing"):
                    continue
                changes: dict[str, Any] = {}
                for key in ("received_at", "created_at", "clock_start", "transfer_deadline"):
                    if isinstance(doc.get(key), datetime):
                        changes[key] = doc[key] - shift
                for key in ("due_at", "statutory_due_at"):
                    changes[key] = now - timedelta(days=2 + moved)
                changes["history"] = [{**h, "at": h["at"] - shift} for h in doc.get("history", [])]
                changes["pauses"] = [
                    {**p, "start": p["start"] - shift, "end": p["end"] - shift if p.get("end") else None}
                    for p in doc.get("pauses", [])
                ]
                dossiers.update_one({"_id": r.id}, {"$set": changes})
                moved += 1
                self.say(f"Hồ sơ {r.code} được lùi ngày tiếp nhận 3 tuần (dữ liệu thử nghiệm)")
        flagged = self.call("intake", "POST", "/admin/late-scan", Role.UNIT_ADMIN)
        self.say(f"Quét trễ hạn: {flagged.get('flagged', 0)} hồ sơ bị đánh dấu trễ hạn")

    def ratings(self) -> None:
        returned = [r for r in self.received if r.code and r.procedure in ("1.001193", "2.000815")]
        for r, level in zip(returned, ("very_satisfied", "satisfied"), strict=False):
            self.call(
                "intake",
                "POST",
                "/counter/ratings",
                Role.RECEPTION_OFFICER,
                json={
                    "dossier_code": r.code,
                    "level": level,
                    "device_id": "quay-1",
                    "indicators": {"staff_attitude": 2, "counter_model": 2, "publicity": 1},
                },
            )
            self.say(f"{r.citizen.name} đánh giá trên thiết bị tại quầy: {level}")
        single = next((r for r in self.received if r.procedure == "1.004873" and r.code), None)
        if single:
            self.call(
                "intake",
                "POST",
                "/public/ratings",
                json={
                    "dossier_code": single.code,
                    "last4": single.citizen.phone[-4:],
                    "level": "unsatisfied",
                    "comment": "Phải chờ lâu ở quầy",
                    "indicators": {"contacts": 1, "staff_attitude": 1},
                },
            )
            self.say(f"{single.citizen.name} đánh giá trực tuyến: không hài lòng")
        fb = self.call(
            "intake",
            "POST",
            "/public/feedback",
            json={
                "channel": "web",
                "unit_code": UNIT,
                "name": CITIZENS[5].name,
                "address": CITIZENS[5].address,
                "phone": CITIZENS[5].phone,
                "summary": "Đề nghị bố trí thêm ghế chờ tại sảnh",
                "content": "Buổi sáng đông người, người cao tuổi phải đứng chờ.",
            },
        )
        self.say(f"Phản ánh, kiến nghị số {fb.get('reference')}")

    def summary(self) -> None:
        portal = self.urls.get("portal", "")
        self.out("\nXem trên cổng (đăng nhập thử nghiệm tại /dang-nhap, đơn vị 30307):")
        for path, what in (
            ("/quay", "quầy tiếp nhận"),
            ("/ho-so", "hồ sơ (trễ hạn, chờ bổ sung, chờ trả kết quả…)"),
            (f"/kiosk/{self.office}", "kiosk lấy số"),
            (f"/bang-hien-thi/{self.office}", "bảng hiển thị"),
            ("/tra-cuu", "tra cứu của công dân"),
            ("/thong-ke", "thống kê (đăng nhập quản trị, đơn vị 91)"),
            ("/dev/mailbox", "thư đã gửi"),
        ):
            self.out(f"  {portal}{path}  — {what}")
        for r in self.received[:4]:
            if r.code:
                self.out(f"  {portal}/tra-cuu?code={r.code}  — 4 số: {r.citizen.phone[-4:]}")
        self.out(f"\n{len(self.done)} cảnh hoàn tất, {len(self.skipped)} cảnh chưa chạy được.")
        for s in self.skipped:
            self.out(f"  ⚠ {s}")


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("MOTCUA_DATA_DIR", "var"))


def _state(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "run" / "stack.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        raise SystemExit(f"no running stack ({path} missing): start it with `motcua up` first") from None
    return data


def _secret(data_dir: Path) -> str:
    secret = os.environ.get("MOTCUA_AUTH_DEV_SECRET")
    if secret:
        return secret
    path = data_dir / "secrets" / "auth-dev-secret"
    if not path.exists():
        raise SystemExit("no dev secret: start the stack with `motcua up` first or set MOTCUA_AUTH_DEV_SECRET")
    return path.read_text().strip()


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data-dir", default=None, help="the running stack's data directory (default ./var)")
    parser.add_argument("--office", default=OFFICE)
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between steps (to watch the board)")
    parser.add_argument("--keep-calendar", action="store_true", help="do not make today a No-writing day")
    parser.add_argument("--no-late", action="store_true", help="do not backdate dossiers to make them late")
    return parser


def register(sub: Any) -> None:
    """Add `motcua demo` to the launcher's sub-commands (`sub` from `add_subparsers`)."""
    _arguments(sub.add_parser("demo", help="play a day at a commune office against the running stack")).set_defaults(
        func=run
    )


def main(argv: list[str] | None = None) -> int:
    return run(_arguments(argparse.ArgumentParser(prog="motcua demo", description=__doc__)).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args.data_dir)
    demo = Demo(_state(data_dir), _secret(data_dir), office=args.office, pace_s=args.pace, out=print)
    started = datetime.now(UTC)
    print(f"Một Cửa — một ngày tại bộ phận một cửa ({date.today():%d/%m/%Y})")
    try:
        demo.prepare()
    except (DemoError, httpx.HTTPError) as exc:
        print(f"cannot start: {exc}")
        return 1
    demo.scene("Ngày không viết, ngày không hẹn", lambda: demo.model_day(args.keep_calendar))
    demo.scene("Buổi sáng: công dân lấy số", demo.morning_tickets)
    demo.scene("Lịch hẹn trực tuyến", demo.appointment)
    demo.scene("Quầy 1: hộ tịch, chứng thực", demo.counter_one)
    demo.scene("Quầy 2: cư trú", demo.counter_two)
    demo.scene("Quầy 3: xây dựng, kinh doanh", demo.counter_three)
    demo.scene("Quầy 4: bảo trợ xã hội", demo.counter_four)
    demo.scene("Hồ sơ nộp trực tuyến", demo.online)
    demo.scene("Giải quyết và trả kết quả", demo.processing)
    demo.scene("Bưu chính: nhận hồ sơ tại nhà, trả kết quả qua bưu điện", demo.postal)
    if not args.no_late:
        demo.scene("Hồ sơ trễ hạn", demo.late)
    demo.scene("Đánh giá và phản ánh", demo.ratings)
    demo.summary()
    print(f"({(datetime.now(UTC) - started).total_seconds():.0f} giây)")
    demo.http.close()
    return 0 if not demo.skipped else 2
