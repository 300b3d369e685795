"""Circular 01/2018 slips (forms 01, 02, 03) rendered as A5 PDFs, read back with pypdf."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import segno
from pydantic import ValidationError
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from services.intake.slips import (
    MissingItem,
    ReceiptSlipData,
    RefusalSlipData,
    SlipApplicant,
    SlipComponent,
    SlipOffice,
    SupplementSlipData,
    build_lookup_url,
    format_date_line,
    format_moment,
    receipt_qr_payload,
    render_receipt_slip,
    render_refusal_slip,
    render_supplement_slip,
)
from services.kit.pdf import FONT_BOLD, FONT_REGULAR, draw_qr, qr_matrix, register_fonts

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.00.12.H01-260113-0042"
LOOKUP = "https://dichvucong.angiang.gov.vn/tra-cuu-ho-so"
A5_W, A5_H = 419.5, 595.3

OFFICE = SlipOffice(
    name="Bộ phận Tiếp nhận và Trả kết quả xã Mỹ Hòa Hưng",
    unit_name="UBND xã Mỹ Hòa Hưng",
    place="Mỹ Hòa Hưng",
    phone="0296 3852 111",
)
APPLICANT = SlipApplicant(
    name="Nguyễn Thị Hồng Nhung",
    id_number_masked="089******123",
    phone="0912 345 678",
    address="Tổ 5, ấp Mỹ Thới, xã Mỹ Hòa Hưng, tỉnh An Giang",
)
COMPONENTS = [
    SlipComponent(name="Tờ khai đăng ký khai sinh", kind="original", count=1),
    SlipComponent(name="Giấy chứng sinh", kind="original", count=1),
    SlipComponent(name="Giấy chứng nhận kết hôn của cha, mẹ", kind="certified_copy", count=2),
]


def receipt(**overrides: Any) -> ReceiptSlipData:
    fields: dict[str, Any] = {
        "office": OFFICE,
        "dossier_code": CODE,
        "lookup_base_url": LOOKUP,
        "applicant": APPLICANT,
        "procedure_name": "Đăng ký khai sinh",
        "components": COMPONENTS,
        "processing_time": "Trong ngày làm việc",
        "received_at": datetime(2026, 1, 14, 8, 5, tzinfo=VN),
        "due_at": datetime(2026, 1, 14, 16, 30, tzinfo=VN),
        "officer_name": "Trần Văn Phúc",
        "fee_note": "Miễn lệ phí (đăng ký đúng hạn)",
    }
    fields.update(overrides)
    return ReceiptSlipData(**fields)


def supplement(n: int = 3, **overrides: Any) -> SupplementSlipData:
    fields: dict[str, Any] = {
        "office": OFFICE,
        "dossier_code": CODE,
        "applicant": APPLICANT,
        "procedure_name": "Đăng ký khai sinh",
        "received_at": datetime(2026, 1, 13, 9, 0, tzinfo=VN),
        "issued_at": datetime(2026, 1, 13, 9, 30, tzinfo=VN),
        "officer_name": "Trần Văn Phúc",
        "missing": [
            MissingItem(name=f"Giấy tờ bổ sung số {i:02d}", reason=f"Lý do thiếu số {i:02d}: bản sao chưa chứng thực")
            for i in range(1, n + 1)
        ],
    }
    fields.update(overrides)
    return SupplementSlipData(**fields)


def refusal(**overrides: Any) -> RefusalSlipData:
    fields: dict[str, Any] = {
        "office": OFFICE,
        "reception_ref": "TN-0042",
        "applicant": APPLICANT,
        "procedure_name": "Đăng ký khai sinh",
        "issued_at": datetime(2026, 2, 5, 10, 0, tzinfo=VN),
        "reason": "Hồ sơ không thuộc thẩm quyền giải quyết của UBND xã.\nĐề nghị liên hệ Sở Tư pháp tỉnh.",
        "officer_name": "Lê Thị Hoa",
    }
    fields.update(overrides)
    return RefusalSlipData(**fields)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """All pages' text, whitespace collapsed (table cells and wrapped lines break anywhere)."""
    raw = "\n".join(page.extract_text() for page in read(pdf).pages)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", raw))


def fonts_of(pdf: bytes) -> list[DictionaryObject]:
    """The font dictionaries referenced by every page."""
    out: list[DictionaryObject] = []
    for page in read(pdf).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for ref in cast(DictionaryObject, resources["/Font"].get_object()).values():
            out.append(cast(DictionaryObject, ref.get_object()))
    return out


