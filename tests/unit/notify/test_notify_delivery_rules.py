"""A delivery's life: retries with back-off, fallback, receipts; keys and contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.contracts.events import ANONYMISED_NAME
from services.notify.model.common import (
    DeliveryStatus,
    contact_key,
    delivery_id,
    delivery_key,
    format_vnd,
    mask_contact,
    normalize_phone,
)
from services.notify.model.delivery import (
    OutcomeKind,
    ReceiptStatus,
    RetryPolicy,
    SendOutcome,
    after_attempt,
    after_receipt,
    erasure_of,
)

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
POLICY = RetryPolicy(backoff_s=(30, 120, 600), max_attempts=4)


def test_retry_schedule_backs_off_and_stops() -> None:
    assert [POLICY.next_attempt_at(T0, n) for n in (1, 2, 3, 4)] == [
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=120),
        T0 + timedelta(seconds=600),
        None,
    ]
    assert RetryPolicy(backoff_s=(30,), max_attempts=9).next_attempt_at(T0, 5) == T0 + timedelta(seconds=30)
    assert POLICY.next_attempt_at(T0, 1, retry_after_s=300) == T0 + timedelta(seconds=300)  # Retry-After wins


def test_provider_answers_map_to_statuses() -> None:
    def after(kind: OutcomeKind, attempts: int = 1) -> tuple[DeliveryStatus, datetime | None, bool]:
        t = after_attempt(SendOutcome(kind=kind, detail="x"), attempts_done=attempts, now=T0, policy=POLICY)
        return t.status, t.next_attempt_at, t.fall_back

    assert after(OutcomeKind.ACCEPTED) == (DeliveryStatus.SENT, None, False)
    assert after(OutcomeKind.DELIVERED) == (DeliveryStatus.DELIVERED, None, False)
    assert after(OutcomeKind.TEMPORARY) == (DeliveryStatus.TEMPORARY_FAILURE, T0 + timedelta(seconds=30), False)
    assert after(OutcomeKind.TECHNICAL, 2) == (DeliveryStatus.TECHNICAL_FAILURE, T0 + timedelta(seconds=120), False)
    assert after(OutcomeKind.TECHNICAL, 4) == (DeliveryStatus.TECHNICAL_FAILURE, None, True)  # used up: fall back
    assert after(OutcomeKind.PERMANENT) == (DeliveryStatus.PERMANENT_FAILURE, None, True)


def test_a_wrong_number_is_not_the_providers_fault() -> None:
    assert SendOutcome(kind=OutcomeKind.PERMANENT).provider_ok
    assert not SendOutcome(kind=OutcomeKind.TEMPORARY).provider_ok
    assert not SendOutcome(kind=OutcomeKind.TECHNICAL).provider_ok


def test_receipts_move_only_deliveries_waiting_for_one() -> None:
    def receipt(current: DeliveryStatus, status: ReceiptStatus) -> DeliveryStatus | None:
        t = after_receipt(current, status, attempts_done=1, now=T0, policy=POLICY)
        return t.status if t else None

    assert receipt(DeliveryStatus.SENT, ReceiptStatus.DELIVERED) is DeliveryStatus.DELIVERED
    assert receipt(DeliveryStatus.SENDING, ReceiptStatus.DELIVERED) is DeliveryStatus.DELIVERED  # receipt came first
    assert receipt(DeliveryStatus.DELIVERED, ReceiptStatus.DELIVERED) is None  # a duplicate receipt
    assert receipt(DeliveryStatus.DELIVERED, ReceiptStatus.FAILED) is None
    assert receipt(DeliveryStatus.SENT, ReceiptStatus.FAILED) is DeliveryStatus.PERMANENT_FAILURE
    expired = after_receipt(DeliveryStatus.SENT, ReceiptStatus.EXPIRED, attempts_done=1, now=T0, policy=POLICY)
    assert expired is not None and expired.next_attempt_at == T0 + timedelta(seconds=30)


def test_one_key_per_event_channel_and_recipient() -> None:
    key = delivery_key("e1", "email", "An@Example.VN")
    assert key == "e1:email:an@example.vn"
    assert delivery_id(key) == delivery_id("e1:email:an@example.vn") != delivery_id("e1:sms:an@example.vn")
    assert len(delivery_id(key)) == 32


def test_contacts_are_normalised() -> None:
    assert normalize_phone("0987 654 321") == normalize_phone("+84987654321") == "84987654321"
    assert normalize_phone("0212345678") is None and normalize_phone("") is None
    assert contact_key(" An@Example.vn") == "an@example.vn" and contact_key("0912.345.678") == "84912345678"
    assert mask_contact("84987654321") == "8498*****21" and mask_contact("an@example.vn") == "a***@example.vn"
    assert format_vnd(1500000) == "1.500.000 đồng"


def test_erasure_takes_the_applicants_address_and_every_text_and_withdraws_what_waits() -> None:
    key = delivery_key("ev1", "sms", "84912777888")
    sent = {"_id": delivery_id(key), "key": key, "event_id": "ev1", "channel": "sms", "role": "applicant",
            "status": DeliveryStatus.DELIVERED.value}
    fields, history = erasure_of(sent, T0)
    assert fields["recipient"] == fields["recipient_name"] == ANONYMISED_NAME
    assert "84912777888" not in fields["key"] and fields["key"].startswith("ev1:sms:erased:")
    assert fields["body"] == "" and fields["subject"] is None and fields["params"] == fields["alternates"] == {}
    assert history is None and "status" not in fields  # what happened stays as it was
    assert fields["anonymised_at"] == T0

    to_officer = {**sent, "role": "officer", "status": DeliveryStatus.SCHEDULED.value}
    fields, history = erasure_of(to_officer, T0)
    assert "recipient" not in fields and "key" not in fields and fields["body"] == ""  # the officer's own address
    assert fields["status"] == DeliveryStatus.SKIPPED.value and fields["next_attempt_at"] is None
    assert history is not None and history["status"] == DeliveryStatus.SKIPPED.value
