"""Notify's service layer with in-memory fakes: one delivery per event and recipient."""

from datetime import UTC, datetime
from typing import Any

import pytest

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.notify.model import DeliveryStatus, OutgoingEmail
from services.notify.service import NotifyService


class FakeDeliveries:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def claim(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if record["key"] in self.records:
            return self.records[record["key"]]
        self.records[record["key"]] = dict(record)
        return None

    async def set_status(self, key: str, status: DeliveryStatus, **fields: Any) -> None:
        self.records[key].update(status=status.value, **fields)


class FakeMailer:
    sender_domain = "motcua.test"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[OutgoingEmail] = []
        self.fail = fail

    async def send(self, mail: OutgoingEmail) -> None:
        if self.fail:
            raise ConnectionError("smtp down")
        self.sent.append(mail)


def event(email: str | None = "a@example.vn") -> DossierReceived:
    return DossierReceived(
        unit_code="30307",
        unit_path=["30307", "91"],
        payload=DossierReceivedPayload(
            dossier_id="d",
            dossier_code="000.01.30.H01-260113-0001",
            procedure_code="1.001193",
            procedure_name="Đăng ký khai sinh",
            office_id="o",
            channel="counter",
            applicant=ApplicantContact(name="Nguyễn Văn A", email=email),
            received_at=datetime(2026, 1, 13, 2, 0, tzinfo=UTC),
            due_at=datetime(2026, 1, 14, 10, tzinfo=UTC),
        ),
    )


async def test_redelivered_event_sends_once_and_records_trace() -> None:
    deliveries, mailer = FakeDeliveries(), FakeMailer()
    service = NotifyService(deliveries, mailer)  # type: ignore[arg-type]
    e = event()
    await service.on_dossier_received(e, "abc123")
    await service.on_dossier_received(e, "abc123")
    assert len(mailer.sent) == 1
    record = next(iter(deliveries.records.values()))
    assert record["status"] == "sent" and record["trace_id"] == "abc123" and record["unit_path"] == ["30307", "91"]
    mail = mailer.sent[0]
    assert "000.01.30.H01-260113-0001" in mail.subject
    assert "09 giờ 00 phút, ngày 13/01/2026" in mail.body  # 02:00 UTC shown in Vietnam time
    assert mail.message_id == f"<{e.event_id}.received@motcua.test>"


async def test_no_email_address_means_no_delivery() -> None:
    deliveries, mailer = FakeDeliveries(), FakeMailer()
    assert await NotifyService(deliveries, mailer).on_dossier_received(event(None), None) is None  # type: ignore[arg-type]
    assert deliveries.records == {} and mailer.sent == []


async def test_smtp_failure_is_recorded_and_raised_for_redelivery() -> None:
    deliveries, e = FakeDeliveries(), event()
    with pytest.raises(ConnectionError):
        await NotifyService(deliveries, FakeMailer(fail=True)).on_dossier_received(e, None)  # type: ignore[arg-type]
    assert next(iter(deliveries.records.values()))["status"] == "failed"
    mailer = FakeMailer()  # the redelivery after SMTP came back
    await NotifyService(deliveries, mailer).on_dossier_received(e, None)  # type: ignore[arg-type]
    assert len(mailer.sent) == 1 and next(iter(deliveries.records.values()))["status"] == "sent"