# ---------------------------------------------------------------------------------------------
# Form 01
# ---------------------------------------------------------------------------------------------


def test_receipt_slip_contains_every_field() -> None:
    text = text_of(render_receipt_slip(receipt()))
    for expected in [
        "Mẫu số 01",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "UBND XÃ MỸ HÒA HƯNG",
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        CODE,
        "Nguyễn Thị Hồng Nhung",
        "089******123",
        "0912 345 678",
        "Tổ 5, ấp Mỹ Thới, xã Mỹ Hòa Hưng, tỉnh An Giang",
        "Đăng ký khai sinh",
        "Thời gian nhận hồ sơ: 08 giờ 05 phút, ngày 14/01/2026",
        "Thời gian trả kết quả giải quyết hồ sơ: 16 giờ 30 phút, ngày 14/01/2026",
        "Mỹ Hòa Hưng, ngày 14 tháng 01 năm 2026",
        "Nhận trực tiếp tại Bộ phận Tiếp nhận và Trả kết quả xã Mỹ Hòa Hưng",
        "Phí, lệ phí: Miễn lệ phí (đăng ký đúng hạn)",
        "NGƯỜI NỘP HỒ SƠ",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "Trần Văn Phúc",
    ]:
        assert expected in text, expected
    for comp in COMPONENTS:
        assert comp.name in text
    assert "Bản chính" in text
    assert "Bản sao chứng thực" in text
    assert "Ngày không viết" not in text


def test_receipt_no_writing_day_flags() -> None:
    text = text_of(render_receipt_slip(receipt(no_writing_day=True, form_filled_by="Phạm Quốc Bảo")))
    assert "Ngày không viết" in text
    assert "Cán bộ điền hộ biểu mẫu: Phạm Quốc Bảo" in text
    assert "Công dân ký/điểm chỉ" in text


def test_receipt_no_writing_day_filler_defaults_to_officer() -> None:
    text = text_of(render_receipt_slip(receipt(no_writing_day=True)))
    assert "Cán bộ điền hộ biểu mẫu: Trần Văn Phúc" in text


def test_receipt_postal_return_uses_return_address() -> None:
    text = text_of(
        render_receipt_slip(receipt(return_channel="post", return_address="Số 12 Lê Lợi, phường Long Xuyên"))
    )
    assert "Qua dịch vụ bưu chính công ích, địa chỉ: Số 12 Lê Lợi, phường Long Xuyên" in text
    fallback = text_of(render_receipt_slip(receipt(return_channel="post")))
    assert "địa chỉ: Tổ 5, ấp Mỹ Thới" in fallback


def test_receipt_shows_vietnam_time_for_utc_input() -> None:
    data = receipt(received_at=datetime(2026, 1, 14, 1, 5, tzinfo=UTC), due_at=datetime(2026, 1, 16, 9, 0, tzinfo=UTC))
    text = text_of(render_receipt_slip(data))
    assert "08 giờ 05 phút, ngày 14/01/2026" in text
    assert "16 giờ 00 phút, ngày 16/01/2026" in text


def test_receipt_qr_payload_is_the_lookup_link_in_metadata() -> None:
    data = receipt()
    payload = receipt_qr_payload(data)
    assert payload == f"{LOOKUP}?code={CODE}"
    meta = read(render_receipt_slip(data)).metadata
    assert meta is not None
    assert meta["/Keywords"] == payload
    assert CODE in str(meta["/Subject"])
    assert meta["/Title"] == "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"


def test_decomposed_and_markup_text_is_normalised_and_escaped() -> None:
    nfd_name = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    data = receipt(
        applicant=APPLICANT.model_copy(update={"name": nfd_name}),
        procedure_name="Cấp bản sao <trích lục> & chứng thực",
    )
    raw = "\n".join(p.extract_text() for p in read(render_receipt_slip(data)).pages)
    assert "Nguyễn Thị Hồng Nhung" in raw  # precomposed glyphs, not base letters + marks
    assert "Cấp bản sao <trích lục> & chứng thực" in re.sub(r"\s+", " ", raw)


# ---------------------------------------------------------------------------------------------
# Form 02
# ---------------------------------------------------------------------------------------------


