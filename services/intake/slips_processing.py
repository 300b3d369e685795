"""Circular-01 forms of the processing phase, A5 PDFs in the style of `slips` (its helpers reused).

- Form 04 ``render_apology_slip``: Phiếu xin lỗi và hẹn lại ngày trả kết quả.
- Form 05 ``render_process_control_slip``: Phiếu kiểm soát quá trình giải quyết hồ sơ — every
  step with who, when, what, and whether it was early, on time or late.

The renderers take primitive input models; ``render_processing_slip`` maps a dossier onto them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field
from reportlab.platypus import Paragraph, Spacer

from services.intake.model.dossier import STATUS_LABELS_VI, Dossier
from services.intake.slips import (
    _FRAME_W,
    DossierCode,
    NonEmpty,
    OptText,
    SlipApplicant,
    SlipOffice,
    _applicant_lines,
    _grid,
    _header,
    _reference,
    _render,
    _signature,
    _signatures,
    _SlipModel,
    _styles,
    _t,
    _vn,
    _with_qr,
    build_lookup_url,
    format_moment,
)
from services.kit.errors import Conflict

__all__ = [
    "ApologySlipData",
    "ControlLine",
    "ProcessControlSlipData",
    "render_apology_slip",
    "render_process_control_slip",
    "render_processing_slip",
]


class ApologySlipData(_SlipModel):
    """Form 04: apology and new appointment (at most once per dossier)."""

    office: SlipOffice
    dossier_code: DossierCode
    lookup_base_url: OptText = None
    applicant: SlipApplicant
    procedure_name: NonEmpty
    received_at: AwareDatetime
    previous_due_at: AwareDatetime
    new_due_at: AwareDatetime
    reason: NonEmpty
    issued_at: AwareDatetime
    signer_title: NonEmpty = "THỦ TRƯỞNG CƠ QUAN"
    signer_name: OptText = None


class ControlLine(_SlipModel):
    at: AwareDatetime
    step: NonEmpty
    actor: NonEmpty
    holder: OptText = None
    result: OptText = None


class ProcessControlSlipData(_SlipModel):
    """Form 05: process control slip."""

    office: SlipOffice
    dossier_code: DossierCode
    lookup_base_url: OptText = None
    applicant: SlipApplicant
    procedure_name: NonEmpty
    received_at: AwareDatetime
    due_at: AwareDatetime | None = None
    lines: list[ControlLine] = Field(min_length=1)
    issued_at: AwareDatetime
    outcome: OptText = None


def _qr(code: str, base: str | None) -> str:
    return build_lookup_url(base, code) if base else code


def render_apology_slip(data: ApologySlipData) -> bytes:
    """Form 04: PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ."""
    st = _styles()
    title = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"
    reference = _reference(data.dossier_code, None)
    payload = _qr(data.dossier_code, data.lookup_base_url)
    lines = _applicant_lines(data.office, data.applicant, data.received_at)
    lines.append(Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_t(data.procedure_name)}</b>", st["body"]))
    story: list[Any] = [*_header("04", data.office, data.issued_at)]
    story.append(Paragraph(title, st["title"]))
    if reference:
        story.append(Paragraph(_t(reference), st["code"]))
    story.append(Spacer(1, 5))
    story += _with_qr(lines, payload)
    story.append(
        Paragraph(
            f"Thời gian hẹn trả kết quả giải quyết hồ sơ: <b>{format_moment(data.previous_due_at)}</b>.",
            st["item"],
        )
    )
    story.append(
        Paragraph(
            f"Tuy nhiên đến nay, {_t(data.office.unit_name)} chưa trả kết quả giải quyết hồ sơ của Ông/Bà. Lý do:",
            st["item"],
        )
    )
    for para in data.reason.split("\n"):
        if para.strip():
            story.append(Paragraph(_t(para.strip()), st["indent"]))
    story.append(
        Paragraph(
            "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. Chúng tôi thành thật xin lỗi Ông/Bà và hẹn lại "
            f"thời gian trả kết quả vào: <b>{format_moment(data.new_due_at)}</b>.",
            st["item"],
        )
    )
    story.append(Paragraph("Kính mong Ông/Bà thông cảm./.", st["item"]))
    story.append(
        _signatures(
            None,
            _signature(_t(data.signer_title), "(Ký, ghi rõ họ tên và đóng dấu)", data.signer_name or " "),
        )
    )
    return _render(story, title=title, form_no="04", office=data.office, reference=reference, qr_payload=payload)


def render_process_control_slip(data: ProcessControlSlipData) -> bytes:
    """Form 05: PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ."""
    st = _styles()
    title = "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ"
    reference = _reference(data.dossier_code, None)
    payload = _qr(data.dossier_code, data.lookup_base_url)
    lines = _applicant_lines(data.office, data.applicant, None)
    lines.append(Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_t(data.procedure_name)}</b>", st["body"]))
    lines.append(Paragraph(f"Thời gian nhận hồ sơ: {format_moment(data.received_at)}", st["body"]))
    if data.due_at is not None:
        lines.append(Paragraph(f"Thời gian hẹn trả kết quả: <b>{format_moment(data.due_at)}</b>", st["body"]))
    story: list[Any] = [*_header("05", data.office, data.issued_at)]
    story.append(Paragraph(title, st["title"]))
    if reference:
        story.append(Paragraph(_t(reference), st["code"]))
    story.append(Spacer(1, 5))
    story += _with_qr(lines, payload)
    story.append(Spacer(1, 4))
    rows: list[list[Any]] = [
        [
            Paragraph("TT", st["cell_h"]),
            Paragraph("Thời gian", st["cell_h"]),
            Paragraph("Nội dung giao, nhận, xử lý", st["cell_h"]),
            Paragraph("Người thực hiện", st["cell_h"]),
            Paragraph("Kết quả", st["cell_h"]),
        ]
    ]
    for i, line in enumerate(data.lines, start=1):
        when = _vn(line.at)
        step = _t(line.step) + (f"<br/><font size=7>Nơi giữ hồ sơ: {_t(line.holder)}</font>" if line.holder else "")
        rows.append(
            [
                Paragraph(str(i), st["cell_c"]),
                Paragraph(f"{when:%H:%M}<br/>{when:%d/%m/%Y}", st["cell_c"]),
                Paragraph(step, st["cell"]),
                Paragraph(_t(line.actor), st["cell"]),
                Paragraph(_t(line.result or ""), st["cell_c"]),
            ]
        )
    rest = _FRAME_W - 18 - 50 - 52
    story.append(_grid(rows, [18, 50, rest * 0.62, rest * 0.38, 52], center_cols=(0, 1, 4)))
    if data.outcome:
        story.append(Spacer(1, 3))
        story.append(Paragraph(f"Kết quả giải quyết hồ sơ: <b>{_t(data.outcome)}</b>", st["item"]))
    return _render(story, title=title, form_no="05", office=data.office, reference=reference, qr_payload=payload)


_TIMELINESS_VI = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}


def render_processing_slip(
    dossier: Dossier,
    form: str,
    office: SlipOffice,
    applicant: SlipApplicant,
    lookup_base_url: str | None = None,
) -> bytes:
    """Map a dossier onto form 04 or 05 (409 when the form does not apply)."""
    if not dossier.code or dossier.received_at is None:
        raise Conflict("Only a received dossier has forms 04 and 05", code="slip_not_applicable")
    if form == "04":
        apology = dossier.apology
        if apology is None:
            raise Conflict("No apology was recorded for this dossier (form 04)", code="slip_not_applicable")
        return render_apology_slip(
            ApologySlipData(
                office=office,
                dossier_code=dossier.code,
                lookup_base_url=lookup_base_url,
                applicant=applicant,
                procedure_name=dossier.procedure_name,
                received_at=dossier.received_at,
                previous_due_at=apology.previous_due_at,
                new_due_at=apology.new_due_at,
                reason=apology.reason,
                issued_at=apology.at,
                signer_name=apology.actor.name or None,
            )
        )
    lines = []
    for h in dossier.history:
        label = STATUS_LABELS_VI[h.to_status]
        step = h.note if h.note else label
        if h.from_status is not None and h.from_status != h.to_status:
            step = f"{step} ({STATUS_LABELS_VI[h.from_status]} → {label})"
        actor = h.actor + (f" ({h.role}, {h.unit_code})" if h.role and h.unit_code else "")
        result = None
        if h.action in ("resolve", "refuse") and dossier.timeliness:
            result = _TIMELINESS_VI.get(dossier.timeliness)
        elif h.action == "complete_step" and "trễ hạn" in h.note:
            result = "Quá hạn"
        lines.append(ControlLine(at=h.at, step=step, actor=actor, holder=h.holder or None, result=result))
    issued: datetime = dossier.history[-1].at if dossier.history else dossier.received_at
    return render_process_control_slip(
        ProcessControlSlipData(
            office=office,
            dossier_code=dossier.code,
            lookup_base_url=lookup_base_url,
            applicant=applicant,
            procedure_name=dossier.procedure_name,
            received_at=dossier.received_at,
            due_at=dossier.due_at,
            lines=lines,
            issued_at=issued,
            outcome=_TIMELINESS_VI.get(dossier.timeliness or ""),
        )
    )
