"""Which event notifies whom, on which channels."""

from __future__ import annotations

from datetime import UTC, datetime

from services.contracts.events import (
    ApplicantContact,
    DossierReceived,
    DossierReceivedPayload,
    DossierResultReady,
    DossierResultReadyPayload,
    DossierStatusChanged,
    DossierStatusChangedPayload,
)
from services.contracts.payments import PaymentPaid, PaymentPayload
from services.notify.model.common import Channel, Purpose, RecipientRole
from services.notify.model.routing import (
    Audience,
    Contact,
    LooseEvent,
    dossier_notices,
    payment_notices,
    routes,
    shipment_notices,
)

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
APPLICANT = ApplicantContact(name="Trần Thị B", email="b@example.vn", phone="0987654321")
REF = {
    "dossier_id": "d1",
    "dossier_code": "C-1",
    "procedure_code": "1.001193",
    "procedure_name": "Đăng ký khai sinh",
    "office_id": "o1",
    "channel": "counter",
    "applicant": APPLICANT,
    "status": "resolved",
    "due_at": T0,
}
ALL = frozenset(Channel)


def test_a_received_dossier_is_an_essential_notice_to_the_applicant() -> None:
    event = DossierReceived(
        unit_code="30307",
        payload=DossierReceivedPayload(
            dossier_id="d1",
            dossier_code="C-1",
            procedure_code="p",
            procedure_name="P",
            office_id="o1",
            channel="counter",
            applicant=APPLICANT,
            received_at=T0,
        ),
    )
    [notice] = dossier_notices(event)
    assert notice.template_key == "dossier_received" and notice.essential and notice.audience is Audience.APPLICANT
    assert notice.variables["recipient_name"] == "Trần Thị B" and notice.variables["received_at"] == T0
    assert "applicant" not in notice.variables


def test_a_postal_result_also_tells_the_offices_postal_workers() -> None:
    ready = DossierResultReady(unit_code="30307", payload=DossierResultReadyPayload(**REF, return_channel="postal"))
    applicant, postal = dossier_notices(ready)
    assert (applicant.template_key, applicant.essential) == ("result_ready", False)
    assert postal.audience is Audience.POSTAL_WORKERS and postal.role is RecipientRole.POSTAL_WORKER
    assert postal.variables["applicant_phone"] == "0987654321" and postal.office_id == "o1"
    counter = DossierResultReady(unit_code="30307", payload=DossierResultReadyPayload(**REF))
    assert len(dossier_notices(counter)) == 1


def test_status_changes_notify_only_the_configured_statuses() -> None:
    changed = DossierStatusChanged(
        unit_code="30307", payload=DossierStatusChangedPayload(**{**REF, "status": "processing"})
    )
    assert dossier_notices(changed, notify_statuses=frozenset({"suspended"})) == []
    suspended = changed.model_copy(update={"payload": changed.payload.model_copy(update={"status": "suspended"})})
    [notice] = dossier_notices(suspended, notify_statuses=frozenset({"suspended"}))
    assert notice.variables["status_label"] == "Tạm dừng"


def test_a_paid_fee_sends_the_payer_a_receipt() -> None:
    paid = PaymentPaid(
        unit_code="30307",
        payload=PaymentPayload(
            intent_id="i",
            intent_ref="R",
            dossier_id="d1",
            dossier_code="C-1",
            status="paid",
            amount=58000,
            receipt_no="0001",
            payer=APPLICANT,
        ),
    )
    [notice] = payment_notices(paid)
    assert notice.purpose is Purpose.PAYMENT and notice.variables["amount"] == 58000
    assert payment_notices(paid.model_copy(update={"payload": paid.payload.model_copy(update={"payer": None})})) == []


def test_shipment_events_are_read_generically() -> None:
    event = LooseEvent.model_validate(
        {
            "type": "shipment.out_for_delivery",
            "unit_code": "30307",
            "schema_version": 3,
            "payload": {
                "recipient": {"full_name": "Trần Thị B", "phone_number": "0987654321"},
                "tracking_number": "EB1VN",
                "dossier_code": "C-1",
                "legs": [{"x": 1}],
                "new_field": 7,
            },
        }
    )
    [notice] = shipment_notices(event)
    assert notice.variables["shipment_status"] == "out_for_delivery"
    assert notice.variables["shipment_status_label"] == "Đang phát" and notice.variables["tracking_code"] == "EB1VN"
    assert notice.contact is not None and notice.contact.phone_number == "84987654321"
    assert "legs" not in notice.variables["shipment"]
    no_contact = LooseEvent.model_validate({"type": "shipment.created", "unit_code": "1", "payload": {"x": 1}})
    assert shipment_notices(no_contact) == []


def test_channel_routes() -> None:
    both = Contact(name="A", email="a@example.vn", phone="0987654321")
    assert routes(both, RecipientRole.APPLICANT, ALL) == [[Channel.EMAIL], [Channel.ZALO, Channel.SMS]]
    assert routes(both, RecipientRole.APPLICANT, frozenset({Channel.EMAIL})) == [[Channel.EMAIL]]
    assert routes(both, RecipientRole.APPLICANT, frozenset({Channel.EMAIL, Channel.SMS})) == [
        [Channel.EMAIL],
        [Channel.SMS],
    ]
    officer = Contact(name="O", email="o@example.vn", phone="0912345678", channels=[Channel.SMS])
    assert routes(officer, RecipientRole.OFFICER, ALL) == [[Channel.SMS]]
    bad_phone = Contact(name="X", phone="12345")
    assert routes(bad_phone, RecipientRole.APPLICANT, ALL) == []
