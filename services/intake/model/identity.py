"""Personal identifiers: citizen ID (CCCD / CMND), mobile phone, tax code, and masking.

Pure functions, no I/O. Error messages never repeat the full number (they end up in logs,
DOMAIN §9); use `mask_citizen_id` / `mask_phone` whenever an identifier is displayed or logged.

Citizen ID (Căn cước / CCCD), 12 digits ``AAA G YY NNNNNN`` (Thông tư 07/2016/TT-BCA, now
Thông tư 59/2021/TT-BCA):

* ``AAA`` — code of the province where the birth was registered, in the **63-province numbering**
  (001 Hà Nội … 096 Cà Mau). Since the 2025 merger some numbers are reused by the 34 new
  provinces (e.g. 091 was Kiên Giang; the merged An Giang now has code 91), so the name returned
  here is the historical one [check: numbers issued to births registered after 1 July 2025].
* ``G`` — gender and century: 0/1 male/female born 1900–1999, 2/3 → 2000s, 4/5 → 2100s,
  6/7 → 2200s, 8/9 → 1800s.
* ``YY`` — last two digits of the birth year; ``NNNNNN`` — random serial.

There is **no check digit** (a Luhn check rejects valid numbers). Old 9-digit ID cards (CMND)
carry no decodable data and are accepted as ``kind="cmnd"``.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "PHONE_RE",
    "PROVINCE_CODES",
    "CitizenIdInfo",
    "Gender",
    "InvalidCitizenIdError",
    "InvalidPhoneError",
    "InvalidTaxCodeError",
    "decode_citizen_id",
    "mask_citizen_id",
    "mask_phone",
    "normalize_phone",
    "validate_citizen_id",
    "validate_tax_code",
]

# Birth-registration province codes of the citizen ID (63 provinces, numbering before 2025).
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa – Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

# Gender-and-century digit → (gender is female, first year of the century).
_CENTURY = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200, 8: 1800, 9: 1800}


class Gender(StrEnum):
    MALE = "male"  # nam
    FEMALE = "female"  # nữ


class InvalidCitizenIdError(ValueError):
    """The citizen ID is malformed or contradicts the data given with it."""


class InvalidPhoneError(ValueError):
    """Not a Vietnamese mobile number."""


class InvalidTaxCodeError(ValueError):
    """Not a tax code (mã số thuế)."""


class CitizenIdInfo(BaseModel):
    """What a citizen ID tells. For an old 9-digit card (``kind="cmnd"``) only ``number`` is known."""

    model_config = ConfigDict(frozen=True)

    number: str
    kind: Literal["cccd", "cmnd"]
    province_code: str | None = None
    province_name: str | None = None
    gender: Gender | None = None
    birth_year: int | None = None

    @property
    def masked(self) -> str:
        return mask_citizen_id(self.number)


_SEPARATORS = re.compile(r"[\s.\-]")


def _clean_id(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidCitizenIdError(f"citizen ID must be a string, got {type(value).__name__}")
    return _SEPARATORS.sub("", value)


def decode_citizen_id(value: str) -> CitizenIdInfo:
    """Parse a 12-digit citizen ID (or accept a 9-digit old ID card). Raises `InvalidCitizenIdError`."""
    number = _clean_id(value)
    if not number:
        raise InvalidCitizenIdError("citizen ID is empty")
    if not number.isdigit() or not number.isascii():
        raise InvalidCitizenIdError("citizen ID must contain digits only")
    if len(number) == 9:
        return CitizenIdInfo(number=number, kind="cmnd")
    if len(number) != 12:
        raise InvalidCitizenIdError(f"citizen ID must have 12 digits (or 9 for an old ID card), got {len(number)}")
    province_code = number[:3]
    province_name = PROVINCE_CODES.get(province_code)
    if province_name is None:
        raise InvalidCitizenIdError(f"unknown birth-registration province code {province_code}")
    g = int(number[3])
    return CitizenIdInfo(
        number=number,
        kind="cccd",
        province_code=province_code,
        province_name=province_name,
        gender=Gender.FEMALE if g % 2 else Gender.MALE,
        birth_year=_CENTURY[g] + int(number[4:6]),
    )


def validate_citizen_id(
    value: str,
    birth_date: date | None = None,
    *,
    gender: Gender | None = None,
    today: date | None = None,
) -> CitizenIdInfo:
    """Decode and cross-check a citizen ID against what the citizen declared.

    ``birth_date`` / ``gender`` are compared with the encoded birth year and gender (12-digit IDs
    only); ``today`` rejects a birth year in the future. Raises `InvalidCitizenIdError`.
    """
    info = decode_citizen_id(value)
    if info.kind != "cccd":
        return info
    if birth_date is not None and info.birth_year != birth_date.year:
        raise InvalidCitizenIdError(
            f"birth year {info.birth_year} encoded in the citizen ID does not match "
            f"the birth date {birth_date.isoformat()}"
        )
    if gender is not None and info.gender is not gender:
        raise InvalidCitizenIdError(
            f"gender {info.gender} encoded in the citizen ID does not match the declared gender {gender}"
        )
    if today is not None and info.birth_year is not None and info.birth_year > today.year:
        raise InvalidCitizenIdError(f"birth year {info.birth_year} encoded in the citizen ID is in the future")
    return info


# ----------------------------------------------------------------------------- phone

# DOMAIN §9 [check]: keep the pattern here so a province can change it in one place.
PHONE_RE = re.compile(r"^(0|\+84)(3|5|7|8|9)\d{8}$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


def normalize_phone(value: str) -> str:
    """Return a mobile number as ``0xxxxxxxxx``; accepts ``0…`` and ``+84…`` with spaces, dots, dashes."""
    if not isinstance(value, str):
        raise InvalidPhoneError(f"phone number must be a string, got {type(value).__name__}")
    compact = _PHONE_SEPARATORS.sub("", value)
    if not compact:
        raise InvalidPhoneError("phone number is empty")
    m = PHONE_RE.match(compact)
    if not m:
        digits = sum(ch.isdigit() for ch in compact)
        raise InvalidPhoneError(
            "not a Vietnamese mobile number: expected 0 or +84 followed by 3, 5, 7, 8 or 9 and "
            f"8 more digits (got {digits} digits)"
        )
    return "0" + compact[len(m.group(1)) :]


# ----------------------------------------------------------------------------- tax code

_TAX_RE = re.compile(r"^\d{10}(?:-\d{3})?$")


def validate_tax_code(value: str, *, allow_personal_id: bool = False) -> str:
    """Return a normalised tax code: 10 digits, or 10 digits + ``-`` + 3 digits (branch / unit).

    With ``allow_personal_id`` the 12-digit personal identification number is accepted as well:
    since 1 July 2025 it serves as the tax code of individuals and household businesses
    (Thông tư 86/2024/TT-BTC) [check]. The check digit of 10-digit codes is not verified.
    """
    if not isinstance(value, str):
        raise InvalidTaxCodeError(f"tax code must be a string, got {type(value).__name__}")
    code = re.sub(r"\s", "", value)
    if _TAX_RE.match(code):
        return code
    if allow_personal_id and len(code) == 12 and code.isdigit():
        try:
            decode_citizen_id(code)
        except InvalidCitizenIdError as exc:
            raise InvalidTaxCodeError(f"12-digit tax code is not a valid personal ID: {exc}") from exc
        return code
    expected = "10 digits, 10 digits + '-' + 3 digits"
    if allow_personal_id:
        expected += ", or a 12-digit personal ID"
    raise InvalidTaxCodeError(f"tax code must be {expected}")


# ----------------------------------------------------------------------------- masking


def _mask(text: str, keep_head: int, keep_tail: int) -> str:
    if len(text) <= keep_head + keep_tail:
        return "*" * len(text)
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[len(text) - keep_tail :]


def mask_citizen_id(value: str | None) -> str:
    """``"001203004567"`` → ``"001*******67"``: keeps the province code and the last two digits.

    Never raises (it is used by logs); anything that is not a plausible ID is masked entirely
    except for its length.
    """
    if not value:
        return ""
    compact = _SEPARATORS.sub("", str(value))
    if len(compact) < 6:
        return "*" * len(compact)
    return _mask(compact, 3, 2)


def mask_phone(value: str | None) -> str:
    """``"0912345678"`` → ``"091*****78"`` (same shape as the log masking in `services.kit.logging`).

    Normalises first when possible; never raises.
    """
    if not value:
        return ""
    text = str(value)
    try:
        text = normalize_phone(text)
    except InvalidPhoneError:
        text = _PHONE_SEPARATORS.sub("", text)
    if len(text) < 7:
        return "*" * len(text)
    return _mask(text, 3, 2)
