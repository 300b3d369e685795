"""Reception slips of Circular 01/2018/TT-VPCP, rendered as A5 portrait PDFs (bytes).

- Form 01 ``render_receipt_slip``: Giấy tiếp nhận hồ sơ và hẹn trả kết quả.
- Form 02 ``render_supplement_slip``: Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ.
- Form 03 ``render_refusal_slip``: Phiếu từ chối tiếp nhận giải quyết hồ sơ.

The input models hold primitive fields only, so this module depends on no other intake
module: the caller maps its dossier onto them. Datetimes must be timezone-aware and are shown
in Vietnam time (Asia/Ho_Chi_Minh). Every slip carrying a dossier code also carries its QR
code (DOMAIN §4); the QR payload is repeated in the PDF's /Keywords so it can be checked
without a decoder. Long tables repeat their header row and flow onto further pages, which are
then numbered "Trang i/N" next to the dossier reference.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import quote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from services.kit.pdf import FONT_BOLD, FONT_REGULAR, QRFlowable, nfc, register_fonts

__all__ = [
    "VN_TZ",
    "ComponentKind",
    "MissingItem",
    "ReceiptSlipData",
    "RefusalSlipData",
    "ReturnChannel",
    "SlipApplicant",
    "SlipComponent",
    "SlipOffice",
    "SupplementSlipData",
    "build_lookup_url",
    "format_date_line",
    "format_moment",
    "receipt_qr_payload",
    "render_receipt_slip",
    "render_refusal_slip",
    "render_supplement_slip",
]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ComponentKind = Literal["original", "certified_copy", "copy", "electronic"]
ReturnChannel = Literal["counter", "post"]

_KIND_LABELS: dict[str, str] = {
    "original": "Bản chính",
    "certified_copy": "Bản sao chứng thực",
    "copy": "Bản sao",
    "electronic": "Bản điện tử",
}

#: `<receiving unit identifier>-<YYMMDD>-<NNNN>` (DOMAIN §4), e.g. 000.00.12.H01-260113-0042.
DOSSIER_CODE_PATTERN = r"^[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*-\d{6}-\d{4}$"

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
DossierCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=DOSSIER_CODE_PATTERN)]


# --------------------------------------------------------------------------------------------
# Input models
# --------------------------------------------------------------------------------------------


class _SlipModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_url(value: str) -> str:
    if not re.match(r"^https?://\S+$", value):
        raise ValueError("lookup_base_url must be an absolute http(s) URL")
    return value


#: Optional text: blank strings become None.
OptText = Annotated[str | None, BeforeValidator(_blank_to_none)]
LookupUrl = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_url)]


class SlipOffice(_SlipModel):
    """The reception-and-result unit issuing the slip."""

    #: The unit itself, e.g. "Bộ phận Tiếp nhận và Trả kết quả xã Mỹ Hòa Hưng".
    name: NonEmpty
    #: The body it belongs to (first line of the header), e.g. "UBND xã Mỹ Hòa Hưng".
    unit_name: NonEmpty
    #: Locality written before the date ("Long Xuyên, ngày 05 tháng 02 năm 2026").
    place: OptText = None
    #: Contact phone printed on the supplement request.
    phone: OptText = None


class SlipApplicant(_SlipModel):
    name: NonEmpty
    #: Already masked by the caller (DOMAIN §9), e.g. "0891******34".
    id_number_masked: OptText = None
    phone: OptText = None
    address: OptText = None

    @field_validator("id_number_masked")
    @classmethod
    def _must_be_masked(cls, value: str | None) -> str | None:
        if value is not None and value.isdigit():
            raise ValueError("id_number_masked looks like a full, unmasked ID number")
        return value


class SlipComponent(_SlipModel):
    """A received dossier component (thành phần hồ sơ)."""

    name: NonEmpty
    kind: ComponentKind = "original"
    count: int = Field(default=1, ge=1)


class MissingItem(_SlipModel):
    """One thing to supplement or correct, with the reason."""

    name: NonEmpty
    reason: NonEmpty


class ReceiptSlipData(_SlipModel):
    """Form 01: receipt and appointment slip."""

    office: SlipOffice
    dossier_code: DossierCode
    #: Public lookup page; the QR payload is built from it by :func:`build_lookup_url`.
    lookup_base_url: LookupUrl
    applicant: SlipApplicant
    procedure_name: NonEmpty
    components: list[SlipComponent] = Field(min_length=1)
    dossier_set_count: int = Field(default=1, ge=1)
    #: Legal processing time as text, e.g. "03 ngày làm việc"; omitted when None.
    processing_time: OptText = None
    received_at: AwareDatetime
    due_at: AwareDatetime
    return_channel: ReturnChannel = "counter"
    #: Delivery address for postal return; the applicant's address when None.
    return_address: OptText = None
    officer_name: NonEmpty
    #: No-writing day (Ngày không viết): the officer filled in the forms for the citizen.
    no_writing_day: bool = False
    #: Officer who filled in the forms; defaults to ``officer_name``.
    form_filled_by: OptText = None
    #: Fee note, e.g. "8.000 đồng, đã nộp qua chuyển khoản"; omitted when None.
    fee_note: OptText = None

    @model_validator(mode="after")
    def _due_after_reception(self) -> ReceiptSlipData:
        if self.due_at < self.received_at:
            raise ValueError("due_at is before received_at")
        return self


class SupplementSlipData(_SlipModel):
    """Form 02: supplement request; lists everything missing, once and in full (DOMAIN §3)."""

    office: SlipOffice
    dossier_code: Annotated[DossierCode | None, BeforeValidator(_blank_to_none)] = None
    #: Reception reference when no dossier code was issued yet.
    reception_ref: OptText = None
    lookup_base_url: LookupUrl | None = None
    applicant: SlipApplicant
    procedure_name: NonEmpty
    received_at: AwareDatetime | None = None
    missing: list[MissingItem] = Field(min_length=1)
    officer_name: NonEmpty
    issued_at: AwareDatetime
    #: Phone to call for guidance; the office phone when None.
    contact_phone: OptText = None

    @model_validator(mode="after")
    def _has_reference(self) -> SupplementSlipData:
        if self.dossier_code is None and self.reception_ref is None:
            raise ValueError("either dossier_code or reception_ref is required")
        return self


class RefusalSlipData(_SlipModel):
    """Form 03: refusal to receive and resolve a dossier."""

    office: SlipOffice
    dossier_code: Annotated[DossierCode | None, BeforeValidator(_blank_to_none)] = None
    reception_ref: OptText = None
    lookup_base_url: LookupUrl | None = None
    applicant: SlipApplicant
    procedure_name: NonEmpty
    received_at: AwareDatetime | None = None
    reason: NonEmpty
    officer_name: NonEmpty
    issued_at: AwareDatetime


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def _vn(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: slips need timezone-aware datetimes")
    return dt.astimezone(VN_TZ)


def format_moment(dt: datetime) -> str:
    """'08 giờ 05 phút, ngày 13/01/2026' in Vietnam time."""
    d = _vn(dt)
    return f"{d:%H} giờ {d:%M} phút, ngày {d:%d/%m/%Y}"


def format_date_line(dt: datetime, place: str | None = None) -> str:
    """'Long Xuyên, ngày 05 tháng 02 năm 2026' (administrative style: day < 10 and months 1–2
    take a leading zero, other months do not)."""
    d = _vn(dt)
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    text = f"ngày {d.day:02d} tháng {month} năm {d.year}"
    return f"{place}, {text}" if place else text.capitalize()


def build_lookup_url(base_url: str, dossier_code: str) -> str:
    """The public lookup link for a dossier: ``{code}`` in ``base_url`` is replaced by the
    code, otherwise the code is appended as the ``code`` query parameter."""
    code = quote(dossier_code, safe="")
    if "{code}" in base_url:
        return base_url.replace("{code}", code)
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}code={code}"


def receipt_qr_payload(data: ReceiptSlipData) -> str:
    """The string encoded in the receipt slip's QR code."""
    return build_lookup_url(data.lookup_base_url, data.dossier_code)


