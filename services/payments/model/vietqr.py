"""NAPAS VietQR strings (EMVCo merchant-presented QR), DOMAIN §7. Pure.

TLV = tag (2 digits) + length (2 digits) + value:

    00 "01"                                   payload format indicator
    01 "11" static | "12" dynamic             point of initiation
    38 { 00 "A000000727"                      NAPAS AID
         01 { 00 bank BIN (6 digits), 01 account }
         02 "QRIBFTTA" }                       transfer to an account
    53 "704"                                  VND
    54 amount                                 (dynamic QR)
    58 "VN"
    62 { 08 payment note }                    identifies the payment intent
    63 CRC-16/CCITT-FALSE over everything before it, "6304" included, 4 upper-case hex digits
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAPAS_AID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"

_NOTE_ALLOWED = re.compile(r"^[A-Za-z0-9 .\-]*$")


class VietQRError(ValueError):
    pass


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    if len(tag) != 2 or not tag.isdigit():
        raise VietQRError(f"bad tag {tag!r}")
    if len(value) > 99:
        raise VietQRError(f"value of tag {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def with_crc(body_without_crc: str) -> str:
    head = body_without_crc + "6304"
    return head + f"{crc16_ccitt_false(head.encode('utf-8')):04X}"


def build(bank_bin: str, account: str, *, amount: int | None = None, note: str | None = None) -> str:
    """A VietQR string; dynamic (01="12") when an amount is given, static otherwise."""
    if not (len(bank_bin) == 6 and bank_bin.isdigit()):
        raise VietQRError("the bank BIN is 6 digits")
    if not account or not account.isalnum() or len(account) > 19:
        raise VietQRError("the account number is 1–19 letters or digits")
    if amount is not None and amount <= 0:
        raise VietQRError("the amount must be positive")
    if note is not None and not _NOTE_ALLOWED.match(note):
        raise VietQRError("the payment note may hold only letters, digits, space, '.', '-'")
    beneficiary = tlv("00", bank_bin) + tlv("01", account)
    merchant = tlv("00", NAPAS_AID) + tlv("01", beneficiary) + tlv("02", SERVICE_TO_ACCOUNT)
    parts = [tlv("00", "01"), tlv("01", "12" if amount is not None else "11"), tlv("38", merchant),
             tlv("53", CURRENCY_VND)]
    if amount is not None:
        parts.append(tlv("54", str(int(amount))))
    parts.append(tlv("58", COUNTRY_VN))
    if note:
        parts.append(tlv("62", tlv("08", note)))
    return with_crc("".join(parts))


def parse_tlv(text: str) -> dict[str, str]:
    """Top-level TLV fields of `text` (tags are unique at each level in VietQR)."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(text):
        if i + 4 > len(text):
            raise VietQRError(f"truncated TLV at position {i}")
        tag, length = text[i:i + 2], text[i + 2:i + 4]
        if not (tag.isdigit() and length.isdigit()):
            raise VietQRError(f"bad TLV header {text[i:i + 4]!r} at position {i}")
        n = int(length)
        value = text[i + 4:i + 4 + n]
        if len(value) != n:
            raise VietQRError(f"value of tag {tag} is truncated")
        fields[tag] = value
        i += 4 + n
    return fields


@dataclass(frozen=True)
class VietQR:
    bank_bin: str
    account: str
    dynamic: bool
    amount: int | None
    note: str | None


def parse(text: str) -> VietQR:
    """Check the CRC and structure and return the fields a bank app reads."""
    if len(text) < 8 or text[-8:-4] != "6304":
        raise VietQRError("no CRC field (6304) at the end")
    expected = f"{crc16_ccitt_false(text[:-4].encode('utf-8')):04X}"
    if text[-4:].upper() != expected:
        raise VietQRError(f"CRC mismatch: {text[-4:]} != {expected}")
    top = parse_tlv(text)
    if top.get("00") != "01" or top.get("01") not in ("11", "12"):
        raise VietQRError("not an EMVCo QR (00/01)")
    merchant = parse_tlv(top.get("38", ""))
    if merchant.get("00") != NAPAS_AID:
        raise VietQRError("not a NAPAS VietQR (38/00)")
    beneficiary = parse_tlv(merchant.get("01", ""))
    if top.get("53") != CURRENCY_VND or top.get("58") != COUNTRY_VN:
        raise VietQRError("currency or country is not VND/VN")
    amount = int(top["54"]) if "54" in top else None
    note = parse_tlv(top["62"]).get("08") if "62" in top else None
    return VietQR(beneficiary.get("00", ""), beneficiary.get("01", ""), top["01"] == "12", amount, note)


def payment_note(ref: str) -> str:
    """The transfer note that identifies an intent; banks keep letters and digits."""
    return f"MOTCUA {ref}"


def find_ref(note: str, refs_prefix: str = "MC") -> str | None:
    """The intent reference inside a bank transfer description, however the bank mangled it.

    Banks upper-case, drop punctuation, squeeze spaces or prepend their own text; the reference
    is `MC` + 10 base32 characters, so look for it in the letters-and-digits-only note."""
    squeezed = re.sub(r"[^A-Z0-9]", "", note.upper())
    match = re.search(rf"MOTCUA({refs_prefix}[0-9A-HJKMNP-TV-Z]{{10}})", squeezed)
    if match:
        return match.group(1)
    match = re.search(rf"({refs_prefix}[0-9A-HJKMNP-TV-Z]{{10}})", squeezed)
    return match.group(1) if match else None
