"""VNPay-compatible gateway protocol (DOMAIN §7). Pure: no I/O; time comes in as an argument.

Signing: every `vnp_*` parameter except `vnp_SecureHash`/`vnp_SecureHashType`, non-empty ones
only, sorted by key (ASCII), joined as `urlencode(k)=urlencode(v)` with `&` (space → `+`);
`vnp_SecureHash` = hex(HMAC-SHA512(secret, that string)), compared case-insensitively and in
constant time. `vnp_Amount` = VND × 100; times are `yyyyMMddHHmmss` in GMT+7. Paid only when
`vnp_ResponseCode=00` and `vnp_TransactionStatus=00`. The IPN reply is `{"RspCode","Message"}`.

The status query (`querydr`) and refund API sign a `|`-joined list of fields instead; their
field order follows VNPay's API 2.1.0 [practice].
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from urllib.parse import quote_plus

from services.payments.model.callbacks import CallbackCode, Decision, Outcome, ProviderResult, decide
from services.payments.model.intent import PaymentIntent

GMT7 = timezone(timedelta(hours=7), "GMT+7")
VERSION = "2.1.0"
TIME_FORMAT = "%Y%m%d%H%M%S"
UNSIGNED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

QUERY_REQUEST_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionDate",
    "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)
QUERY_RESPONSE_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
    "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount",
)
REFUND_REQUEST_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
    "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate",
    "vnp_IpAddr", "vnp_OrderInfo",
)
REFUND_RESPONSE_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
    "vnp_TransactionStatus", "vnp_OrderInfo",
)


class RspCode(StrEnum):
    """IPN reply codes (DOMAIN §7)."""

    CONFIRMED = "00"
    ORDER_NOT_FOUND = "01"
    ALREADY_CONFIRMED = "02"
    INVALID_AMOUNT = "04"
    INVALID_SIGNATURE = "97"
    OTHER = "99"


RSP_MESSAGES: dict[RspCode, str] = {
    RspCode.CONFIRMED: "Confirm Success",
    RspCode.ORDER_NOT_FOUND: "Order not found",
    RspCode.ALREADY_CONFIRMED: "Order already confirmed",
    RspCode.INVALID_AMOUNT: "Invalid amount",
    RspCode.INVALID_SIGNATURE: "Invalid signature",
    RspCode.OTHER: "Unknown error",
}


def ipn_reply(code: RspCode) -> dict[str, str]:
    return {"RspCode": code.value, "Message": RSP_MESSAGES[code]}


# ---- time and amount ----------------------------------------------------------------------
def format_time(moment: datetime) -> str:
    """`yyyyMMddHHmmss` in GMT+7 (an aware datetime is required)."""
    if moment.tzinfo is None:
        raise ValueError("VNPay times need an aware datetime")
    return moment.astimezone(GMT7).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=GMT7)


def to_vnp_amount(vnd: int) -> str:
    return str(int(vnd) * 100)


def from_vnp_amount(text: str) -> int | None:
    """VND from `vnp_Amount`, or None when it is not a whole number of đồng."""
    if not text or not text.isdigit():
        return None
    value = int(text)
    if value % 100:
        return None
    return value // 100


# ---- signing ------------------------------------------------------------------------------
def hash_data(params: Mapping[str, str]) -> str:
    """The exact string that is signed."""
    keys = sorted(k for k, v in params.items() if k.startswith("vnp_") and k not in UNSIGNED and v not in ("", None))
    return "&".join(f"{quote_plus(k)}={quote_plus(str(params[k]))}" for k in keys)


def hmac_sha512(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def sign(params: Mapping[str, str], secret: str) -> str:
    return hmac_sha512(secret, hash_data(params))


def _same_hex(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.lower().encode("ascii"), given.strip().lower().encode("ascii", "replace"))


def verify(params: Mapping[str, str], secret: str) -> bool:
    """True when `vnp_SecureHash` matches (case-insensitive, constant-time)."""
    given = params.get("vnp_SecureHash") or ""
    if not given:
        return False
    return _same_hex(sign(params, secret), given)


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The URL query: the signed string followed by `vnp_SecureHash`."""
    data = hash_data(params)
    return f"{data}&vnp_SecureHash={hmac_sha512(secret, data)}"


def pipe_hash(values: Mapping[str, str], fields: tuple[str, ...], secret: str) -> str:
    """Checksum of the JSON APIs (querydr, refund): HMAC-SHA512 over the `|`-joined fields."""
    return hmac_sha512(secret, "|".join(str(values.get(f, "") or "") for f in fields))


def verify_pipe_hash(values: Mapping[str, str], fields: tuple[str, ...], secret: str) -> bool:
    given = str(values.get("vnp_SecureHash") or "")
    return bool(given) and _same_hex(pipe_hash(values, fields, secret), given)