def _optional_qr_payload(dossier_code: str | None, lookup_base_url: str | None) -> str | None:
    if dossier_code is None:
        return None
    return build_lookup_url(lookup_base_url, dossier_code) if lookup_base_url else dossier_code


def _t(text: str) -> str:
    """User text → paragraph markup: NFC, XML-escaped, newlines kept."""
    return escape(nfc(text)).replace("\n", "<br/>")


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------

_PAGE_W, _PAGE_H = A5
_MARGIN_L = 15 * mm
_MARGIN_R = 12 * mm
_MARGIN_T = 10 * mm
_MARGIN_B = 13 * mm
_FRAME_W = _PAGE_W - _MARGIN_L - _MARGIN_R
_BODY_SIZE = 8.5
_HEADER_SIZE = 7.5
_MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
_MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
_QR_SIZE = 22 * mm


@cache
def _styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    base = ParagraphStyle("body", fontName=FONT_REGULAR, fontSize=_BODY_SIZE, leading=_BODY_SIZE * 1.35)

    def derive(name: str, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "body": derive("body", alignment=TA_LEFT, spaceAfter=1.5),
        "item": derive("item", alignment=TA_JUSTIFY, spaceBefore=1.5, spaceAfter=1.5),
        "indent": derive("indent", alignment=TA_JUSTIFY, leftIndent=10, spaceAfter=1.5),
        "form_no": derive("form_no", fontSize=7, leading=8.5, alignment=TA_RIGHT),
        "hdr": derive("hdr", fontSize=_HEADER_SIZE, leading=_HEADER_SIZE * 1.3, alignment=TA_CENTER),
        "hdr_b": derive(
            "hdr_b",
            fontName=FONT_BOLD,
            fontSize=_HEADER_SIZE,
            leading=_HEADER_SIZE * 1.3,
            alignment=TA_CENTER,
        ),
        "motto_2": derive("motto_2", fontName=FONT_BOLD, fontSize=8, leading=10, alignment=TA_CENTER),
        "date": derive("date", fontSize=7.5, leading=10, alignment=TA_CENTER, spaceBefore=3),
        "title": derive("title", fontName=FONT_BOLD, fontSize=11, leading=14, alignment=TA_CENTER, spaceBefore=8),
        "code": derive("code", fontName=FONT_BOLD, fontSize=9.5, leading=12, alignment=TA_CENTER),
        "cell": derive("cell", fontSize=8, leading=10, alignment=TA_LEFT),
        "cell_c": derive("cell_c", fontSize=8, leading=10, alignment=TA_CENTER),
        "cell_h": derive("cell_h", fontName=FONT_BOLD, fontSize=8, leading=10, alignment=TA_CENTER),
        "qr_caption": derive("qr_caption", fontSize=6, leading=7.5, alignment=TA_CENTER),
        "sign_title": derive("sign_title", fontName=FONT_BOLD, fontSize=8.5, leading=11, alignment=TA_CENTER),
        "sign_note": derive("sign_note", fontSize=7, leading=9, alignment=TA_CENTER),
        "sign_name": derive("sign_name", fontName=FONT_BOLD, fontSize=8.5, leading=11, alignment=TA_CENTER),
        "note_box": derive("note_box", fontSize=8, leading=10.5),
    }


