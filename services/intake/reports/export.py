"""CSV and XLSX renderings of an indicators report (same figures as the JSON)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from services.intake.model.rating import INDICATORS

COLUMNS: list[tuple[str, str]] = [
    ("dossiers", "Tổng số hồ sơ"),
    ("received", "Đã tiếp nhận"),
    ("online", "Trực tuyến"),
    ("postal", "Qua bưu chính"),
    ("finished", "Đã giải quyết"),
    ("early", "Trước hạn"),
    ("on_time", "Đúng hạn"),
    ("late", "Quá hạn"),
    ("open_late", "Đang xử lý quá hạn"),
    ("early_rate", "Tỷ lệ trước hạn (%)"),
    ("on_time_rate", "Tỷ lệ đúng hạn (%)"),
    ("late_rate", "Tỷ lệ quá hạn (%)"),
    ("online_share", "Tỷ lệ trực tuyến (%)"),
    ("digitised_components_share", "Tỷ lệ số hóa thành phần (%)"),
    ("reused_components_share", "Tỷ lệ tái sử dụng (%)"),
    ("digitised_results_share", "Tỷ lệ số hóa kết quả (%)"),
    ("paid_online_share", "Tỷ lệ thanh toán trực tuyến (%)"),
    ("apologies", "Phiếu xin lỗi"),
]


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _rows(report: dict[str, Any]) -> list[list[Any]]:
    header = ["Phạm vi", "Mã", "Tên", *[label for _, label in COLUMNS], "Số đánh giá", "Hài lòng (%)", "Điểm TT01"]
    rows: list[list[Any]] = [header]
    sat = report["satisfaction"]
    rows.append(
        [
            "Tổng",
            report["unit_code"],
            report["unit_name"],
            *[_cell(report["totals"].get(k)) for k, _ in COLUMNS],
            sat["ratings"],
            _cell(sat["satisfied_share"]),
            _cell(sat["circular01"]["average"]),
        ]
    )
    for u in report["by_unit"]:
        s = u["satisfaction"]
        rows.append(
            [
                "Đơn vị",
                u["unit_code"],
                u["unit_name"],
                *[_cell(u.get(k)) for k, _ in COLUMNS],
                s["ratings"],
                _cell(s["satisfied_share"]),
                _cell(s["circular01"]["average"]),
            ]
        )
    for f in report["by_field"]:
        rows.append(["Lĩnh vực", f["field_code"], f["field_code"], *[_cell(f.get(k)) for k, _ in COLUMNS], "", "", ""])
    for p in report["by_period"]:
        rows.append(["Kỳ", p["period"], p["period"], *[_cell(p.get(k)) for k, _ in COLUMNS], "", "", ""])
    return rows


def to_csv(report: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([f"Báo cáo chỉ số {report['unit_name']} ({report['unit_code']}) {report['from']} – {report['to']}"])
    writer.writerows(_rows(report))
    writer.writerow([])
    writer.writerow(["Chỉ số Thông tư 01", "Điểm trung bình"])
    for key, label in INDICATORS.items():
        writer.writerow([label, _cell(report["satisfaction"]["circular01"]["indicators"].get(key))])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Vietnamese text correctly


def to_xlsx(report: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Chi so"
    ws.append([f"Báo cáo chỉ số {report['unit_name']} ({report['unit_code']}) {report['from']} – {report['to']}"])
    ws["A1"].font = Font(bold=True)
    for row in _rows(report):
        ws.append(row)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    status = wb.create_sheet("Trang thai")
    status.append(["Trạng thái", "Tên", "Số hồ sơ"])
    for key, value in report["by_status"].items():
        status.append([key, value["label"], value["dossiers"]])
    channel = wb.create_sheet("Kenh")
    channel.append(["Kênh", "Số hồ sơ"])
    for key, n in report["by_channel"].items():
        channel.append([key, n])
    tt01 = wb.create_sheet("TT01")
    tt01.append(["Chỉ số", "Tên", "Điểm trung bình"])
    for key, label in INDICATORS.items():
        tt01.append([key, label, _cell(report["satisfaction"]["circular01"]["indicators"].get(key))])
    tt01.append(["average", "Điểm bình quân", _cell(report["satisfaction"]["circular01"]["average"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
