"""The document's owner (chủ sở hữu giấy tờ): citizen ID or tax code, kept only as salted hashes.

Pure. The ID number itself is personal data (Decree 13/2023): scan never stores it, only an
HMAC-SHA256 under a secret key ("pepper", `MOTCUA_SCAN_OWNER_ID_PEPPER`) so that:

* the citizen's reusable documents (kho dữ liệu) can be found again from the ID number, and
* the public lookup's second factor (last four digits of the ID number or of the phone
  number, given with the dossier code) can be checked.

Error messages never repeat the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from services.scan.model.errors import Denied, Rejected

_ID_RE = re.compile(r"^(?:\d{9}|\d{12})$")  # CMND (9) or CCCD (12)
_TAX_RE = re.compile(r"^\d{10}(?:-\d{3})?$")  # mã số thuế, 10 digits or 10-3 for a branch
_PHONE_RE = re.compile(r"^0\d{9,10}$")
_LAST4_RE = re.compile(r"^\d{4}$")


def normalize_owner_id(raw: str) -> str:
    """A citizen ID (12-digit CCCD or 9-digit CMND) or a tax code (10 digits, or 10-3), normalised."""
    value = re.sub(r"[\s.]", "", raw or "")
    if _ID_RE.match(value) or _TAX_RE.match(value):
        return value
    if re.fullmatch(r"\d{13}", value):  # a branch tax code typed without its dash
        return f"{value[:10]}-{value[10:]}"
    raise Rejected(
        "owner_id must be a citizen ID (12 digits, or 9 for an old ID card) or a tax code (10 or 10-3 digits)",
        code="invalid_owner_id",
    )


def normalize_phone(raw: str) -> str:
    """A phone number as digits starting with 0 (+84 → 0)."""
    value = re.sub(r"[\s.\-()]", "", raw or "")
    if value.startswith("+84"):
        value = "0" + value[3:]
    elif value.startswith("84") and len(value) == 11:
        value = "0" + value[2:]
    if not _PHONE_RE.match(value):
        raise Rejected("owner_phone is not a phone number", code="invalid_owner_phone")
    return value


def _mac(pepper: bytes, message: str) -> str:
    return hmac.new(pepper, message.encode(), hashlib.sha256).hexdigest()


def owner_hash(pepper: bytes, owner_id: str) -> str:
    """The key under which an owner's documents are indexed (never the ID number itself)."""
    return _mac(pepper, f"owner:{normalize_owner_id(owner_id)}")


def _factor_mac(pepper: bytes, dossier_code: str, last4: str) -> str:
    return _mac(pepper, f"factor:{dossier_code.upper()}:{last4}")


def second_factor_hashes(pepper: bytes, dossier_code: str, owner_id: str, phone: str | None) -> list[str]:
    """What the public lookup's second factor is checked against: the last four digits of the
    owner's ID number and, when given, of the phone number, bound to the dossier code (so a
    match on one dossier says nothing about another)."""
    digits = [normalize_owner_id(owner_id).replace("-", "")[-4:]]
    if phone:
        digits.append(normalize_phone(phone)[-4:])
    return sorted({_factor_mac(pepper, dossier_code, d) for d in digits})


def check_second_factor(pepper: bytes, dossier_code: str, last4: str, stored: list[str]) -> bool:
    """True when `last4` matches one of the stored factors (constant-time comparisons)."""
    if not _LAST4_RE.match(last4 or ""):
        raise Rejected("last4 must be exactly four digits", code="invalid_second_factor")
    candidate = _factor_mac(pepper, dossier_code, last4)
    matched = False
    for value in stored:
        matched |= hmac.compare_digest(candidate, value)
    return matched


def ensure_same_owner(pepper: bytes, owner_id: str, stored_hash: str) -> None:
    """Refuse to reuse a document for someone who is not its owner."""
    if not hmac.compare_digest(owner_hash(pepper, owner_id), stored_hash):
        raise Denied("This document belongs to another person", code="owner_mismatch")