class _NumberedCanvas(Canvas):
    """Defers page output so that multi-page slips get 'Trang i/N' and their reference on
    every page; single-page slips get no footer."""

    def __init__(self, *args: Any, footer: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab API name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            if total > 1:
                text = f"Trang {self._pageNumber}/{total}"
                if self._footer:
                    text = f"{self._footer} · {text}"
                self.setFont(FONT_REGULAR, 6.5)
                self.drawCentredString(_PAGE_W / 2, _MARGIN_B / 2, text)
            super().showPage()
        super().save()


def _motto_font_size(width: float) -> float:
    size = 8.0
    while size > 6.0 and stringWidth(_MOTTO, FONT_BOLD, size) > width:
        size -= 0.25
    return size


def _header(form_no: str, office: SlipOffice, moment: datetime) -> list[Any]:
    st = _styles()
    left_w = _FRAME_W * 0.44
    right_w = _FRAME_W - left_w
    motto_size = _motto_font_size(right_w - 4)
    motto_style = ParagraphStyle("motto", parent=st["hdr_b"], fontSize=motto_size, leading=motto_size * 1.3)
    left = [
        Paragraph(_t(office.unit_name.upper()), st["hdr"]),
        Paragraph(_t(office.name.upper()), st["hdr_b"]),
        HRFlowable(width="35%", thickness=0.6, color="black", spaceBefore=1.5, spaceAfter=0, hAlign="CENTER"),
    ]
    right = [
        Paragraph(_MOTTO, motto_style),
        Paragraph(_MOTTO_2, st["motto_2"]),
        HRFlowable(
            width=stringWidth(_MOTTO_2, FONT_BOLD, 8),
            thickness=0.6,
            color="black",
            spaceBefore=1.5,
            spaceAfter=0,
            hAlign="CENTER",
        ),
        Paragraph(_t(format_date_line(moment, office.place)), st["date"]),
    ]
    table = Table([[left, right]], colWidths=[left_w, right_w])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_REGULAR, 8, 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 1),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [Paragraph(f"Mẫu số {form_no}", st["form_no"]), Spacer(1, 2), table]


