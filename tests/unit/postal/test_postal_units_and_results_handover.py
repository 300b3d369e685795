"""The office's unit path from the reference data, and the office → post hand-over of results."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pypdf
import pytest

from services.postal.adapters.units import FileUnits, UnitsUnavailable
from services.postal.model.common import PostalError
from services.postal.model.handover import HandoverItem, HandoverKind, HandoverRecord, HandoverStatus, Side
from services.postal.model.status import ShipmentStatus as S
from services.postal.model.units import OfficeRef, UnitDirectory, UnitRef
from services.postal.pdf import render_handover_record
from tests.unit.postal.postal_samples import OFFICER, UNIT_PATH, WORKER, at
from tests.unit.postal.test_postal_delivery import TARIFF, delivery, placed

TODAY = date(2026, 3, 2)
CATALOGUE = {
    "units": [
        {"code": "89", "name": "Tỉnh An Giang", "type": "province", "valid_to": "2025-06-30"},
        {"code": "91", "name": "Tỉnh An Giang", "type": "province"},
        {"code": "883", "name": "Thành phố Long Xuyên", "parent_code": "89", "valid_to": "2025-06-30"},
        {"code": "30307", "name": "Phường Mỹ Hòa", "parent_code": "883", "valid_to": "2025-06-30"},
        {"code": "30307", "name": "Phường Long Xuyên", "parent_code": "91", "valid_from": "2025-07-01"},
        {"code": "30999", "name": "Phường mồ côi", "parent_code": "77"},
    ],
    "offices": [
        {"id": "ttpvhcc-long-xuyen", "name": "TTPVHCC phường Long Xuyên", "unit_code": "30307", "level": "commune"},
        {"id": "bptn-tp-long-xuyen", "name": "BPTN thành phố Long Xuyên", "unit_code": "883", "active": False},
        {"id": "orphan", "name": "Văn phòng lạc", "unit_code": "30999"},
    ],
    "counters": [],
}


# ---- the unit path of an office ---------------------------------------------------------------
def test_the_unit_path_comes_from_the_office_and_the_units_in_force() -> None:
    units = UnitDirectory.from_catalogue(CATALOGUE)
    place = units.place("ttpvhcc-long-xuyen", TODAY)
    assert place.unit_path == ["30307", "91"] and place.office_name == "TTPVHCC phường Long Xuyên"
    # the same code before the 2025 merger sat under the former city and province
    assert units.unit_path("30307", date(2025, 6, 1)) == ["30307", "883", "89"]


@pytest.mark.parametrize(
    ("office", "code"),
    [("nowhere", "unknown_office"), ("bptn-tp-long-xuyen", "unknown_office"), ("orphan", "unknown_unit")],
)
def test_unknown_closed_or_dangling_offices_are_refused(office: str, code: str) -> None:
    with pytest.raises(PostalError) as exc:
        UnitDirectory.from_catalogue(CATALOGUE).place(office, TODAY)
    assert exc.value.code == code


def test_a_looping_tree_is_refused_not_followed_forever() -> None:
    units = UnitDirectory(
        [UnitRef(code="1", parent_code="2"), UnitRef(code="2", parent_code="1")], [OfficeRef(id="o", unit_code="1")]
    )
    with pytest.raises(PostalError, match="loops"):
        units.place("o", TODAY)


async def test_the_units_file_is_read_once_and_a_missing_one_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "units.json"
    path.write_text(json.dumps(CATALOGUE), encoding="utf-8")
    source = FileUnits(path)
    assert len(await source.directory()) == 3
    path.unlink()
    assert len(await source.directory(fresh=True)) == 3  # the copy read earlier is kept
    with pytest.raises(UnitsUnavailable):
        await FileUnits(tmp_path / "missing.json").directory()


# ---- results: office → post ---------------------------------------------------------------------
def _results_record(*deliveries: object) -> HandoverRecord:
    items = [
        HandoverItem(
            delivery_id=d.id,  # type: ignore[attr-defined]
            slip_number=d.tracking_number or "",  # type: ignore[attr-defined]
            dossier_id=d.dossier_id,  # type: ignore[attr-defined]
            dossier_code=d.dossier_code,  # type: ignore[attr-defined]
            procedure_code="1.001193",
            applicant_name="Nguyễn Văn An",
            address="12 Trần Hưng Đạo, Phường Mỹ Bình, An Giang",
        )
        for d in deliveries
    ]
    return HandoverRecord.draft(
        id="r1",
        number="BBGN-KQ-30280-260302-001",
        office_id="ubnd-my-binh",
        office_name="UBND phường Mỹ Bình",
        unit_path=UNIT_PATH,
        items=items,
        by=OFFICER,
        now=at(120),
        kind=HandoverKind.RESULTS,
    )


def test_only_a_placed_order_not_yet_on_its_way_goes_on_a_results_record() -> None:
    waiting = delivery(address=None, contact=None)
    with pytest.raises(PostalError) as exc:
        waiting.put_on_record("r1", "BBGN-KQ-1")
    assert exc.value.code == "not_ready_for_handover"
    d = placed()
    d.put_on_record("r1", "BBGN-KQ-1")
    with pytest.raises(PostalError) as exc:
        d.put_on_record("r2", "BBGN-KQ-2")
    assert exc.value.code == "on_another_record"
    d.take_off_record("r1", at(3))
    d.put_on_record("r2", "BBGN-KQ-2")  # freed by a removal or a cancelled record
    gone = placed()
    gone.apply_operator_status(
        S.IN_TRANSIT, attempt=0, at=at(5), event_id="e1", reason_code=None, note="", tariff=TARIFF
    )
    with pytest.raises(PostalError):
        gone.put_on_record("r3", "BBGN-KQ-3")


def test_the_results_record_hands_each_delivery_to_the_post_at_the_second_signature() -> None:
    d = placed()
    record = _results_record(d)
    d.put_on_record(record.id, record.number)
    assert record.kind is HandoverKind.RESULTS and record.kind.giver is Side.OFFICE
    assert not record.sign(Side.OFFICE, by=OFFICER, counted=1, now=at(121))
    assert record.sign(Side.POSTAL, by=WORKER, counted=1, now=at(122))
    assert record.status is HandoverStatus.SIGNED and record.signed_at == at(122)
    assert d.handed_to_post(record_id=record.id, at=at(122))
    assert d.shipment_status is S.PICKED_UP and d.handed_over_at == at(122)
    assert d.tracking[-1].source == "staff" and d.tracking[-1].note == record.number
    # the operator's own "picked up" scan arriving afterwards changes nothing
    late = d.apply_operator_status(
        S.PICKED_UP, attempt=0, at=at(123), event_id="e2", reason_code=None, note="", tariff=TARIFF
    )
    assert not late.moved
    d.take_off_record(record.id, at(124))
    assert d.handover_id == record.id  # signed: it stays on the record
    with pytest.raises(PostalError) as exc:
        placed().handed_to_post(record_id=record.id, at=at(125))
    assert exc.value.code == "not_on_record"


def test_a_results_record_lists_each_delivery_once_and_prints_as_results() -> None:
    d = placed()
    with pytest.raises(PostalError) as exc:
        _results_record(d, d)
    assert exc.value.code == "duplicate_slip"
    record = _results_record(d)
    record.sign(Side.OFFICE, by=OFFICER, counted=1, now=at(121))
    record.sign(Side.POSTAL, by=WORKER, counted=1, now=at(122))
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_handover_record(record))).pages)
    assert "BIÊN BẢN GIAO NHẬN KẾT QUẢ" in text and d.tracking_number in text and d.dossier_code in text
    assert "Bưu chính nhận kết quả để chuyển phát" in text