# ---- payment URL --------------------------------------------------------------------------
def payment_params(
    *,
    tmn_code: str,
    txn_ref: str,
    amount_vnd: int,
    order_info: str,
    return_url: str,
    ip_addr: str,
    created_at: datetime,
    expires_at: datetime,
    locale: str = "vn",
    order_type: str = "other",
    bank_code: str | None = None,
) -> dict[str, str]:
    params = {
        "vnp_Version": VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": tmn_code,
        "vnp_Amount": to_vnp_amount(amount_vnd),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": order_info,
        "vnp_OrderType": order_type,
        "vnp_Locale": locale,
        "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": ip_addr,
        "vnp_CreateDate": format_time(created_at),
        "vnp_ExpireDate": format_time(expires_at),
    }
    if bank_code:
        params["vnp_BankCode"] = bank_code
    return params


def payment_url(base_url: str, params: Mapping[str, str], secret: str) -> str:
    return f"{base_url}?{signed_query(params, secret)}"


# ---- IPN ----------------------------------------------------------------------------------
CODE_FOR: dict[CallbackCode, RspCode] = {
    CallbackCode.CONFIRMED: RspCode.CONFIRMED,
    CallbackCode.NOT_FOUND: RspCode.ORDER_NOT_FOUND,
    CallbackCode.ALREADY: RspCode.ALREADY_CONFIRMED,
    CallbackCode.INVALID_AMOUNT: RspCode.INVALID_AMOUNT,
    CallbackCode.BAD_SIGNATURE: RspCode.INVALID_SIGNATURE,
    CallbackCode.ERROR: RspCode.OTHER,
}


def is_success(params: Mapping[str, str]) -> bool:
    return params.get("vnp_ResponseCode") == "00" and params.get("vnp_TransactionStatus") == "00"


def read_ipn(params: Mapping[str, str], secret: str) -> ProviderResult:
    """Authenticate and read an IPN (or a return-URL query: same parameters)."""
    if not verify(params, secret):
        return ProviderResult(authentic=False, ref=params.get("vnp_TxnRef"), reason="bad signature")
    success = is_success(params)
    reason = "" if success else (f"gateway response {params.get('vnp_ResponseCode', '?')}, "
                                 f"transaction status {params.get('vnp_TransactionStatus', '?')}")
    return ProviderResult(
        authentic=True, ref=params.get("vnp_TxnRef") or None, amount=from_vnp_amount(params.get("vnp_Amount", "")),
        success=success, provider_txn=params.get("vnp_TransactionNo") or None, data=provider_fields(params),
        reason=reason,
    )


@dataclass(frozen=True)
class IpnDecision:
    decision: Decision

    @property
    def code(self) -> RspCode:
        return CODE_FOR[self.decision.code]

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome

    @property
    def reply(self) -> dict[str, str]:
        return ipn_reply(self.code)


def decide_ipn(params: Mapping[str, str], secret: str, intent: PaymentIntent | None) -> IpnDecision:
    """What an IPN means for `intent` (looked up by `vnp_TxnRef`), in VNPay's check order:
    signature (97), order (01), amount (04), already handled (02), then paid or failed (00)."""
    return IpnDecision(decide(read_ipn(params, secret), intent))


def provider_fields(params: Mapping[str, str]) -> dict[str, str]:
    """What we keep of a gateway callback (no card data is ever sent by VNPay)."""
    keep = ("vnp_TransactionNo", "vnp_BankCode", "vnp_BankTranNo", "vnp_CardType", "vnp_PayDate",
            "vnp_ResponseCode", "vnp_TransactionStatus", "vnp_Amount", "vnp_TxnRef")
    return {k: str(params[k]) for k in keep if params.get(k)}


# ---- status query and refund (server to server) ------------------------------------------
def query_request(
    *, tmn_code: str, secret: str, request_id: str, txn_ref: str, transaction_date: datetime,
    now: datetime, ip_addr: str, order_info: str,
) -> dict[str, str]:
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VERSION,
        "vnp_Command": "querydr",
        "vnp_TmnCode": tmn_code,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": order_info,
        "vnp_TransactionDate": format_time(transaction_date),
        "vnp_CreateDate": format_time(now),
        "vnp_IpAddr": ip_addr,
    }
    body["vnp_SecureHash"] = pipe_hash(body, QUERY_REQUEST_FIELDS, secret)
    return body


def refund_request(
    *, tmn_code: str, secret: str, request_id: str, txn_ref: str, amount_vnd: int, whole: bool,
    transaction_no: str, transaction_date: datetime, created_by: str, now: datetime, ip_addr: str,
    order_info: str,
) -> dict[str, str]:
    body = {
        "vnp_RequestId": request_id,
        "vnp_Version": VERSION,
        "vnp_Command": "refund",
        "vnp_TmnCode": tmn_code,
        "vnp_TransactionType": "02" if whole else "03",
        "vnp_TxnRef": txn_ref,
        "vnp_Amount": to_vnp_amount(amount_vnd),
        "vnp_TransactionNo": transaction_no,
        "vnp_TransactionDate": format_time(transaction_date),
        "vnp_CreateBy": created_by,
        "vnp_CreateDate": format_time(now),
        "vnp_IpAddr": ip_addr,
        "vnp_OrderInfo": order_info,
    }
    body["vnp_SecureHash"] = pipe_hash(body, REFUND_REQUEST_FIELDS, secret)
    return body