def _title_block(title: str, reference: str | None) -> list[Any]:
    st = _styles()
    out: list[Any] = [Paragraph(title, st["title"])]
    if reference:
        out.append(Paragraph(escape(reference), st["code"]))
    out.append(Spacer(1, 5))
    return out


def _with_qr(lines: list[Any], payload: str | None) -> list[Any]:
    """Put the applicant block on the left and the QR code (if any) on the right."""
    if payload is None:
        return lines
    st = _styles()
    qr_w = _QR_SIZE + 4
    qr_cell = [
        QRFlowable(payload, _QR_SIZE, quiet_zone=2),
        Paragraph("Tra cứu hồ sơ", st["qr_caption"]),
    ]
    table = Table([[lines, qr_cell]], colWidths=[_FRAME_W - qr_w, qr_w])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_REGULAR, 8, 10),
                ("VALIGN", (0, 0), (0, 0), "TOP"),
                ("VALIGN", (1, 0), (1, 0), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [table]


def _applicant_lines(office: SlipOffice, applicant: SlipApplicant, received_at: datetime | None) -> list[Any]:
    st = _styles()
    when = f" ngày {_vn(received_at):%d/%m/%Y}" if received_at is not None else ""
    lines = [
        Paragraph(f"<b>{_t(office.name)}</b>{when} tiếp nhận hồ sơ của:", st["body"]),
        Paragraph(f"Ông/Bà: <b>{_t(applicant.name)}</b>", st["indent"]),
    ]
    if applicant.id_number_masked:
        lines.append(Paragraph(f"Số định danh cá nhân: {_t(applicant.id_number_masked)}", st["indent"]))
    if applicant.address:
        lines.append(Paragraph(f"Địa chỉ: {_t(applicant.address)}", st["indent"]))
    if applicant.phone:
        lines.append(Paragraph(f"Số điện thoại: {_t(applicant.phone)}", st["indent"]))
    return lines


def _grid(rows: list[list[Any]], col_widths: Sequence[float], center_cols: Sequence[int] = ()) -> Table:
    """A bordered table whose first row is a header repeated on every page. Plain-string
    cells (cheaper than paragraphs: used for numbers) are set in DejaVu 8 pt."""
    table = Table(rows, colWidths=list(col_widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_REGULAR, 8, 10),
                *[("ALIGN", (c, 0), (c, -1), "CENTER") for c in center_cols],
                ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), "#EEEEEE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            ]
        )
    )
    return table


def _signature(title: str, note: str, name: str) -> list[Any]:
    st = _styles()
    return [
        Paragraph(title, st["sign_title"]),
        Paragraph(note, st["sign_note"]),
        Spacer(1, 40),
        Paragraph(_t(name), st["sign_name"]),
    ]


def _signatures(left: list[Any] | None, right: list[Any]) -> Any:
    table = Table([[left or "", right]], colWidths=[_FRAME_W / 2, _FRAME_W / 2])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_REGULAR, 8, 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return KeepTogether([Spacer(1, 8), table])


def _boxed(markup: str) -> Table:
    table = Table([[Paragraph(markup, _styles()["note_box"])]], colWidths=[_FRAME_W])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_REGULAR, 8, 10),
                ("BOX", (0, 0), (-1, -1), 0.6, "black"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            ]
        )
    )
    return table


