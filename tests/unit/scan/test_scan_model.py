"""Scan's pure rules: types by magic bytes, limits, keys, identifiers, owners, retention, reuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.scan.model import (
    Actor,
    ConflictError,
    Denied,
    DocumentKind,
    DocumentRecord,
    DocumentStatus,
    FileType,
    LegalHold,
    Rejected,
    RetentionPolicy,
    ScanLimits,
    TooLarge,
    UnsupportedType,
    UploadRequest,
    check_second_factor,
    classify_files,
    detect_file_type,
    download_filename,
    due_for_deletion,
    ensure_same_owner,
    normalize_dossier_code,
    normalize_owner_id,
    normalize_phone,
    object_key,
    owner_hash,
    parse_unit_path,
    place_image,
    reuse_problem,
    second_factor_hashes,
    thumbnail_key,
)
from tests.unit.scan import scan_samples as samples

PEPPER = b"unit-test-pepper"
SHA = "ab" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# ---- types by content --------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    (samples.pdf(), FileType.PDF),
    (samples.jpeg(), FileType.JPEG),
    (samples.png(), FileType.PNG),
    (samples.tiff(), FileType.TIFF),
    (b"MM\x00*" + b"\x00" * 20, FileType.TIFF),
    (b"\n\n%PDF-1.4\n", FileType.PDF),  # a header a little after the start is still a PDF
    (b"hello, this is text", None),
    (b"", None),
])
def test_type_is_decided_by_magic_bytes(data: bytes, expected: FileType | None) -> None:
    assert detect_file_type(data[:1024]) == expected


def test_a_png_renamed_to_pdf_is_a_png() -> None:
    assert classify_files([("hop-dong.pdf", samples.png())]) == [FileType.PNG]


def test_a_pdf_renamed_to_jpg_is_a_pdf() -> None:
    assert classify_files([("anh.jpg", samples.pdf())]) == [FileType.PDF]


def test_unknown_content_is_refused_whatever_the_name() -> None:
    with pytest.raises(UnsupportedType) as err:
        classify_files([("scan.pdf", b"MZ\x90\x00 an executable")])
    assert err.value.code == "unsupported_type" and err.value.details == {"file": 1}


def test_a_pdf_cannot_be_mixed_with_images_and_something_must_be_sent() -> None:
    with pytest.raises(Rejected) as err:
        classify_files([("a.pdf", samples.pdf()), ("b.jpg", samples.jpeg())])
    assert err.value.code == "mixed_file_types"
    with pytest.raises(Rejected) as err:
        classify_files([])
    assert err.value.code == "no_files"


# ---- limits ------------------------------------------------------------------------------------

def test_default_limits_are_20_mb_per_file_and_100_pages() -> None:
    limits = ScanLimits()
    limits.check_file_size(0, "a.pdf", 20 * 1024 * 1024)
    with pytest.raises(TooLarge) as err:
        limits.check_file_size(0, "a.pdf", 20 * 1024 * 1024 + 1)
    assert err.value.code == "file_too_large"
    limits.check_pages(100)
    with pytest.raises(Rejected) as rejected:
        limits.check_pages(101)
    assert rejected.value.code == "too_many_pages" and rejected.value.details == {"pages": 101, "limit": 100}


def test_request_files_and_pixel_limits() -> None:
    limits = ScanLimits(max_request_bytes=1000, max_pages=3, max_image_pixels=100)
    with pytest.raises(TooLarge) as err:
        limits.check_request_size(1001)
    assert err.value.code == "request_too_large"
    with pytest.raises(Rejected) as rejected:
        limits.check_file_count(4)
    assert rejected.value.code == "too_many_files"
    limits.check_pixels(0, "a.png", 10, 10)
    with pytest.raises(Rejected) as rejected:
        limits.check_pixels(0, "a.png", 11, 10)
    assert rejected.value.code == "image_too_large"


# ---- keys and identifiers ------------------------------------------------------------------------

def test_objects_are_named_by_unit_and_content_hash() -> None:
    assert object_key("91001", SHA) == f"units/91001/sha256/{SHA}"
    assert thumbnail_key("91001", SHA) == f"units/91001/thumbnails/{SHA}.png"
    for unit, sha in [("91/../x", SHA), ("91", "AB" * 32), ("91", "abc")]:
        with pytest.raises(ValueError):
            object_key(unit, sha)


def test_unit_path_is_parsed_and_checked() -> None:
    assert parse_unit_path(" 91001 , 91 ") == ["91001", "91"]
    assert parse_unit_path(["91001", "91"]) == ["91001", "91"]
    for bad in ["", " , ", "91,91", "91/x", ",".join(str(i) for i in range(7))]:
        with pytest.raises(Rejected) as err:
            parse_unit_path(bad)
        assert err.value.code == "invalid_unit_path"


def test_dossier_codes_follow_the_law_format() -> None:
    assert normalize_dossier_code(" 000.00.12.h01-260113-0042 ") == "000.00.12.H01-260113-0042"
    for bad in ["", "ABC", "000.00.12.H01-26011-0042", "000.00.12.H01-260113-42"]:
        with pytest.raises(Rejected):
            normalize_dossier_code(bad)


def test_upload_request_from_form_fields() -> None:
    request = UploadRequest.from_form("000.00.12.h01-260113-0042", "giay_chung_sinh", DocumentKind.COMPONENT,
                                      {"unit_path": "91001,91", "owner_id": "091 203 001 234",
                                       "owner_phone": "+84912345678", "valid_until": "2030-01-01",
                                       "procedure_code": "1.001193"}, ["C:\\scans\\trang 1.jpg"])
    assert request.unit_code == "91001" and request.owner_id == samples.OWNER_ID
    assert request.owner_phone == samples.PHONE and request.valid_until == date(2030, 1, 1)
    assert request.original_names == ["trang 1.jpg"]
    result = UploadRequest.from_form("000.00.12.H01-260113-0042", "ignored", DocumentKind.RESULT,
                                     {"unit_path": "91", "owner_id": samples.OWNER_ID})
    assert result.component_code == "result"
    with pytest.raises(Rejected) as err:
        UploadRequest.from_form("000.00.12.H01-260113-0042", "x", DocumentKind.COMPONENT, {"unit_path": "91"})
    assert err.value.code == "invalid_owner_id"
    with pytest.raises(Rejected) as err:
        UploadRequest.from_form("000.00.12.H01-260113-0042", "x/../y", DocumentKind.COMPONENT,
                                {"unit_path": "91", "owner_id": samples.OWNER_ID})
    assert err.value.code == "invalid_component_code"


# ---- owners and the second factor -----------------------------------------------------------------

def test_owner_ids_are_citizen_ids_or_tax_codes_and_errors_do_not_echo_them() -> None:
    assert normalize_owner_id("091.203.001.234") == "091203001234"
    assert normalize_owner_id("123456789") == "123456789"
    assert normalize_owner_id("0301234567") == "0301234567"
    assert normalize_owner_id("0301234567001") == "0301234567-001"
    with pytest.raises(Rejected) as err:
        normalize_owner_id("12345")
    assert "12345" not in err.value.message
    assert normalize_phone("+84 912 345 678") == "0912345678"
    with pytest.raises(Rejected):
        normalize_phone("12")


def test_owner_hash_is_keyed_and_stable() -> None:
    first = owner_hash(PEPPER, "091203001234")
    assert first == owner_hash(PEPPER, "091 203 001 234")
    assert first != owner_hash(b"another pepper", "091203001234")
    assert "091203001234" not in first
    ensure_same_owner(PEPPER, "091203001234", first)
    with pytest.raises(Denied) as err:
        ensure_same_owner(PEPPER, samples.OTHER_OWNER_ID, first)
    assert err.value.code == "owner_mismatch"


def test_second_factor_is_the_last_four_digits_of_id_or_phone_bound_to_the_dossier() -> None:
    code = "000.00.12.H01-260113-0042"
    stored = second_factor_hashes(PEPPER, code, samples.OWNER_ID, samples.PHONE)
    assert len(stored) == 2
    assert check_second_factor(PEPPER, code, "1234", stored)  # ID number
    assert check_second_factor(PEPPER, code, "5678", stored)  # phone
    assert not check_second_factor(PEPPER, code, "0000", stored)
    assert not check_second_factor(PEPPER, "000.00.12.H01-260113-0043", "1234", stored)
    with pytest.raises(Rejected):
        check_second_factor(PEPPER, code, "12a4", stored)


# ---- records, retention, reuse ---------------------------------------------------------------------

def _record(**update: object) -> DocumentRecord:
    base = DocumentRecord(
        id="d1", dossier_code="000.00.12.H01-260113-0042", component_code="to_khai", kind=DocumentKind.COMPONENT,
        unit_code="91001", unit_path=["91001", "91"], owner_id_hash="h", object_key=object_key("91001", SHA),
        sha256=SHA, size=10, pages=1, uploaded_by=Actor(subject="u"), uploaded_at=NOW,
        retention_until=NOW + timedelta(days=1),
    )
    return base.model_copy(update=update)


def test_retention_per_procedure_default_permanent_and_results() -> None:
    policy = RetentionPolicy(default_days=3650, by_procedure={"1.001193": 30, "2.000001": -1}, result_days=7300)
    assert policy.retention_until("1.001193", DocumentKind.COMPONENT, NOW) == NOW + timedelta(days=30)
    assert policy.retention_until(None, DocumentKind.COMPONENT, NOW) == NOW + timedelta(days=3650)
    assert policy.retention_until("2.000001", DocumentKind.COMPONENT, NOW) is None
    assert policy.retention_until("1.001193", DocumentKind.RESULT, NOW) == NOW + timedelta(days=7300)


def test_due_for_deletion_respects_legal_hold_and_status() -> None:
    later = NOW + timedelta(days=2)
    assert due_for_deletion(_record(), later)
    assert not due_for_deletion(_record(), NOW)
    hold = LegalHold(reason="thanh tra", by=Actor(subject="admin"), at=NOW)
    assert not due_for_deletion(_record(legal_hold=hold), later)
    assert not due_for_deletion(_record(status=DocumentStatus.DELETED), later)
    assert not due_for_deletion(_record(retention_until=None), later)


def test_reuse_stops_at_expiry_and_deletion() -> None:
    assert reuse_problem(_record(valid_until=date(2026, 3, 2)), date(2026, 3, 2)) is None
    expired = reuse_problem(_record(valid_until=date(2026, 3, 1)), date(2026, 3, 2))
    assert isinstance(expired, ConflictError) and expired.code == "document_expired"
    deleted = reuse_problem(_record(status=DocumentStatus.DELETED), date(2026, 3, 2))
    assert deleted is not None and deleted.code == "document_deleted"


def test_download_name_is_plain_ascii() -> None:
    assert download_filename(_record(component_code="giấy_tờ")) == "000.00.12.H01-260113-0042_giay_to.pdf"


def test_page_geometry_uses_dpi_or_fits_a4() -> None:
    a4_300dpi = place_image(2480, 3508, (300.0, 300.0))
    assert round(a4_300dpi.page_width) == 595 and round(a4_300dpi.page_height) == 842
    photo = place_image(4000, 3000, None)  # landscape phone photo: A4 landscape, centred
    assert photo.page_width > photo.page_height
    assert photo.image_width <= photo.page_width and photo.image_height <= photo.page_height
    assert photo.x >= 0 and photo.y >= 0
    assert place_image(1000, 1000, (1.0, 1.0)).page_height == pytest.approx(841.8898)