def test_supplement_slip_lists_every_item_with_reason() -> None:
    data = supplement(3)
    text = text_of(render_supplement_slip(data))
    for expected in [
        "Mẫu số 02",
        "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
        CODE,
        "Nguyễn Thị Hồng Nhung",
        "Đăng ký khai sinh",
        "NGƯỜI HƯỚNG DẪN",
        "Trần Văn Phúc, số điện thoại 0296 3852 111",
        "Mỹ Hòa Hưng, ngày 13 tháng 01 năm 2026",
    ]:
        assert expected in text, expected
    for item in data.missing:
        assert item.name in text
        assert item.reason in text


def test_forty_item_supplement_flows_onto_more_pages_with_every_item_once() -> None:
    data = supplement(40)
    pdf = render_supplement_slip(data)
    reader = read(pdf)
    assert len(reader.pages) > 1
    text = text_of(pdf)
    for item in data.missing:
        assert text.count(item.name) == 1, item.name
        assert text.count(item.reason) == 1, item.reason
    # the table header repeats on every page; every page carries the reference and its number
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    total = len(pages)
    for i, page in enumerate(pages, start=1):
        assert "Nội dung cần bổ sung, hoàn thiện" in page
        assert f"Mã hồ sơ: {CODE} · Trang {i}/{total}" in page
    assert "NGƯỜI HƯỚNG DẪN" in pages[-1]


def test_supplement_with_reception_reference_only() -> None:
    pdf = render_supplement_slip(supplement(1, dossier_code=None, reception_ref="TN-2026-0042"))
    assert "Số tiếp nhận: TN-2026-0042" in text_of(pdf)
    meta = read(pdf).metadata
    assert meta is not None
    assert meta.get("/Keywords", "") == ""  # no dossier code → no QR


def test_supplement_qr_uses_lookup_link_when_given() -> None:
    pdf = render_supplement_slip(supplement(1, lookup_base_url=LOOKUP))
    meta = read(pdf).metadata
    assert meta is not None
    assert meta["/Keywords"] == f"{LOOKUP}?code={CODE}"


# ---------------------------------------------------------------------------------------------
# Form 03
# ---------------------------------------------------------------------------------------------


def test_refusal_slip_contains_reason_and_officer() -> None:
    text = text_of(render_refusal_slip(refusal()))
    for expected in [
        "Mẫu số 03",
        "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
        "Số tiếp nhận: TN-0042",
        "Nguyễn Thị Hồng Nhung",
        "Đăng ký khai sinh",
        "Hồ sơ không thuộc thẩm quyền giải quyết của UBND xã.",
        "Đề nghị liên hệ Sở Tư pháp tỉnh.",
        "Lê Thị Hoa",
        "Mỹ Hòa Hưng, ngày 05 tháng 02 năm 2026",
    ]:
        assert expected in text, expected


# ---------------------------------------------------------------------------------------------
# All forms: page size, fonts
# ---------------------------------------------------------------------------------------------

ALL_SLIPS = [
    pytest.param(lambda: render_receipt_slip(receipt()), id="01"),
    pytest.param(lambda: render_supplement_slip(supplement(40)), id="02"),
    pytest.param(lambda: render_refusal_slip(refusal()), id="03"),
]


@pytest.mark.parametrize("render", ALL_SLIPS)
def test_every_page_is_a5_portrait(render: Any) -> None:
    for page in read(render()).pages:
        assert float(page.mediabox.width) == pytest.approx(A5_W, abs=1)
        assert float(page.mediabox.height) == pytest.approx(A5_H, abs=1)


@pytest.mark.parametrize("render", ALL_SLIPS)
def test_only_embedded_dejavu_fonts(render: Any) -> None:
    fonts = fonts_of(render())
    names = {str(font["/BaseFont"]) for font in fonts}
    assert names, "no font resources"
    assert all(re.fullmatch(r"/[A-Z]{6}\+DejaVuSans(-Bold)?", n) for n in names), names
    for font in fonts:
        descriptor = cast(DictionaryObject, font["/FontDescriptor"].get_object())
        assert "/FontFile2" in descriptor  # embedded TrueType


# ---------------------------------------------------------------------------------------------
# Validation and formatting
# ---------------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError):
        receipt(received_at=datetime(2026, 1, 14, 8, 5))


def test_due_before_reception_is_rejected() -> None:
    with pytest.raises(ValidationError, match="due_at"):
        receipt(due_at=datetime(2026, 1, 13, 8, 0, tzinfo=VN))


@pytest.mark.parametrize("code", ["", "000.00.12.H01-26011-0042", "000.00.12.H01-260113-42", "X 1-260113-0042"])
def test_malformed_dossier_code_is_rejected(code: str) -> None:
    with pytest.raises(ValidationError):
        receipt(dossier_code=code)


