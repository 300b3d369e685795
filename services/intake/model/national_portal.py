"""The JSON pushed to the National Public Service Portal for one dossier (DOMAIN §10). Pure.

No official specification was found [practice]: the field names below follow what provincial
integrations commonly send (dossier code, procedure code, channel 1 counter / 2 online / 3 post,
owner, dates as `yyyyMMddHHmmss` in Vietnam time, status string, digitisation flags per
component, fees, supplement history, processing history). Keep this module the only place
that knows the shape, and the status mapping overridable by configuration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.intake.model.dossier import Channel, Dossier, DossierStatus, StepStatus

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Intake status → national-portal string (receiving, new, denied, processing, waiting, paying,
# cancelled, unresolved, releasing, done, interoperating, posting).
STATUS_MAP: dict[DossierStatus, str] = {
    DossierStatus.REGISTERED: "new",
    DossierStatus.RECEIVED: "receiving",
    DossierStatus.NOT_RECEIVED: "denied",
    DossierStatus.TRANSFERRED: "processing",
    DossierStatus.PROCESSING: "processing",
    DossierStatus.SUPPLEMENT_REQUESTED: "waiting",
    DossierStatus.AWAITING_PAYMENT: "paying",
    DossierStatus.WITHDRAWN: "cancelled",
    DossierStatus.SUSPENDED: "waiting",
    DossierStatus.RESOLVED: "releasing",
    DossierStatus.REFUSED: "unresolved",
    DossierStatus.RESULT_READY: "releasing",
    DossierStatus.RETURNED: "done",
}

NATIONAL_STATUSES = frozenset(
    {
        "receiving",
        "new",
        "denied",
        "processing",
        "waiting",
        "paying",
        "cancelled",
        "unresolved",
        "releasing",
        "done",
        "interoperating",
        "posting",
    }
)

CHANNEL_CODES = {Channel.COUNTER: 1, Channel.ONLINE: 2, Channel.POSTAL: 3}


def portal_time(moment: datetime | None) -> str | None:
    """`yyyyMMddHHmmss` in Vietnam time."""
    if moment is None:
        return None
    return moment.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


def portal_status(d: Dossier, overrides: dict[str, str] | None = None) -> str:
    """The national string; inter-agency processing is 'interoperating', postal return 'posting'."""
    if overrides and d.status.value in overrides:
        return overrides[d.status.value]
    if d.status is DossierStatus.PROCESSING and any(s.status is StepStatus.ACTIVE for s in d.steps):
        return "interoperating"
    if d.status is DossierStatus.RESULT_READY and d.return_channel == "postal":
        return "posting"
    return STATUS_MAP[d.status]


def portal_document(d: Dossier, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON body for one dossier and its status history."""
    applicant = d.applicant
    org = applicant.organisation or {}
    return {
        "MaHoSo": d.code,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "KenhThucHien": CHANNEL_CODES[d.channel],
        "ChuHoSo": applicant.name,
        "LoaiDoiTuong": 2 if applicant.kind == "organisation" else 1,
        "MaDoiTuong": org.get("tax_code") or applicant.id_number or "",
        "SoDienThoai": applicant.phone or "",
        "Email": applicant.email or "",
        "DiaChi": applicant.address,
        "MaDonViTiepNhan": d.receiving_unit_id,
        "MaDonViXuLy": d.handling.unit_code if d.handling else d.unit_code,
        "NgayTiepNhan": portal_time(d.received_at),
        "NgayHenTra": portal_time(d.due_at),
        "NgayHenTraTheoQuyDinh": portal_time(d.statutory_due_at or d.due_at),
        "NgayKetThucXuLy": portal_time(d.finished_at),
        "NgayTra": portal_time(d.returned.at if d.returned else None),
        "HinhThucTra": 2 if d.return_channel == "postal" else 1,
        "TrangThaiHoSo": portal_status(d, overrides),
        "TreHan": d.timeliness == "late" or d.late,
        "TaiLieuNop": [
            {
                "MaThanhPhan": c.component_id,
                "TenThanhPhan": c.name,
                "DaSoHoa": c.digitised,
                "TaiSuDung": c.reused,
                "MaTaiLieu": c.document_id,
            }
            for c in d.components
        ],
        "KetQuaDaSoHoa": bool(d.result and d.result.digitised),
        "DanhSachLePhi": [{"Loai": f.get("kind"), "Ten": f.get("name"), "SoTien": f.get("amount")} for f in d.fees_due],
        "ThanhToan": (
            {
                "TrangThai": d.payment.status,
                "HinhThuc": d.payment.channel,
                "NgayThanhToan": portal_time(d.payment.paid_at),
            }
            if d.payment
            else None
        ),
        "DanhSachHoSoBoSung": [
            {
                "NgayYeuCau": portal_time(s.requested_at),
                "NgayHoanThanh": portal_time(s.completed_at),
                "NoiDung": [f"{m.name}: {m.reason}" for m in s.missing],
            }
            for s in d.supplements
        ],
        "XinLoi": (
            {
                "NgayXinLoi": portal_time(d.apology.at),
                "LyDo": d.apology.reason,
                "NgayHenTraMoi": portal_time(d.apology.new_due_at),
            }
            if d.apology
            else None
        ),
        "QuaTrinhXuLy": [
            {
                "ThoiDiem": portal_time(h.at),
                "TuTrangThai": h.from_status.value if h.from_status else None,
                "DenTrangThai": h.to_status.value,
                "TrangThaiQuocGia": STATUS_MAP[h.to_status],
                "NguoiXuLy": h.actor,
                "VaiTro": h.role,
                "DonVi": h.unit_code,
                "NoiDung": h.note,
            }
            for h in d.history
        ],
    }
