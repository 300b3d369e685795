"""The payment intent state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.payments.model.callbacks import CallbackCode, Outcome, ProviderResult, decide
from services.payments.model.intent import (
    Actor,
    AmountMismatch,
    Channel,
    InvalidTransition,
    Item,
    Payer,
    PaymentError,
    PaymentIntent,
    PaymentStatus,
    new_ref,
)
from services.payments.model.receipt import make_receipt

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CASHIER = Actor(subject="cashier-1", name="Lê Thị Thu")


def _intent() -> PaymentIntent:
    return PaymentIntent.open(
        dossier_id="d1", dossier_code="X-260302-0001", unit_code="30280", unit_path=["30280", "91"],
        payer=Payer(name="Trần Văn B"), now=NOW, ttl=timedelta(minutes=15),
        items=[Item(kind="fee", name="Phí thẩm định", amount=100_000),
               Item(kind="charge", name="Lệ phí cấp giấy", amount=50_000)],
    )


def test_open_totals_items_and_starts_pending() -> None:
    intent = _intent()
    assert intent.amount == 150_000 and intent.status is PaymentStatus.PENDING
    assert intent.expires_at == NOW + timedelta(minutes=15)
    assert intent.ref.startswith("MC") and len(intent.ref) == 12
    assert intent.history[0].to_status is PaymentStatus.PENDING
    with pytest.raises(PaymentError):
        PaymentIntent.open(dossier_id="d", dossier_code="c", unit_code="1", unit_path=[], payer=Payer(name="A"),
                           items=[Item(kind="fee", name="free", amount=0)], now=NOW, ttl=timedelta(minutes=1))


def test_refs_are_distinct() -> None:
    assert len({new_ref() for _ in range(1000)}) == 1000


def test_pay_exact_amount_only() -> None:
    intent = _intent()
    with pytest.raises(AmountMismatch):
        intent.pay(channel=Channel.CASH, amount=149_000, now=NOW, by=CASHIER)
    assert intent.status is PaymentStatus.PENDING
    intent.pay(channel=Channel.CASH, amount=150_000, now=NOW, by=CASHIER)
    assert intent.status is PaymentStatus.PAID and intent.collected_by == CASHIER


@pytest.mark.parametrize("first", ["pay", "fail", "expire", "cancel"])
def test_only_pending_leaves_pending(first: str) -> None:
    intent = _intent()
    later = NOW + timedelta(hours=1)
    {
        "pay": lambda: intent.pay(channel=Channel.POS, amount=150_000, now=later, by=CASHIER),
        "fail": lambda: intent.fail(channel=Channel.POS, reason="declined", now=later, by=CASHIER),
        "expire": lambda: intent.expire(now=later),
        "cancel": lambda: intent.cancel(reason="sai phí", now=later, by=CASHIER),
    }[first]()
    with pytest.raises(InvalidTransition):
        intent.pay(channel=Channel.CASH, amount=150_000, now=later, by=CASHIER)
    with pytest.raises(InvalidTransition):
        intent.cancel(reason="x", now=later, by=CASHIER)
    with pytest.raises(InvalidTransition):
        intent.expire(now=later)


def test_expire_only_after_expiry_time() -> None:
    intent = _intent()
    with pytest.raises(InvalidTransition):
        intent.expire(now=NOW + timedelta(minutes=14))
    assert not intent.is_due_to_expire(NOW + timedelta(minutes=14))
    assert intent.is_due_to_expire(NOW + timedelta(minutes=15))
    intent.expire(now=NOW + timedelta(minutes=15))
    assert intent.status is PaymentStatus.EXPIRED


def test_refund_partial_then_whole() -> None:
    intent = _intent()
    with pytest.raises(InvalidTransition):
        intent.refund(amount=10_000, reason="x", now=NOW, by=CASHIER)  # not paid yet
    intent.pay(channel=Channel.VNPAY, amount=150_000, now=NOW, by=CASHIER)
    with pytest.raises(PaymentError, match="At most 150000"):
        intent.refund(amount=150_001, reason="x", now=NOW, by=CASHIER)
    with pytest.raises(PaymentError):
        intent.refund(amount=0, reason="x", now=NOW, by=CASHIER)
    intent.refund(amount=50_000, reason="thu thừa lệ phí", now=NOW, by=CASHIER)
    assert intent.status is PaymentStatus.PARTIALLY_REFUNDED and intent.refundable == 100_000
    intent.refund(amount=100_000, reason="rút hồ sơ", now=NOW, by=CASHIER)
    assert intent.status is PaymentStatus.REFUNDED and intent.refunded_amount == 150_000
    with pytest.raises(InvalidTransition):
        intent.refund(amount=1, reason="x", now=NOW, by=CASHIER)
    with pytest.raises(InvalidTransition):
        intent.cancel(reason="x", now=NOW, by=CASHIER)


def test_receipt_once_and_only_when_paid() -> None:
    intent = _intent()
    receipt = make_receipt("30280", 1, NOW)
    with pytest.raises(InvalidTransition):
        intent.issue_receipt(receipt)
    intent.pay(channel=Channel.CASH, amount=150_000, now=NOW, by=CASHIER)
    intent.issue_receipt(receipt)
    assert intent.receipt is not None and intent.receipt.code == "30280-2026-0000001"
    with pytest.raises(InvalidTransition):
        intent.issue_receipt(make_receipt("30280", 2, NOW))


def test_reopen_only_closed_unpaid_intents() -> None:
    intent = _intent()
    with pytest.raises(InvalidTransition):
        intent.reopen(now=NOW, ttl=timedelta(minutes=15), by=CASHIER)
    intent.fail(channel=Channel.POS, reason="declined", now=NOW, by=CASHIER)
    again = intent.reopen(now=NOW, ttl=timedelta(minutes=15), by=CASHIER)
    assert again.status is PaymentStatus.PENDING and again.replaces == intent.id
    assert again.ref != intent.ref and again.amount == intent.amount


def test_callback_rules_for_every_channel() -> None:
    intent = _intent()
    ok = ProviderResult(authentic=True, ref=intent.ref, amount=150_000, success=True, provider_txn="T1")
    assert decide(ProviderResult(authentic=False), intent).code is CallbackCode.BAD_SIGNATURE
    assert decide(ok, None).code is CallbackCode.NOT_FOUND
    assert decide(ok, None).alert == "unmatched_payment"
    short = ProviderResult(authentic=True, ref=intent.ref, amount=100_000, success=True, provider_txn="T1")
    assert decide(short, intent).code is CallbackCode.INVALID_AMOUNT
    assert decide(ok, intent).outcome is Outcome.PAID
    intent.pay(channel=Channel.VIETQR, amount=150_000, now=NOW, by=CASHIER, provider_txn="T1")
    again = decide(ok, intent)
    assert again.code is CallbackCode.ALREADY and again.alert is None
    second_transfer = ProviderResult(authentic=True, ref=intent.ref, amount=150_000, success=True, provider_txn="T2")
    assert decide(second_transfer, intent).alert == "payment_on_closed_intent"
