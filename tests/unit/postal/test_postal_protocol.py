"""Webhook signatures (constant time, replays), S10 item codes and the VNPost-style adapter's reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from services.postal.adapters.base import WebhookRejected
from services.postal.adapters.vnpost import VNPostAdapter, VNPostConfig
from services.postal.model import s10
from services.postal.model.signatures import Verdict, sign_body, verify_body
from services.postal.model.status import ShipmentStatus

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
SECRET = "webhook-secret-0123456789"


def test_signatures_verify_and_refuse_forgeries_and_replays() -> None:
    body = b'{"a":1}'
    sig = sign_body(SECRET, TS, body)
    assert verify_body(SECRET, str(TS), body, sig, now=NOW) is Verdict.OK
    assert verify_body(SECRET, str(TS), body, sig.upper(), now=NOW) is Verdict.OK
    assert verify_body(SECRET, str(TS), b'{"a":2}', sig, now=NOW) is Verdict.BAD_SIGNATURE
    assert verify_body("other", str(TS), body, sig, now=NOW) is Verdict.BAD_SIGNATURE
    assert verify_body(SECRET, str(TS + 1), body, sig, now=NOW) is Verdict.BAD_SIGNATURE
    assert verify_body(SECRET, "abc", body, sig, now=NOW) is Verdict.BAD_SIGNATURE
    assert verify_body(SECRET, None, body, sig, now=NOW) is Verdict.MISSING
    assert verify_body("", str(TS), body, sig, now=NOW) is Verdict.MISSING
    old = TS - 3600
    assert verify_body(SECRET, str(old), body, sign_body(SECRET, old, body), now=NOW) is Verdict.STALE


def test_s10_check_digits() -> None:
    assert s10.check_digit("47312482") == 9  # the UPU S10 standard example RB473124829GB
    assert s10.is_valid("RB473124829GB")
    code = s10.make("EB", 12345678)
    assert s10.is_valid(code) and code.startswith("EB12345678") and code.endswith("VN")
    assert not s10.is_valid(code[:10] + str((int(code[10]) + 1) % 10) + "VN")
    assert not s10.is_valid("EB1234VN")


def _adapter() -> VNPostAdapter:
    return VNPostAdapter(
        VNPostConfig(api_url="http://operator", customer_code="MC", token="t", webhook_secret=SECRET),
        httpx.AsyncClient(),
    )


def _webhook(**fields: object) -> bytes:
    data = {
        "CustomerCode": "MC",
        "EventId": "EV1",
        "ItemCode": "EB100000015VN",
        "OrderCode": "dl1",
        "StatusCode": "550",
        "Attempt": 1,
        "ReasonCode": "R01",
        "Note": "",
        "EventTime": "2026-03-02T10:00:00+07:00",
    }
    data.update(fields)
    return json.dumps(data).encode()


def test_the_adapter_reads_a_signed_webhook_into_our_statuses() -> None:
    body = _webhook()
    event = _adapter().read_webhook(
        body, {"x-postal-timestamp": str(TS), "x-postal-signature": sign_body(SECRET, TS, body)}, now=NOW
    )
    assert event.status is ShipmentStatus.FAILED and event.attempt == 1 and event.reason_code == "recipient_absent"
    assert event.tracking_number == "EB100000015VN" and event.at == NOW


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (_webhook(), {}, "missing_signature"),
        (_webhook(), {"x-postal-timestamp": str(TS), "x-postal-signature": "0" * 64}, "bad_signature"),
        (_webhook(StatusCode="123"), None, "unreadable"),
        (_webhook(CustomerCode="OTHER"), None, "wrong_customer"),
        (b"[1, 2]", None, "unreadable"),
    ],
)
def test_the_adapter_rejects_what_it_cannot_trust(body: bytes, headers: dict[str, str] | None, reason: str) -> None:
    headers = (
        headers
        if headers is not None
        else {"x-postal-timestamp": str(TS), "x-postal-signature": sign_body(SECRET, TS, body)}
    )
    with pytest.raises(WebhookRejected) as exc:
        _adapter().read_webhook(body, headers, now=NOW)
    assert exc.value.reason == reason
