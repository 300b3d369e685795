"""Sample values for postal unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.postal.model.common import Actor, Address, Applicant, Component, ComponentCheck, Contact
from services.postal.model.pickup import PickupOrder, PostalOption, RequestChannel
from services.postal.model.tariff import Tariff

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
UNIT_PATH = ["30280", "91"]
WORKER = Actor(subject="bd-01", name="Trần Văn Bưu", role="postal_agent", unit_code="30280")
OFFICER = Actor(subject="mc-01", name="Lê Thị Một Cửa", role="reception_officer", unit_code="30280")
TARIFF = Tariff()

HOME = Address(province_code="91", province="An Giang", commune="Phường Mỹ Bình", street="12 Trần Hưng Đạo")
FAR = Address(province_code="79", province="TP. Hồ Chí Minh", commune="Phường Bến Nghé", street="1 Lê Lợi")
CONTACT = Contact(name="Nguyễn Văn An", phone="+84 987 654 321")
APPLICANT = Applicant(full_name="Nguyễn Văn An", id_number="089203004567", phone="0987654321")
COMPONENTS = [
    Component(component_id="to_khai", name="Tờ khai đăng ký khai sinh", count=1),
    Component(component_id="giay_chung_sinh", name="Giấy chứng sinh", count=1),
    Component(component_id="ban_sao", name="Bản sao giấy tờ khác", count=1, required=False),
]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pickup(option: PostalOption = PostalOption.BOTH, **overrides: object) -> PickupOrder:
    values: dict[str, object] = {
        "id": "p1",
        "ref": "BC260302-ABCDEF",
        "option": option,
        "via": RequestChannel.ONLINE,
        "by": None,
        "office_id": "ubnd-my-binh",
        "office_name": "UBND phường Mỹ Bình",
        "unit_path": UNIT_PATH,
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "applicant": APPLICANT,
        "contact": CONTACT,
        "pickup_address": HOME,
        "return_address": None,
        "return_contact": None,
        "components": COMPONENTS,
        "form_data": {"ho_ten_tre": "Nguyễn Văn Bình"},
        "dossier_id": "d" * 32,
        "dossier_code": None,
        "preferred_time": "sáng thứ Hai",
        "note": "",
        "now": T0,
    }
    values.update(overrides)
    return PickupOrder.request(**values)  # type: ignore[arg-type]


def all_present() -> list[ComponentCheck]:
    return [ComponentCheck(component_id=c.component_id, present=True, count=c.count) for c in COMPONENTS]


def collected(
    option: PostalOption = PostalOption.BOTH, pickup_id: str = "p1", slip: str = "EP100000015VN"
) -> PickupOrder:
    order = pickup(option, id=pickup_id)
    order.scheduled(operator="vnpost", order_code=pickup_id, tracking_number=slip, now=at(1))
    order.check_papers(all_present(), by=WORKER, now=at(60))
    order.sign_slip(
        worker=WORKER,
        sender_name="Nguyễn Văn An",
        sender_method="signature",
        seal_number="NP-001",
        collected_fees=[],
        prepay_return=False,
        tariff=TARIFF,
        receipt_number="BC/26-30280-000001",
        slip_number=None,
        now=at(61),
    )
    return order
