"""VNPay signing and IPN rules (DOMAIN §7), with known-answer vectors built by hand from the spec."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.payments.model import vnpay
from services.payments.model.callbacks import Outcome
from services.payments.model.intent import Actor, Channel, Item, Payer, PaymentIntent

SECRET = "SECRETKEY0123456789ABCDEFGHIJKLM"
NOW = datetime(2026, 1, 13, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam

PARAMS = {
    "vnp_Version": "2.1.0",
    "vnp_Command": "pay",
    "vnp_TmnCode": "MOTCUA01",
    "vnp_Amount": "15000000",
    "vnp_CurrCode": "VND",
    "vnp_TxnRef": "MC0123456789",
    "vnp_OrderInfo": "Thanh toan phi ho so 000.00.12.H01-260113-0042",
    "vnp_OrderType": "other",
    "vnp_Locale": "vn",
    "vnp_ReturnUrl": "https://motcua.example.vn/callbacks/vnpay/return",
    "vnp_IpAddr": "127.0.0.1",
    "vnp_CreateDate": "20260113083000",
    "vnp_BankCode": "",  # empty: not signed
    "vnp_SecureHashType": "HmacSHA512",  # never signed
}

# Sorted by key (ASCII), non-empty vnp_* only, urlencode(k)=urlencode(v) with space → '+', '/' and ':' escaped.
HAND_BUILT = (
    "vnp_Amount=15000000&vnp_Command=pay&vnp_CreateDate=20260113083000&vnp_CurrCode=VND&vnp_IpAddr=127.0.0.1"
    "&vnp_Locale=vn&vnp_OrderInfo=Thanh+toan+phi+ho+so+000.00.12.H01-260113-0042&vnp_OrderType=other"
    "&vnp_ReturnUrl=https%3A%2F%2Fmotcua.example.vn%2Fcallbacks%2Fvnpay%2Freturn&vnp_TmnCode=MOTCUA01"
    "&vnp_TxnRef=MC0123456789&vnp_Version=2.1.0"
)
# HMAC-SHA512(SECRET, HAND_BUILT), hex.
KNOWN_HASH = (
    "9e615828bcbf464d191ec52108557af868e0879527e89e7c51666e4f841194363433f2397dbc77c69aa36a2c3f26c6297638f9371c98aeee"
    "1a174be527cdf315"
)


def test_hash_data_follows_the_spec_exactly() -> None:
    assert vnpay.hash_data(PARAMS) == HAND_BUILT


def test_known_answer_signature() -> None:
    by_hand = hmac.new(SECRET.encode(), HAND_BUILT.encode(), hashlib.sha512).hexdigest()
    assert by_hand == KNOWN_HASH
    assert vnpay.sign(PARAMS, SECRET) == KNOWN_HASH


def test_secure_hash_itself_and_non_vnp_params_are_not_signed() -> None:
    extra = {**PARAMS, "vnp_SecureHash": "whatever", "utm_source": "zalo"}
    assert vnpay.sign(extra, SECRET) == KNOWN_HASH


def test_verification_is_case_insensitive_and_rejects_tampering() -> None:
    signed = {**PARAMS, "vnp_SecureHash": KNOWN_HASH.upper()}
    assert vnpay.verify(signed, SECRET)
    assert not vnpay.verify({**signed, "vnp_Amount": "15000100"}, SECRET)
    assert not vnpay.verify({**signed, "vnp_SecureHash": ""}, SECRET)
    assert not vnpay.verify(signed, "another-secret")


def test_times_are_gmt7_and_amounts_times_100() -> None:
    assert vnpay.format_time(NOW) == "20260113083000"
    assert vnpay.parse_time("20260113083000") == NOW
    assert vnpay.to_vnp_amount(150_000) == "15000000"
    assert vnpay.from_vnp_amount("15000000") == 150_000
    assert vnpay.from_vnp_amount("15000050") is None  # not whole đồng
    assert vnpay.from_vnp_amount("abc") is None
    with pytest.raises(ValueError):
        vnpay.format_time(datetime(2026, 1, 13, 8, 30))  # naive


def test_payment_url_is_signed_and_round_trips() -> None:
    params = vnpay.payment_params(
        tmn_code="MOTCUA01", txn_ref="MC0123456789", amount_vnd=150_000,
        order_info="Thanh toan phi ho so 000.00.12.H01-260113-0042",
        return_url="https://motcua.example.vn/callbacks/vnpay/return", ip_addr="127.0.0.1",
        created_at=NOW, expires_at=NOW + timedelta(minutes=15),
    )
    assert params["vnp_ExpireDate"] == "20260113084500"
    url = vnpay.payment_url("https://sandbox.vnpayment.vn/paymentv2/vpcpay.html", params, SECRET)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["vnp_OrderInfo"] == "Thanh toan phi ho so 000.00.12.H01-260113-0042"
    assert vnpay.verify(query, SECRET)


def _intent(amount: int = 150_000) -> PaymentIntent:
    intent = PaymentIntent.open(
        dossier_id="d1", dossier_code="000.00.12.H01-260113-0042", unit_code="30280", unit_path=["30280", "91"],
        payer=Payer(name="Nguyễn Văn A"), items=[Item(kind="fee", name="Lệ phí", amount=amount)],
        now=NOW, ttl=timedelta(minutes=15),
    )
    intent.ref = "MC0123456789"
    return intent


def _ipn(amount_vnd: int = 150_000, response: str = "00", status: str = "00", ref: str = "MC0123456789",
         secret: str = SECRET) -> dict[str, str]:
    params = {
        "vnp_Amount": str(amount_vnd * 100), "vnp_BankCode": "NCB", "vnp_OrderInfo": "Thanh toan",
        "vnp_PayDate": "20260113083500", "vnp_ResponseCode": response, "vnp_TmnCode": "MOTCUA01",
        "vnp_TransactionNo": "14226112", "vnp_TransactionStatus": status, "vnp_TxnRef": ref,
    }
    params["vnp_SecureHash"] = vnpay.sign(params, secret)
    return params


def test_ipn_paid_only_when_both_codes_are_00() -> None:
    decision = vnpay.decide_ipn(_ipn(), SECRET, _intent())
    assert decision.reply == {"RspCode": "00", "Message": "Confirm Success"}
    assert decision.outcome is Outcome.PAID
    for response, status in (("24", "02"), ("00", "02"), ("51", "00")):
        failed = vnpay.decide_ipn(_ipn(response=response, status=status), SECRET, _intent())
        assert failed.code is vnpay.RspCode.CONFIRMED and failed.outcome is Outcome.FAILED


def test_ipn_tampered_hash_answers_97() -> None:
    params = _ipn()
    params["vnp_Amount"] = "100"  # changed after signing
    assert vnpay.decide_ipn(params, SECRET, _intent()).reply["RspCode"] == "97"
    assert vnpay.decide_ipn(_ipn(secret="forger"), SECRET, _intent()).reply["RspCode"] == "97"
    missing = {k: v for k, v in _ipn().items() if k != "vnp_SecureHash"}
    assert vnpay.decide_ipn(missing, SECRET, _intent()).code is vnpay.RspCode.INVALID_SIGNATURE


def test_ipn_unknown_order_answers_01() -> None:
    assert vnpay.decide_ipn(_ipn(ref="MC9999999999"), SECRET, None).reply["RspCode"] == "01"


def test_ipn_wrong_amount_answers_04() -> None:
    decision = vnpay.decide_ipn(_ipn(amount_vnd=15_000), SECRET, _intent())
    assert decision.reply["RspCode"] == "04" and decision.outcome is Outcome.NONE
    assert decision.decision.alert == "amount_mismatch"


def test_ipn_duplicate_answers_02() -> None:
    intent = _intent()
    intent.pay(channel=Channel.VNPAY, amount=150_000, now=NOW, by=Actor(subject="system:vnpay"),
               provider_txn="14226112")
    decision = vnpay.decide_ipn(_ipn(), SECRET, intent)
    assert decision.reply == {"RspCode": "02", "Message": "Order already confirmed"}
    assert decision.outcome is Outcome.NONE and decision.decision.alert is None


def test_query_and_refund_checksums_are_pipe_joined() -> None:
    body = vnpay.query_request(tmn_code="MOTCUA01", secret=SECRET, request_id="r1", txn_ref="MC0123456789",
                               transaction_date=NOW, now=NOW, ip_addr="10.0.0.1", order_info="Truy van")
    data = "r1|2.1.0|querydr|MOTCUA01|MC0123456789|20260113083000|20260113083000|10.0.0.1|Truy van"
    assert body["vnp_SecureHash"] == hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest()
    assert vnpay.verify_pipe_hash(body, vnpay.QUERY_REQUEST_FIELDS, SECRET)
    refund = vnpay.refund_request(tmn_code="MOTCUA01", secret=SECRET, request_id="r2", txn_ref="MC0123456789",
                                  amount_vnd=50_000, whole=False, transaction_no="14226112", transaction_date=NOW,
                                  created_by="cashier-1", now=NOW, ip_addr="10.0.0.1", order_info="Hoan tien")
    assert refund["vnp_TransactionType"] == "03" and refund["vnp_Amount"] == "5000000"
    assert vnpay.verify_pipe_hash(refund, vnpay.REFUND_REQUEST_FIELDS, SECRET)
    assert not vnpay.verify_pipe_hash({**refund, "vnp_Amount": "15000000"}, vnpay.REFUND_REQUEST_FIELDS, SECRET)
