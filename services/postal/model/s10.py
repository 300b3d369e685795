"""UPU S10 item identifiers (`EB123456785VN`), as VNPost prints on dispatch slips. Pure.

Two service letters, eight serial digits, one check digit (weights 8 6 4 2 3 5 9 7; 11 − sum
mod 11, with 10 → 0 and 11 → 5), the ISO country code.
"""

from __future__ import annotations

import re

_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def check_digit(serial: str) -> int:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial has 8 digits")
    value = 11 - sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(value, value)


def make(service: str, serial: int, country: str = "VN") -> str:
    digits = f"{serial:08d}"
    if len(digits) != 8:
        raise ValueError("serial out of range")
    return f"{service.upper()}{digits}{check_digit(digits)}{country.upper()}"


def is_valid(code: str) -> bool:
    m = _S10.match(code.strip().upper())
    return bool(m) and check_digit(m.group(2)) == int(m.group(3))  # type: ignore[union-attr]
