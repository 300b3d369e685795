"""Citizen ID (CCCD / CMND), phone numbers, tax codes and masking."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.model.identity import (
    PROVINCE_CODES,
    CitizenIdInfo,
    Gender,
    InvalidCitizenIdError,
    InvalidPhoneError,
    InvalidTaxCodeError,
    decode_citizen_id,
    mask_citizen_id,
    mask_phone,
    normalize_phone,
    validate_citizen_id,
    validate_tax_code,
)

# --------------------------------------------------------------------------- province table


def test_province_table_has_the_63_old_codes() -> None:
    assert len(PROVINCE_CODES) == 63
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["079"] == "Hồ Chí Minh"
    assert PROVINCE_CODES["089"] == "An Giang"
    assert PROVINCE_CODES["091"] == "Kiên Giang"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCE_CODES)
    for gap in ("000", "003", "005", "097", "099"):
        assert gap not in PROVINCE_CODES


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("number", "province", "gender", "year"),
    [
        ("089203001234", "An Giang", Gender.MALE, 2003),  # G=2: male, 2000s
        ("001303004567", "Hà Nội", Gender.FEMALE, 2003),  # G=3: female, 2000s
        ("079185012345", "Hồ Chí Minh", Gender.FEMALE, 1985),  # G=1: female, 1900s
        ("096098000001", "Cà Mau", Gender.MALE, 1998),  # G=0: male, 1900s
        ("031899000001", "Hải Phòng", Gender.MALE, 1899),  # G=8: male, 1800s
        ("031999000001", "Hải Phòng", Gender.FEMALE, 1899),  # G=9: female, 1800s
        ("001410000001", "Hà Nội", Gender.MALE, 2110),  # G=4: male, 2100s
        ("001710000001", "Hà Nội", Gender.FEMALE, 2210),  # G=7: female, 2200s
    ],
)
def test_decode_citizen_id(number: str, province: str, gender: Gender, year: int) -> None:
    info = decode_citizen_id(number)
    assert info == CitizenIdInfo(
        number=number,
        kind="cccd",
        province_code=number[:3],
        province_name=province,
        gender=gender,
        birth_year=year,
    )


def test_decode_accepts_separators() -> None:
    assert decode_citizen_id(" 089 203 001234 ").number == "089203001234"
    assert decode_citizen_id("089.203.001.234").birth_year == 2003


def test_no_check_digit() -> None:
    # A Luhn check would reject this number; the CCCD has no check digit at all.
    number = "089203001234"
    digits = [int(d) for d in number]
    luhn = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    assert luhn % 10 != 0
    assert decode_citizen_id(number).kind == "cccd"


def test_old_nine_digit_card() -> None:
    info = decode_citizen_id("351234567")
    assert info.kind == "cmnd"
    assert info.province_code is None and info.gender is None and info.birth_year is None
    assert validate_citizen_id("351234567", birth_date=date(1980, 1, 1)).kind == "cmnd"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("08920300123", "must have 12 digits (or 9 for an old ID card), got 11"),
        ("0892030012345", "must have 12 digits (or 9 for an old ID card), got 13"),
        ("08920300123A", "digits only"),
        ("O89203001234", "digits only"),
        ("٠٨٩٢٠٣٠٠١٢٣٤", "digits only"),  # Arabic-Indic digits are not accepted
        ("000203001234", "unknown birth-registration province code 000"),
        ("003203001234", "unknown birth-registration province code 003"),
        ("", "empty"),
    ],
)
def test_bad_citizen_ids(number: str, message: str) -> None:
    with pytest.raises(InvalidCitizenIdError, match=re.escape(message)) as exc:
        decode_citizen_id(number)
    assert isinstance(exc.value, ValueError)
    if len(number) > 6:
        assert number not in str(exc.value)  # never echo the full number (logs)


def test_validate_against_declared_data() -> None:
    info = validate_citizen_id("089203001234", date(2003, 5, 17), gender=Gender.MALE, today=date(2026, 1, 1))
    assert info.birth_year == 2003
    with pytest.raises(InvalidCitizenIdError, match=r"birth year 2003 .* does not match the birth date 2004-05-17"):
        validate_citizen_id("089203001234", date(2004, 5, 17))
    with pytest.raises(InvalidCitizenIdError, match="gender"):
        validate_citizen_id("089203001234", gender=Gender.FEMALE)
    with pytest.raises(InvalidCitizenIdError, match="in the future"):
        validate_citizen_id("001410000001", today=date(2026, 1, 1))
    with pytest.raises(InvalidCitizenIdError, match="12 digits"):
        validate_citizen_id("1234")


@given(
    province=st.sampled_from(sorted(PROVINCE_CODES)),
    g=st.integers(0, 9),
    yy=st.integers(0, 99),
    serial=st.integers(0, 999_999),
)
def test_decode_property(province: str, g: int, yy: int, serial: int) -> None:
    number = f"{province}{g}{yy:02d}{serial:06d}"
    info = decode_citizen_id(number)
    assert info.birth_year is not None and info.birth_year % 100 == yy
    assert info.gender is (Gender.FEMALE if g % 2 else Gender.MALE)
    assert {0: 1900, 2: 2000, 4: 2100, 6: 2200, 8: 1800}[g - g % 2] <= info.birth_year
    assert mask_citizen_id(number) == number[:3] + "*" * 7 + number[-2:]


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912345678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("091.234.5678", "0912345678"),
        ("(+84) 38-123-4567", "0381234567"),
        ("0512345678", "0512345678"),
        ("0712345678", "0712345678"),
        ("0812345678", "0812345678"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "0212345678",  # landline prefix
        "0112345678",
        "0612345678",
        "091234567",  # 9 digits
        "09123456789",  # 11 digits
        "01234567890",  # old 11-digit mobile numbering
        "84912345678",  # country code without +
        "+8491234567",
        "+840912345678",
        "abc",
        "",
    ],
)
def test_normalize_phone_rejects(raw: str) -> None:
    with pytest.raises(InvalidPhoneError) as exc:
        normalize_phone(raw)
    assert isinstance(exc.value, ValueError)
    if len(raw) > 6:
        assert raw not in str(exc.value)


@given(st.sampled_from("35789"), st.integers(0, 99_999_999), st.booleans())
def test_phone_property(prefix: str, rest: int, international: bool) -> None:
    local = f"0{prefix}{rest:08d}"
    raw = "+84" + local[1:] if international else local
    assert normalize_phone(raw) == local
    assert normalize_phone(normalize_phone(raw)) == local


# --------------------------------------------------------------------------- tax code


@pytest.mark.parametrize(("raw", "expected"), [("0101243150", "0101243150"), (" 0101243150-001 ", "0101243150-001")])
def test_tax_code_accepted(raw: str, expected: str) -> None:
    assert validate_tax_code(raw) == expected


@pytest.mark.parametrize(
    "raw", ["010124315", "01012431500", "0101243150001", "0101243150-01", "0101243150-0011", "010124315A", ""]
)
def test_tax_code_rejected(raw: str) -> None:
    with pytest.raises(InvalidTaxCodeError):
        validate_tax_code(raw)


def test_tax_code_personal_id_option() -> None:
    with pytest.raises(InvalidTaxCodeError, match="10 digits"):
        validate_tax_code("089203001234")
    assert validate_tax_code("089203001234", allow_personal_id=True) == "089203001234"
    with pytest.raises(InvalidTaxCodeError, match="not a valid personal ID"):
        validate_tax_code("000203001234", allow_personal_id=True)


# --------------------------------------------------------------------------- masking


def test_masking() -> None:
    assert mask_citizen_id("001203004567") == "001*******67"
    assert mask_citizen_id("351234567") == "351****67"
    assert mask_citizen_id("001 203 004 567") == "001*******67"
    assert mask_citizen_id("12345") == "*****"
    assert mask_citizen_id(None) == ""
    assert decode_citizen_id("089203001234").masked == "089*******34"
    assert mask_phone("0912345678") == "091*****78"
    assert mask_phone("+84 912 345 678") == "091*****78"
    assert mask_phone("12345") == "*****"
    assert mask_phone("not a phone number") == "not" + "*" * 10 + "er"
    assert mask_phone("") == ""
