"""POS terminal results (máy POS) and card-data hygiene. Pure.

Card data is never stored or logged (PCI DSS): whatever a terminal sends, only the result,
the approval code, the retrieval reference number, the card brand and the last four digits
are kept. `strip_card_data` removes card fields by name and masks any Luhn-valid 13–19 digit
number that still hides in a free-text value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CARD_KEYS = frozenset({
    "pan", "card_number", "cardnumber", "card_no", "primary_account_number", "track1", "track2",
    "track_data", "track2_data", "cvv", "cvv2", "cvc", "cvc2", "expiry", "exp", "exp_date", "expiry_date",
    "expiration", "pin", "pin_block", "emv_data", "icc_data", "cardholder_name",
})
_DIGIT_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask_pan(digits: str) -> str:
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_card_numbers(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return mask_pan(digits)
        return match.group(0)

    return _DIGIT_RUN.sub(repl, text)


def strip_card_data(value: Any) -> Any:
    """A copy of `value` without card fields and with card numbers masked, at any depth."""
    if isinstance(value, dict):
        return {k: strip_card_data(v) for k, v in value.items() if str(k).lower() not in CARD_KEYS}
    if isinstance(value, list | tuple):
        return [strip_card_data(v) for v in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    return value


def last4(payload: dict[str, Any]) -> str | None:
    """The last four digits of the card, from a PAN or an already masked PAN."""
    for key in ("pan", "card_number", "masked_pan"):
        raw = payload.get(key)
        if isinstance(raw, str):
            digits = re.sub(r"\D", "", raw)
            if len(digits) >= 4:
                return digits[-4:]
    return None


@dataclass(frozen=True)
class PosResult:
    terminal_id: str
    sale_id: str
    ref: str
    amount: int
    approved: bool
    approval_code: str | None
    rrn: str | None
    response_code: str | None
    message: str
    card_brand: str | None
    card_last4: str | None

    @property
    def provider_txn(self) -> str:
        return f"{self.terminal_id}:{self.rrn or self.sale_id}"

    def stored(self) -> dict[str, Any]:
        """What is kept: no PAN, no expiry, no track data, no CVV."""
        return {
            "terminal_id": self.terminal_id, "sale_id": self.sale_id, "approval_code": self.approval_code,
            "rrn": self.rrn, "response_code": self.response_code, "message": mask_card_numbers(self.message),
            "card_brand": self.card_brand, "card_last4": self.card_last4,
        }


class PosPayloadError(ValueError):
    pass


def parse_result(payload: dict[str, Any]) -> PosResult:
    """Read a terminal's result message (after its signature was verified)."""
    try:
        amount = int(payload["amount"])
        status = str(payload["status"]).lower()
        ref = str(payload["ref"])
        sale_id = str(payload["sale_id"])
        terminal_id = str(payload["terminal_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PosPayloadError(f"incomplete POS result: {exc}") from exc
    if status not in ("approved", "declined"):
        raise PosPayloadError(f"unknown POS status {status!r}")
    return PosResult(
        terminal_id=terminal_id, sale_id=sale_id, ref=ref, amount=amount, approved=status == "approved",
        approval_code=_opt(payload.get("approval_code")), rrn=_opt(payload.get("rrn")),
        response_code=_opt(payload.get("response_code")), message=str(payload.get("message") or ""),
        card_brand=_opt(payload.get("card_brand")), card_last4=last4(payload),
    )


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