def _render(
    story: list[Any],
    *,
    title: str,
    form_no: str,
    office: SlipOffice,
    reference: str | None,
    qr_payload: str | None,
) -> bytes:
    register_fonts()
    buf = io.BytesIO()
    frame = Frame(
        _MARGIN_L,
        _MARGIN_B,
        _FRAME_W,
        _PAGE_H - _MARGIN_T - _MARGIN_B,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    doc = BaseDocTemplate(
        buf,
        pagesize=A5,
        pageTemplates=[PageTemplate(id="slip", frames=[frame])],
        leftMargin=_MARGIN_L,
        rightMargin=_MARGIN_R,
        topMargin=_MARGIN_T,
        bottomMargin=_MARGIN_B,
        title=title,
        author=nfc(office.unit_name),
        subject=f"Mẫu số {form_no}" + (f" - {reference}" if reference else ""),
        keywords=qr_payload or "",
        creator="Một Cửa",
        producer="Một Cửa",
        initialFontName=FONT_REGULAR,
        initialFontSize=_BODY_SIZE,
    )
    footer = reference or ""

    def make_canvas(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        return _NumberedCanvas(*args, footer=footer, **kwargs)

    doc.build(story, canvasmaker=make_canvas)
    return buf.getvalue()


def _reference(dossier_code: str | None, reception_ref: str | None) -> str | None:
    if dossier_code:
        return f"Mã hồ sơ: {dossier_code}"
    if reception_ref:
        return f"Số tiếp nhận: {nfc(reception_ref)}"
    return None


# --------------------------------------------------------------------------------------------
# Public renderers
# --------------------------------------------------------------------------------------------


def render_receipt_slip(data: ReceiptSlipData) -> bytes:
    """Form 01: GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ."""
    st = _styles()
    title = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
    reference = _reference(data.dossier_code, None)
    payload = receipt_qr_payload(data)

    lines = _applicant_lines(data.office, data.applicant, None)
    lines.append(Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_t(data.procedure_name)}</b>", st["body"]))

    story: list[Any] = [*_header("01", data.office, data.received_at), *_title_block(title, reference)]
    story += _with_qr(lines, payload)

    n = 0

    def item(markup: str) -> Paragraph:
        nonlocal n
        n += 1
        return Paragraph(f"{n}. {markup}", st["item"])

    story.append(item("Thành phần hồ sơ nộp gồm:"))
    rows: list[list[Any]] = [
        [
            Paragraph("TT", st["cell_h"]),
            Paragraph("Tên giấy tờ", st["cell_h"]),
            Paragraph("Hình thức", st["cell_h"]),
            Paragraph("Số lượng", st["cell_h"]),
        ]
    ]
    for i, comp in enumerate(data.components, start=1):
        rows.append(
            [
                str(i),
                Paragraph(_t(comp.name), st["cell"]),
                Paragraph(_KIND_LABELS[comp.kind], st["cell_c"]),
                f"{comp.count:02d}",
            ]
        )
    story.append(_grid(rows, [20, _FRAME_W - 20 - 86 - 46, 86, 46], center_cols=(0, 3)))
    story.append(Spacer(1, 2))
    story.append(item(f"Số lượng hồ sơ: {data.dossier_set_count:02d} (bộ)"))
    if data.processing_time:
        story.append(item(f"Thời gian giải quyết hồ sơ theo quy định: {_t(data.processing_time)}"))
    story.append(item(f"Thời gian nhận hồ sơ: {format_moment(data.received_at)}"))
    story.append(item(f"Thời gian trả kết quả giải quyết hồ sơ: <b>{format_moment(data.due_at)}</b>"))
    if data.return_channel == "counter":
        channel = f"Nhận trực tiếp tại {_t(data.office.name)}"
    else:
        address = data.return_address or data.applicant.address
        channel = "Qua dịch vụ bưu chính công ích" + (f", địa chỉ: {_t(address)}" if address else "")
    story.append(item(f"Đăng ký nhận kết quả: {channel}"))
    if data.fee_note:
        story.append(Paragraph(f"<b>Phí, lệ phí:</b> {_t(data.fee_note)}", st["item"]))

    applicant_note = "(Ký và ghi rõ họ tên)"
    if data.no_writing_day:
        filler = data.form_filled_by or data.officer_name
        story.append(Spacer(1, 3))
        story.append(
            _boxed(f"<b>Ngày không viết</b> - Cán bộ điền hộ biểu mẫu: <b>{_t(filler)}</b>. Công dân ký/điểm chỉ.")
        )
        applicant_note = "(Công dân ký/điểm chỉ)"

    story.append(
        _signatures(
            _signature("NGƯỜI NỘP HỒ SƠ", applicant_note, data.applicant.name),
            _signature("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)", data.officer_name),
        )
    )
    return _render(story, title=title, form_no="01", office=data.office, reference=reference, qr_payload=payload)


def render_supplement_slip(data: SupplementSlipData) -> bytes:
    """Form 02: PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ."""
    st = _styles()
    title = "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ"
    reference = _reference(data.dossier_code, data.reception_ref)
    payload = _optional_qr_payload(data.dossier_code, data.lookup_base_url)

    lines = _applicant_lines(data.office, data.applicant, data.received_at)
    lines.append(Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_t(data.procedure_name)}</b>", st["body"]))

    story: list[Any] = [*_header("02", data.office, data.issued_at), *_title_block(title, reference)]
    story += _with_qr(lines, payload)
    story.append(
        Paragraph(
            "Sau khi kiểm tra, đối chiếu thành phần hồ sơ, đề nghị Ông/Bà bổ sung, hoàn thiện hồ sơ "
            f"gồm <b>{len(data.missing)}</b> nội dung sau:",
            st["item"],
        )
    )
    rows: list[list[Any]] = [
        [
            Paragraph("TT", st["cell_h"]),
            Paragraph("Nội dung cần bổ sung, hoàn thiện", st["cell_h"]),
            Paragraph("Lý do", st["cell_h"]),
        ]
    ]
    for i, miss in enumerate(data.missing, start=1):
        rows.append(
            [
                Paragraph(str(i), st["cell_c"]),
                Paragraph(_t(miss.name), st["cell"]),
                Paragraph(_t(miss.reason), st["cell"]),
            ]
        )
    rest = _FRAME_W - 20
    story.append(_grid(rows, [20, rest * 0.52, rest * 0.48], center_cols=(0,)))
    story.append(Spacer(1, 3))
    phone = data.contact_phone or data.office.phone
    contact = f"{_t(data.officer_name)}" + (f", số điện thoại {_t(phone)}" if phone else "")
    story.append(
        Paragraph(
            f"Trong quá trình hoàn thiện hồ sơ, nếu có vướng mắc, Ông/Bà liên hệ với {contact} để được hướng dẫn./.",
            st["item"],
        )
    )
    story.append(_signatures(None, _signature("NGƯỜI HƯỚNG DẪN", "(Ký và ghi rõ họ tên)", data.officer_name)))
    return _render(
        story,
        title=title,
        form_no="02",
        office=data.office,
        reference=reference,
        qr_payload=payload,
    )


def render_refusal_slip(data: RefusalSlipData) -> bytes:
    """Form 03: PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ."""
    st = _styles()
    title = "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ"
    reference = _reference(data.dossier_code, data.reception_ref)
    payload = _optional_qr_payload(data.dossier_code, data.lookup_base_url)

    lines = _applicant_lines(data.office, data.applicant, data.received_at)
    lines.append(Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_t(data.procedure_name)}</b>", st["body"]))

    story: list[Any] = [*_header("03", data.office, data.issued_at), *_title_block(title, reference)]
    story += _with_qr(lines, payload)
    story.append(
        Paragraph(
            "Qua nghiên cứu, đối chiếu với các quy định hiện hành, "
            f"{_t(data.office.name)} từ chối tiếp nhận, giải quyết hồ sơ này với lý do cụ thể như sau:",
            st["item"],
        )
    )
    for para in nfc(data.reason).split("\n"):
        if para.strip():
            story.append(Paragraph(escape(para.strip()), st["indent"]))
    story.append(Paragraph("Xin thông báo để Ông/Bà được biết và thực hiện./.", st["item"]))
    story.append(_signatures(None, _signature("NGƯỜI TIẾP NHẬN HỒ SƠ", "(Ký và ghi rõ họ tên)", data.officer_name)))
    return _render(
        story,
        title=title,
        form_no="03",
        office=data.office,
        reference=reference,
        qr_payload=payload,
    )
