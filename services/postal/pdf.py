"""Vietnamese PDFs of the dispatch slip (phiếu gửi hồ sơ qua bưu chính, A5) and the hand-over
records (biên bản giao nhận hồ sơ / kết quả, A4), with the kit's DejaVu fonts and a QR of the number."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.kit.pdf import FONT_BOLD, FONT_REGULAR, QRFlowable, nfc, register_fonts
from services.postal.model.handover import HandoverKind, HandoverRecord, HandoverSignature
from services.postal.model.pickup import PickupOrder
from services.postal.model.tariff import Payer

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_OPTION = {"submit": "Gửi hồ sơ", "receive": "Nhận kết quả", "both": "Gửi hồ sơ và nhận kết quả"}
_METHOD = {"signature": "ký", "fingerprint": "điểm chỉ"}


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT_REGULAR, fontSize=9, leading=12, alignment=TA_LEFT)
    return {
        "base": base,
        "center": ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        "bold": ParagraphStyle("bold", parent=base, fontName=FONT_BOLD),
        "bold_center": ParagraphStyle("bold_center", parent=base, fontName=FONT_BOLD, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontName=FONT_BOLD, fontSize=13, leading=17, alignment=TA_CENTER, spaceBefore=4
        ),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(nfc(text)), style)


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone(VN_TZ)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng"


def _grid(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "#555555"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


def _header(left: str, s: dict[str, ParagraphStyle], width: float) -> Table:
    return Table(
        [
            [_p(left, s["bold_center"]), _p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", s["bold_center"])],
            ["", _p("Độc lập - Tự do - Hạnh phúc", s["bold_center"])],
        ],
        colWidths=[width * 0.4, width * 0.6],
    )


def render_dispatch_slip(pickup: PickupOrder) -> bytes:
    """The jointly signed dispatch slip of a collected pickup."""
    slip = pickup.slip
    if slip is None:
        raise ValueError("this pickup has no signed dispatch slip yet")
    register_fonts()
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A5,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=nfc(f"Phiếu gửi {slip.number}"),
        subject="Phiếu gửi hồ sơ qua dịch vụ bưu chính công ích",
        keywords=slip.number,
        creator="Một Cửa — postal",
    )
    width = 124 * mm
    story: list[Any] = [_header("DỊCH VỤ BƯU CHÍNH CÔNG ÍCH", s, width), Spacer(1, 3 * mm)]
    story.append(_p("PHIẾU GỬI HỒ SƠ", s["title"]))
    story.append(_p("(Quyết định số 45/2016/QĐ-TTg)", s["center"]))
    story.append(_p(f"Số hiệu bưu gửi: {slip.number}    Mã yêu cầu: {pickup.ref}", s["bold_center"]))
    story.append(Spacer(1, 3 * mm))
    lines = [
        f"Dịch vụ: {_OPTION.get(pickup.option.value, pickup.option.value)}",
        f"Người gửi: {pickup.applicant.full_name}    Điện thoại: {pickup.contact.phone}",
        f"Địa chỉ nhận hồ sơ: {pickup.pickup_address.line() if pickup.pickup_address else ''}",
        f"Cơ quan nhận: {pickup.office_name or pickup.office_id}",
        f"Thủ tục hành chính: {pickup.procedure_name or pickup.procedure_code} ({pickup.procedure_code})",
    ]
    if pickup.return_address:
        lines.append(f"Địa chỉ nhận kết quả: {pickup.return_address.line()}")
    story.extend(_p(line, s["base"]) for line in lines)
    story.append(Spacer(1, 2 * mm))
    checked = {i.component_id: i for i in pickup.check.items} if pickup.check else {}
    rows = [[_p("STT", s["bold_center"]), _p("Thành phần hồ sơ", s["bold_center"]), _p("Số bản", s["bold_center"])]]
    for n, component in enumerate(pickup.components, start=1):
        got = checked.get(component.component_id)
        rows.append(
            [
                _p(str(n), s["center"]),
                _p(component.name or component.component_id, s["base"]),
                _p(str(got.count if got else component.count), s["center"]),
            ]
        )
    story.append(_grid(rows, [10 * mm, 94 * mm, 20 * mm]))
    story.append(Spacer(1, 2 * mm))
    money = [[_p("Khoản thu", s["bold_center"]), _p("Số tiền", s["bold_center"])]]
    for charge in slip.charges:
        if charge.payer is Payer.CITIZEN:
            money.append([_p(charge.name, s["base"]), _p(_vnd(charge.amount), s["right"])])
    money.append([_p("Tổng cộng", s["bold"]), _p(_vnd(slip.total_collected), s["right"])])
    story.append(_grid(money, [84 * mm, 40 * mm]))
    story.append(Spacer(1, 2 * mm))
    story.append(_p(f"Biên lai số: {slip.receipt_number}    Số niêm phong: {slip.seal_number}", s["base"]))
    story.append(_p(f"Niêm phong trước mặt người gửi lúc {_when(slip.sealed_at)}", s["base"]))
    story.append(Spacer(1, 4 * mm))
    sender = slip.sender_signature
    worker = slip.worker_signature
    story.append(
        Table(
            [
                [_p("NGƯỜI GỬI", s["bold_center"]), _p("NHÂN VIÊN BƯU CHÍNH", s["bold_center"])],
                [
                    _p(f"({_METHOD.get(sender.method.value, sender.method.value)}, ghi rõ họ tên)", s["center"]),
                    _p("(ký, ghi rõ họ tên)", s["center"]),
                ],
                [
                    _p(f"Đã {_METHOD.get(sender.method.value, 'ký')}: {sender.name}", s["center"]),
                    _p(f"Đã ký: {worker.name}", s["center"]),
                ],
                [_p(_when(sender.at), s["small"]), _p(_when(worker.at), s["small"])],
            ],
            colWidths=[width / 2, width / 2],
        )
    )
    story.append(Spacer(1, 3 * mm))
    story.append(
        Table(
            [
                [
                    QRFlowable(slip.number, 20 * mm),
                    _p(
                        "Quét mã để tra cứu bưu gửi. Phiếu gửi có chữ ký của người gửi và nhân viên bưu chính.",
                        s["small"],
                    ),
                ]
            ],
            colWidths=[24 * mm, 100 * mm],
        )
    )
    doc.build(story)
    return buffer.getvalue()


def _sig_cell(sig: HandoverSignature | None, s: dict[str, ParagraphStyle]) -> list[Any]:
    if sig is None:
        return [_p("(chưa ký)", s["center"])]
    return [
        _p(f"Đã ký: {sig.name}", s["center"]),
        _p(f"Đã đếm: {sig.counted} bưu gửi", s["center"]),
        _p(_when(sig.at), s["small"]),
    ]


def render_handover_record(record: HandoverRecord) -> bytes:
    """The hand-over record listing each dispatch slip / item, with both sides' signatures."""
    results = record.kind is HandoverKind.RESULTS
    what = "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH" if results else "HỒ SƠ"
    register_fonts()
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=nfc(f"Biên bản giao nhận {record.number}"),
        subject=f"Biên bản giao nhận {'kết quả' if results else 'hồ sơ'} qua bưu chính công ích",
        keywords=record.number,
        creator="Một Cửa — postal",
    )
    width = 174 * mm
    office = record.office_name or record.office_id
    story: list[Any] = [_header(office, s, width), Spacer(1, 4 * mm)]
    story.append(_p(f"BIÊN BẢN GIAO NHẬN {what}", s["title"]))
    story.append(_p("(qua dịch vụ bưu chính công ích — Quyết định số 45/2016/QĐ-TTg)", s["center"]))
    story.append(_p(f"Số: {record.number}", s["bold_center"]))
    story.append(Spacer(1, 3 * mm))
    drafter = record.created_by.name or record.created_by.subject
    if results:
        story.append(_p(f"Bên giao: Bộ phận tiếp nhận và trả kết quả — {office} ({drafter})", s["base"]))
        story.append(_p("Bên nhận: nhân viên bưu chính (chuyển phát kết quả đến địa chỉ người nhận)", s["base"]))
    else:
        story.append(_p(f"Bên giao: nhân viên bưu chính {drafter}", s["base"]))
        story.append(_p(f"Bên nhận: Bộ phận tiếp nhận và trả kết quả — {office}", s["base"]))
    story.append(_p(f"Hai bên cùng kiểm đếm và giao nhận {len(record.items)} bưu gửi như sau:", s["base"]))
    story.append(Spacer(1, 2 * mm))
    if results:
        rows = [[_p(h, s["bold_center"]) for h in ("STT", "Số hiệu bưu gửi", "Mã hồ sơ", "Người nhận", "Địa chỉ")]]
        for n, item in enumerate(record.items, start=1):
            rows.append(
                [
                    _p(str(n), s["center"]),
                    _p(item.slip_number, s["base"]),
                    _p(item.dossier_code or "", s["small"]),
                    _p(item.applicant_name, s["base"]),
                    _p(item.address, s["small"]),
                ]
            )
        story.append(_grid(rows, [12 * mm, 36 * mm, 44 * mm, 34 * mm, 48 * mm]))
    else:
        rows = [[_p(h, s["bold_center"]) for h in ("STT", "Số hiệu bưu gửi", "Thủ tục", "Người nộp", "Số bản")]]
        for n, item in enumerate(record.items, start=1):
            rows.append(
                [
                    _p(str(n), s["center"]),
                    _p(item.slip_number, s["base"]),
                    _p(f"{item.procedure_name or item.procedure_code}", s["base"]),
                    _p(item.applicant_name, s["base"]),
                    _p(str(item.papers), s["center"]),
                ]
            )
        story.append(_grid(rows, [12 * mm, 38 * mm, 66 * mm, 40 * mm, 18 * mm]))
    story.append(Spacer(1, 3 * mm))
    if record.signed_at and results:
        story.append(
            _p(f"Bưu chính nhận kết quả để chuyển phát từ thời điểm ký biên bản: {_when(record.signed_at)}.", s["bold"])
        )
    elif record.signed_at:
        story.append(_p(f"Hồ sơ được coi là đã nộp từ thời điểm ký biên bản: {_when(record.signed_at)}.", s["bold"]))
    elif results:
        story.append(_p("Biên bản chưa đủ chữ ký hai bên: kết quả chưa được giao cho bưu chính.", s["bold"]))
    else:
        story.append(_p("Biên bản chưa đủ chữ ký hai bên: hồ sơ chưa được coi là đã nộp.", s["bold"]))
    story.append(Spacer(1, 5 * mm))
    postal = ("BÊN NHẬN" if results else "BÊN GIAO") + " (BƯU CHÍNH)"
    office_side = ("BÊN GIAO" if results else "BÊN NHẬN") + " (BỘ PHẬN MỘT CỬA)"
    sides = [(office_side, record.office_signature), (postal, record.postal_signature)]
    if not results:
        sides.reverse()
    story.append(
        Table(
            [[_p(label, s["bold_center"]) for label, _ in sides], [_sig_cell(sig, s) for _, sig in sides]],
            colWidths=[width / 2, width / 2],
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(
        Table(
            [[QRFlowable(record.number, 22 * mm), _p(f"Mã biên bản: {record.number}", s["small"])]],
            colWidths=[26 * mm, 148 * mm],
        )
    )
    doc.build(story)
    return buffer.getvalue()
