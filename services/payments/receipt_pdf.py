"""The electronic fee receipt (biên lai thu phí, lệ phí) as an A5 PDF in Vietnamese.

Fonts are the kit's DejaVu faces (Vietnamese diacritics), text is NFC-normalised, and the
receipt code is drawn as a QR code and repeated in the PDF's keywords.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.kit.pdf import FONT_BOLD, FONT_REGULAR, QRFlowable, nfc, register_fonts
from services.payments.model.intent import CHANNEL_LABELS, PaymentIntent
from services.payments.model.receipt import amount_in_words, format_vnd

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT_REGULAR, fontSize=9, leading=12, alignment=TA_LEFT)
    return {
        "base": base,
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        "bold_center": ParagraphStyle("bold_center", parent=base, fontName=FONT_BOLD, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=13, leading=17,
                                alignment=TA_CENTER, spaceBefore=4),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(nfc(text)), style)


def render_receipt(intent: PaymentIntent, *, issuer_name: str, lookup_url: str | None = None) -> bytes:
    """PDF bytes of the receipt of a paid (or since refunded) intent."""
    if intent.receipt is None or intent.paid_at is None:
        raise ValueError("this payment has no receipt")
    register_fonts()
    s = _styles()
    receipt = intent.receipt
    paid_local = intent.paid_at.astimezone(VN_TZ)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A5, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=10 * mm, bottomMargin=10 * mm,
        title=nfc(f"Biên lai {receipt.code}"), author=nfc(issuer_name), subject="Biên lai thu phí, lệ phí",
        keywords=receipt.code, creator="Một Cửa — payments",
    )
    header = Table(
        [[_p(issuer_name, s["bold_center"]), _p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", s["bold_center"])],
         [_p(f"Mã đơn vị: {intent.unit_code}", s["center"]), _p("Độc lập - Tự do - Hạnh phúc", s["bold_center"])]],
        colWidths=[50 * mm, 74 * mm],
    )
    story: list[Any] = [header, Spacer(1, 4 * mm)]
    story.append(_p("BIÊN LAI THU PHÍ, LỆ PHÍ", s["title"]))
    story.append(_p("(Biên lai điện tử)", s["center"]))
    story.append(_p(f"Ký hiệu: {receipt.series}    Số: {receipt.number:07d}", s["bold_center"]))
    story.append(Spacer(1, 4 * mm))
    lines = [
        f"Họ tên người nộp: {intent.payer.name}",
        f"Mã hồ sơ: {intent.dossier_code}",
    ]
    if intent.procedure_name:
        lines.append(f"Thủ tục: {intent.procedure_name}")
    for line in lines:
        story.append(_p(line, s["base"]))
    story.append(Spacer(1, 2 * mm))
    rows = [[_p("STT", s["bold_center"]), _p("Nội dung thu", s["bold_center"]), _p("Số tiền", s["bold_center"])]]
    for i, item in enumerate(intent.items, start=1):
        rows.append([_p(str(i), s["center"]), _p(item.name, s["base"]), _p(format_vnd(item.amount), s["right"])])
    rows.append(["", _p("Tổng cộng", s["bold_center"]), _p(format_vnd(intent.amount), s["right"])])
    table = Table(rows, colWidths=[10 * mm, 80 * mm, 34 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, "#555555"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONTNAME", (0, -1), (-1, -1), FONT_BOLD),
    ]))
    story.append(table)
    story.append(Spacer(1, 2 * mm))
    channel = CHANNEL_LABELS.get(intent.channel, str(intent.channel)) if intent.channel else ""
    details = [
        f"Số tiền bằng chữ: {amount_in_words(intent.amount)}",
        f"Hình thức thanh toán: {channel}",
    ]
    if intent.provider_txn:
        details.append(f"Mã giao dịch: {intent.provider_txn}")
    details.append(f"Thời điểm thu: {paid_local:%H} giờ {paid_local:%M} phút, ngày {paid_local:%d/%m/%Y}")
    if intent.collected_by and not intent.collected_by.subject.startswith("system"):
        details.append(f"Người thu tiền: {intent.collected_by.name or intent.collected_by.subject}")
    if intent.refunded_amount:
        details.append(f"Đã hoàn trả: {format_vnd(intent.refunded_amount)}")
    for line in details:
        story.append(_p(line, s["base"]))
    story.append(Spacer(1, 3 * mm))
    qr_payload = lookup_url or receipt.code
    story.append(Table([[QRFlowable(qr_payload, 24 * mm),
                         _p(f"Mã biên lai: {receipt.code}. Biên lai điện tử có giá trị như biên lai giấy; "
                            "quét mã để tra cứu.", s["small"])]],
                       colWidths=[28 * mm, 96 * mm]))
    doc.build(story)
    return buffer.getvalue()
