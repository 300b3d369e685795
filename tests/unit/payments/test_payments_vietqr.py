"""VietQR EMVCo strings and CRC-16/CCITT-FALSE (DOMAIN §7)."""

from __future__ import annotations

import pytest

from services.payments.model import vietqr


def test_crc16_ccitt_false_known_answer() -> None:
    assert vietqr.crc16_ccitt_false(b"123456789") == 0x29B1
    assert vietqr.crc16_ccitt_false(b"") == 0xFFFF


def test_dynamic_qr_structure_built_by_hand() -> None:
    text = vietqr.build("970436", "0011001234567", amount=150000, note="MOTCUA MC0123456789")
    beneficiary = "0006970436" + "01130011001234567"
    merchant = "0010A000000727" + f"01{len(beneficiary):02d}{beneficiary}" + "0208QRIBFTTA"
    note = "0819MOTCUA MC0123456789"
    body = (
        "000201" + "010212" + f"38{len(merchant):02d}{merchant}" + "5303704" + "5406150000" + "5802VN"
        + f"62{len(note):02d}{note}" + "6304"
    )
    assert merchant == "0010A00000072701270006970436011300110012345670208QRIBFTTA"
    assert text == body + f"{vietqr.crc16_ccitt_false(body.encode()):04X}"
    assert text[-4:].isupper() or text[-4:].isdigit()


def test_parse_round_trip_and_crc_check() -> None:
    text = vietqr.build("970436", "0011001234567", amount=150000, note="MOTCUA MC0123456789")
    qr = vietqr.parse(text)
    assert (qr.bank_bin, qr.account, qr.dynamic, qr.amount, qr.note) == (
        "970436", "0011001234567", True, 150000, "MOTCUA MC0123456789")
    assert vietqr.parse(text[:-4] + text[-4:].lower()).amount == 150000  # hex case does not matter
    tampered = text.replace("5406150000", "5406950000")
    with pytest.raises(vietqr.VietQRError, match="CRC"):
        vietqr.parse(tampered)


def test_static_qr_has_no_amount() -> None:
    text = vietqr.build("970436", "0011001234567")
    assert text.startswith("000201010211")
    assert "54" not in vietqr.parse_tlv(text)
    assert vietqr.parse(text).amount is None


@pytest.mark.parametrize("kwargs", [
    {"bank_bin": "97043", "account": "1"},
    {"bank_bin": "970436", "account": ""},
    {"bank_bin": "970436", "account": "1", "amount": 0},
    {"bank_bin": "970436", "account": "1", "note": "phí hồ sơ"},  # diacritics are not allowed in the note
])
def test_invalid_inputs_are_refused(kwargs: dict[str, object]) -> None:
    bank_bin = str(kwargs.pop("bank_bin"))
    account = str(kwargs.pop("account"))
    with pytest.raises(vietqr.VietQRError):
        vietqr.build(bank_bin, account, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("note", [
    "MOTCUA MC0123456789",
    "MOTCUAMC0123456789 CHUYEN TIEN",
    "NGUYEN VAN A CHUYEN KHOAN motcua mc0123456789",
    "IBFT MOTCUA-MC0123456789.",
])
def test_reference_is_found_in_mangled_bank_notes(note: str) -> None:
    assert vietqr.find_ref(note) == "MC0123456789"


def test_no_reference_in_unrelated_note() -> None:
    assert vietqr.find_ref("tra tien com trua") is None