def test_unmasked_id_number_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unmasked"):
        SlipApplicant(name="A", id_number_masked="089123456789")


def test_supplement_needs_a_reference_and_items() -> None:
    with pytest.raises(ValidationError, match="reception_ref"):
        supplement(1, dossier_code=None)
    with pytest.raises(ValidationError):
        supplement(0)


def test_empty_components_and_bad_lookup_url_are_rejected() -> None:
    with pytest.raises(ValidationError):
        receipt(components=[])
    with pytest.raises(ValidationError):
        receipt(lookup_base_url="dichvucong.gov.vn/tra-cuu")


def test_format_moment_and_date_line() -> None:
    assert format_moment(datetime(2026, 3, 2, 7, 3, tzinfo=VN)) == "07 giờ 03 phút, ngày 02/03/2026"
    # administrative style: leading zero for day < 10 and for months 1 and 2 only
    assert format_date_line(datetime(2026, 2, 5, tzinfo=VN), "Long Xuyên") == "Long Xuyên, ngày 05 tháng 02 năm 2026"
    assert format_date_line(datetime(2026, 3, 5, tzinfo=VN), "Long Xuyên") == "Long Xuyên, ngày 05 tháng 3 năm 2026"
    assert format_date_line(datetime(2026, 11, 25, tzinfo=VN)) == "Ngày 25 tháng 11 năm 2026"
    # 17:30 UTC on 31 Dec is already New Year in Vietnam
    assert format_date_line(datetime(2025, 12, 31, 17, 30, tzinfo=UTC)) == "Ngày 01 tháng 01 năm 2026"


def test_build_lookup_url() -> None:
    assert build_lookup_url("https://x.gov.vn/tra-cuu", CODE) == f"https://x.gov.vn/tra-cuu?code={CODE}"
    assert build_lookup_url("https://x.gov.vn/tra-cuu?lang=vi", CODE) == f"https://x.gov.vn/tra-cuu?lang=vi&code={CODE}"
    assert build_lookup_url("https://x.gov.vn/ho-so/{code}/tien-do", CODE) == f"https://x.gov.vn/ho-so/{CODE}/tien-do"


# ---------------------------------------------------------------------------------------------
# services.kit.pdf
# ---------------------------------------------------------------------------------------------


def test_register_fonts_is_idempotent() -> None:
    from reportlab.pdfbase import pdfmetrics

    register_fonts()
    before = list(pdfmetrics.getRegisteredFontNames())
    register_fonts()
    after = list(pdfmetrics.getRegisteredFontNames())
    assert before == after
    assert {FONT_REGULAR, FONT_BOLD} <= set(after)


def test_qr_matrix_is_segnos_matrix() -> None:
    payload = f"{LOOKUP}?code={CODE}"
    matrix = qr_matrix(payload)
    expected = segno.make(payload, error="m", micro=False)
    assert len(matrix) == len(expected.matrix) == 4 * int(str(expected.version)) + 17
    assert [[bool(v) for v in row] for row in expected.matrix] == [list(row) for row in matrix]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
def test_drawn_qr_matches_matrix_when_rasterised(tmp_path: Path) -> None:
    """No QR decoder is available: rasterise the drawn code and sample every module instead."""
    from PIL import Image
    from reportlab.pdfgen.canvas import Canvas

    payload = f"{LOOKUP}?code={CODE}"
    matrix = qr_matrix(payload)
    quiet = 4
    modules = len(matrix) + 2 * quiet
    unit = 4.0  # points per module
    size = modules * unit
    pdf_path = tmp_path / "qr.pdf"
    canvas = Canvas(str(pdf_path), pagesize=(size, size))
    draw_qr(canvas, payload, 0, 0, size, quiet_zone=quiet)
    canvas.save()
    subprocess.run(
        ["pdftoppm", "-r", "144", "-gray", "-png", "-singlefile", str(pdf_path), str(tmp_path / "qr")],
        check=True,
    )
    image = Image.open(tmp_path / "qr.png").convert("L")
    px_per_module = image.width / modules
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            x = int((c + quiet + 0.5) * px_per_module)
            y = int((r + quiet + 0.5) * px_per_module)
            pixel = image.getpixel((x, y))
            assert isinstance(pixel, int)
            assert (pixel < 128) == dark, (r, c)
    # the quiet zone stays white
    assert image.getpixel((1, 1)) == 255
