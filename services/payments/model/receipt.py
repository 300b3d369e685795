"""Electronic fee receipts (biên lai thu phí, lệ phí): numbering and amounts in words. Pure.

Numbers run in one series per administrative unit and calendar year (Vietnam time), starting
at 1, without gaps and never reused: the service takes the next number inside the same
transaction that records the payment, so an aborted payment gives its number back.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.payments.model.intent import Receipt

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ", "tỷ tỷ")


def receipt_year(moment: datetime) -> int:
    return moment.astimezone(VN_TZ).year


def series_key(unit_code: str, year: int) -> str:
    return f"{unit_code}:{year}"


def receipt_code(unit_code: str, year: int, number: int) -> str:
    """e.g. `91-2026-0000042`: unit, year, 7-digit number."""
    return f"{unit_code}-{year}-{number:07d}"


def make_receipt(unit_code: str, number: int, issued_at: datetime) -> Receipt:
    year = receipt_year(issued_at)
    return Receipt(series=series_key(unit_code, year), number=number,
                   code=receipt_code(unit_code, year, number), issued_at=issued_at)


def _group_words(n: int, full: bool) -> list[str]:
    """Words for 0 ≤ n ≤ 999; `full` reads a leading zero hundred ("không trăm")."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("linh")
            words.append(_DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else _DIGITS[units])
        return words
    words += [_DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def amount_in_words(amount: int) -> str:
    """Vietnamese reading of a VND amount, capitalised, e.g. 'Một trăm năm mươi nghìn đồng'."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    if amount == 0:
        return "Không đồng"
    groups: list[int] = []
    while amount:
        amount, g = divmod(amount, 1000)
        groups.append(g)
    if len(groups) > len(_SCALES):
        raise ValueError("amount too large")
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        g = groups[index]
        if g == 0:
            continue
        words += _group_words(g, full=bool(words))
        if _SCALES[index]:
            words.append(_SCALES[index])
    text = " ".join(words) + " đồng"
    return text[0].upper() + text[1:]


def format_vnd(amount: int) -> str:
    """`1.250.000 đ` — Vietnamese thousands separators."""
    return f"{amount:,}".replace(",", ".") + " đ"
