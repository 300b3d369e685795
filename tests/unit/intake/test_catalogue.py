"""Procedure catalogue: shipped data, lookups, validation, JSON and XLSX import/export."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from services.intake.catalogue_io import (
    CatalogueImportError,
    ImportResult,
    catalogue_from_json,
    catalogue_from_xlsx,
    catalogue_to_json,
    catalogue_to_xlsx,
    load_procedures,
    load_units,
    read_catalogue,
    write_catalogue,
)
from services.intake.model.catalogue import (
    Fee,
    FeeKind,
    Procedure,
    ProcedureCatalogue,
    ProcessingTime,
    RouteMode,
    ServiceChannel,
    TimeUnit,
    UnknownProcedureError,
    validate_catalogue,
)
from services.intake.model.units import AdminLevel


@pytest.fixture(scope="module")
def catalogue() -> ProcedureCatalogue:
    return load_procedures()


def _procedure(**overrides: Any) -> Procedure:
    base: dict[str, Any] = {
        "code": "1.999999",
        "name": "Thủ tục thử",
        "field_code": "ho_tich",
        "level": "commune",
        "competent_body": {"name": "Ủy ban nhân dân cấp xã", "kind": "peoples_committee", "level": "commune"},
        "processing_time": {"value": 5, "unit": "working_days"},
        "channels": ["counter"],
    }
    base.update(overrides)
    return Procedure.model_validate(base)


def _steps(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"body": body, "deadline_working_days": days} for body, days in pairs]


# --------------------------------------------------------------------------- shipped data


def test_shipped_catalogue_is_consistent(catalogue: ProcedureCatalogue) -> None:
    assert len(catalogue) >= 18
    fields = {f.code for f in load_units().fields}
    assert validate_catalogue(catalogue, known_fields=fields) == []
    assert "mẫu" in catalogue.note.lower() or "MẪU" in catalogue.note
    assert catalogue.source


def test_shipped_catalogue_covers_the_expected_procedures(catalogue: ProcedureCatalogue) -> None:
    names = {p.code: p.name for p in catalogue.procedures}
    assert names["1.001193"] == "Đăng ký khai sinh"
    assert names["1.000656"] == "Đăng ký khai tử"
    assert names["1.000894"] == "Đăng ký kết hôn"
    assert names["2.000635"] == "Cấp bản sao Trích lục hộ tịch"
    assert names["1.004837"] == "Đăng ký giám hộ"
    assert names["1.004222"] == "Đăng ký thường trú"
    assert names["1.001612"] == "Đăng ký thành lập hộ kinh doanh"
    assert names["2.000815"].startswith("Chứng thực bản sao từ bản chính")
    assert names["2.000884"].startswith("Chứng thực chữ ký")
    assert len(catalogue.by_level(AdminLevel.PROVINCE)) >= 5
    assert len(catalogue.by_level("commune")) >= 12


def test_lookups(catalogue: ProcedureCatalogue) -> None:
    khai_sinh = catalogue.get("1.001193")
    assert khai_sinh.level is AdminLevel.COMMUNE
    assert catalogue.get(" 1.001193 ") is khai_sinh
    assert "1.001193" in catalogue and "9.000000" not in catalogue
    assert {p.code for p in catalogue.by_field("chung_thuc")} >= {"2.000815", "2.000884"}
    assert all(p.level is AdminLevel.PROVINCE for p in catalogue.by_level("province"))
    with pytest.raises(UnknownProcedureError) as exc:
        catalogue.get("9.000000")
    assert isinstance(exc.value, KeyError)
    assert str(exc.value) == "unknown procedure code '9.000000'"


def test_counter_models_in_shipped_data(catalogue: ProcedureCatalogue) -> None:
    no_appointment = {p.code for p in catalogue.eligible_no_appointment()}
    # seed 004: justice procedures done on the spot at commune level
    assert {"1.001193", "1.000656", "2.000815", "2.000884", "1.004873", "2.000635"} <= no_appointment
    assert all(p.level is AdminLevel.COMMUNE for p in catalogue.eligible_no_appointment())
    assert len(catalogue.eligible_no_writing()) >= 15
    chung_thuc = catalogue.get("2.000815")
    assert chung_thuc.processing_time.unit is TimeUnit.WORKING_HOURS
    assert chung_thuc.processing_time.value == 2
    assert chung_thuc.fees[0].kind is FeeKind.FEE and chung_thuc.fees[0].amount == 2000
    assert catalogue.get("2.000884").channels == frozenset({ServiceChannel.COUNTER})


def test_routes_in_shipped_data(catalogue: ProcedureCatalogue) -> None:
    lien_thong = catalogue.get("2.002621")
    assert lien_thong.route is not None
    assert lien_thong.route.mode is RouteMode.PARALLEL
    assert lien_thong.route.lead_body in {s.body for s in lien_thong.route.steps}
    land = catalogue.get("1.012753")
    assert land.route is not None and land.route.mode is RouteMode.SEQUENTIAL
    assert land.route.steps[0].body.startswith("Văn phòng đăng ký đất đai")
    assert any("Thuế" in s.body for s in land.route.steps)
    assert sum(s.deadline_working_days for s in land.route.steps) <= land.processing_time.value


def test_channels_serialise_in_stable_order(catalogue: ProcedureCatalogue) -> None:
    dumped = catalogue.get("1.001193").model_dump(mode="json")
    assert dumped["channels"] == ["counter", "online_full", "postal"]


# --------------------------------------------------------------------------- model rules


@pytest.mark.parametrize("value", [0, -1])
def test_processing_time_must_be_positive(value: int) -> None:
    with pytest.raises(ValidationError):
        ProcessingTime(value=value, unit=TimeUnit.WORKING_DAYS)


def test_fee_amount_not_negative_and_code_shape() -> None:
    with pytest.raises(ValidationError):
        Fee(kind=FeeKind.DUTY, name="Lệ phí", amount=-1)
    with pytest.raises(ValidationError, match="must look like"):
        _procedure(code="khai-sinh")
    with pytest.raises(ValidationError):
        _procedure(channels=[])
    assert _procedure(code="1.001193.000.00.00.H01").code == "1.001193.000.00.00.H01"
    assert ProcessingTime(value=16, unit=TimeUnit.WORKING_HOURS).in_working_days() == 2


def test_validation_problems() -> None:
    cat = ProcedureCatalogue(
        procedures=[
            _procedure(code="1.000001"),
            _procedure(code="1.000001", name="Trùng mã"),
            _procedure(
                code="1.000002",
                route={"mode": "parallel", "lead_body": "Sở X", "steps": _steps(("Công an", 1), ("UBND", 2))},
            ),
            _procedure(code="1.000003", route={"mode": "parallel", "steps": _steps(("Công an", 1))}),
            _procedure(
                code="1.000004",
                processing_time={"value": 10, "unit": "working_days"},
                route={"mode": "sequential", "steps": _steps(("VPĐKĐĐ", 6), ("Thuế", 5))},
            ),
            _procedure(
                code="1.000005",
                processing_time={"value": 8, "unit": "working_hours"},
                route={"mode": "parallel", "lead_body": "UBND", "steps": _steps(("UBND", 1), ("Công an", 2))},
            ),
            _procedure(
                code="1.000006",
                models={"eligible_no_writing": True, "no_writing_forbidden_by_law": True},
                field_code="khong_co",
            ),
            _procedure(
                code="1.000007",
                components=[
                    {"id": "a", "name": "A", "kind": "original"},
                    {"id": "a", "name": "B", "kind": "copy"},
                ],
                form_fields=[{"name": "loai", "label": "Loại", "type": "select"}],
            ),
        ]
    )
    problems = validate_catalogue(cat, known_fields={"ho_tich"})
    text = "\n".join(problems)
    assert "procedure 1.000001: duplicate code (2 entries)" in text
    assert "procedure 1.000002: lead body 'Sở X' is not one of the route steps" in text
    assert "procedure 1.000003: a parallel route needs a lead body" in text
    assert "procedure 1.000004: sequential steps take 11 working days, more than the total processing time (10)" in text
    assert "procedure 1.000005: step 'Công an' takes 2 working days, more than the total processing time (1)" in text
    assert "procedure 1.000006: eligible for No-writing day but the law forbids writing on behalf" in text
    assert "procedure 1.000006: unknown field khong_co" in text
    assert "procedure 1.000007: duplicate component id a" in text
    assert "procedure 1.000007: select field loai has no options" in text
    assert cat.validate_problems({"ho_tich"}) == problems


def test_sequential_route_within_total_is_fine() -> None:
    p = _procedure(
        processing_time={"value": 11, "unit": "working_days"},
        route={"mode": "sequential", "steps": _steps(("VPĐKĐĐ", 6), ("Thuế", 5))},
    )
    assert p.problems() == []


# --------------------------------------------------------------------------- JSON


def test_json_round_trip(catalogue: ProcedureCatalogue) -> None:
    raw = catalogue_to_json(catalogue)
    assert "Đăng ký khai sinh".encode() in raw  # not \\u-escaped
    result = catalogue_from_json(raw)
    assert result.ok and result.problems == []
    assert result.catalogue == catalogue
    assert catalogue_to_json(result.unwrap()) == raw


def test_json_import_reports_problems(catalogue: ProcedureCatalogue) -> None:
    doc = json.loads(catalogue_to_json(catalogue))
    doc["procedures"][0]["fees"][0]["amount"] = -5
    doc["procedures"][1]["processing_time"]["value"] = 0
    result = catalogue_from_json(json.dumps(doc))
    assert result.catalogue is None and not result.ok
    code0, code1 = doc["procedures"][0]["code"], doc["procedures"][1]["code"]
    assert any(p.startswith(f"procedures[0] ({code0}).fees[0].amount:") for p in result.problems)
    assert any(p.startswith(f"procedures[1] ({code1}).processing_time.value:") for p in result.problems)
    assert catalogue_from_json(b"{not json").problems[0].startswith("invalid JSON")
    with pytest.raises(CatalogueImportError, match="problem"):
        result.unwrap()


def test_json_import_runs_consistency_checks(catalogue: ProcedureCatalogue) -> None:
    doc = json.loads(catalogue_to_json(catalogue))
    doc["procedures"].append(doc["procedures"][0])
    result = catalogue_from_json(json.dumps(doc))
    assert result.catalogue is None
    assert any("duplicate code" in p for p in result.problems)
    lenient = catalogue_from_json(json.dumps(doc), validate=False)
    assert lenient.catalogue is not None and len(lenient.catalogue) == len(catalogue) + 1


# --------------------------------------------------------------------------- XLSX


def test_xlsx_round_trip(catalogue: ProcedureCatalogue) -> None:
    data = catalogue_to_xlsx(catalogue)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:4] == ["procedures", "components", "fees", "route_steps"]
    assert wb["procedures"].max_row == len(catalogue) + 1
    result = catalogue_from_xlsx(data)
    assert result.problems == []
    assert result.catalogue == catalogue
    # and again: export of the imported catalogue reads back identically
    assert catalogue_from_xlsx(catalogue_to_xlsx(result.unwrap())).catalogue == catalogue


def _edit(data: bytes, edit: Any) -> bytes:
    wb = load_workbook(io.BytesIO(data))
    edit(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _col(ws: Any, name: str) -> int:
    header = [c.value for c in ws[1]]
    return header.index(name) + 1


def test_xlsx_bad_rows_are_reported_with_row_numbers(catalogue: ProcedureCatalogue) -> None:
    def edit(wb: Any) -> None:
        comps = wb["components"]
        comps.cell(row=7, column=_col(comps, "mandatory")).value = "maybe"
        comps.cell(row=8, column=_col(comps, "count")).value = 0
        fees = wb["fees"]
        fees.cell(row=3, column=_col(fees, "amount")).value = "nhiều"
        fees.cell(row=4, column=_col(fees, "procedure_code")).value = "9.999999"
        procs = wb["procedures"]
        procs.cell(row=5, column=_col(procs, "processing_time_unit")).value = "weeks"
        procs.cell(row=6, column=_col(procs, "channels")).value = "counter, fax"

    result = catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), edit))
    assert result.catalogue is None
    problems = result.problems
    assert "sheet components row 7: mandatory must be yes/no" in problems
    assert any(p.startswith("sheet components row 8: count:") for p in problems)
    assert "sheet fees row 3: amount must be a whole number" in problems
    assert "sheet fees row 4: unknown procedure_code 9.999999" in problems
    assert any(p.startswith("sheet procedures row 5: processing_time_unit:") for p in problems)
    assert any(p.startswith("sheet procedures row 6: channels:") for p in problems)


def test_xlsx_consistency_problems_point_at_the_procedure_row(catalogue: ProcedureCatalogue) -> None:
    codes = [p.code for p in catalogue.procedures]
    row_of_lien_thong = codes.index("2.002621") + 2

    def edit(wb: Any) -> None:
        procs = wb["procedures"]
        procs.cell(row=row_of_lien_thong, column=_col(procs, "route_lead_body")).value = "Sở Tư pháp"
        procs.cell(row=3, column=_col(procs, "code")).value = procs.cell(row=2, column=1).value

    problems = catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), edit)).problems
    assert (
        f"sheet procedures row {row_of_lien_thong}: procedure 2.002621: "
        "lead body 'Sở Tư pháp' is not one of the route steps"
    ) in problems
    assert f"sheet procedures row 3: duplicate procedure code {codes[0]} (first at row 2)" in problems


def test_xlsx_tolerates_hand_editing(catalogue: ProcedureCatalogue) -> None:
    def edit(wb: Any) -> None:
        procs = wb["procedures"]
        procs.cell(row=2, column=_col(procs, "eligible_no_writing")).value = "Có"
        procs.cell(row=2, column=_col(procs, "eligible_no_appointment")).value = True
        fees = wb["fees"]
        fees.cell(row=2, column=_col(fees, "amount")).value = "0 đ"
        procs.append([None] * procs.max_column)  # blank row

    result = catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), edit))
    assert result.problems == []
    assert result.unwrap() == catalogue  # same values written differently


def test_xlsx_code_typed_as_number() -> None:
    cat = ProcedureCatalogue(procedures=[_procedure(code="1.004220")])

    def edit(wb: Any) -> None:
        wb["procedures"].cell(row=2, column=1).value = 1.00422  # Excel turned the code into a number

    result = catalogue_from_xlsx(_edit(catalogue_to_xlsx(cat), edit))
    assert result.unwrap().procedures[0].code == "1.004220"


def test_xlsx_structure_problems(catalogue: ProcedureCatalogue) -> None:
    assert catalogue_from_xlsx(b"not a zip").problems[0].startswith("not a readable XLSX workbook")

    def drop_procedures(wb: Any) -> None:
        wb.remove(wb["procedures"])

    assert catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), drop_procedures)).problems == [
        "sheet procedures is missing"
    ]

    def rename_column(wb: Any) -> None:
        wb["components"].cell(row=1, column=_col(wb["components"], "mandatory")).value = "mandatroy"
        wb["fees"].cell(row=1, column=1).value = "thu_tuc"

    problems = catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), rename_column)).problems
    assert "sheet components: unknown column 'mandatroy'" in problems
    assert "sheet fees: missing column 'procedure_code'" in problems


def test_xlsx_route_steps_without_route_mode(catalogue: ProcedureCatalogue) -> None:
    codes = [p.code for p in catalogue.procedures]
    row = codes.index("1.012753") + 2

    def edit(wb: Any) -> None:
        procs = wb["procedures"]
        procs.cell(row=row, column=_col(procs, "route_mode")).value = None

    problems = catalogue_from_xlsx(_edit(catalogue_to_xlsx(catalogue), edit)).problems
    assert problems == [f"sheet procedures row {row}: route_steps given for 1.012753 (step 1) but route_mode is empty"]


def test_file_helpers(tmp_path: Path, catalogue: ProcedureCatalogue) -> None:
    for name in ("catalogue.json", "catalogue.xlsx"):
        path = tmp_path / name
        write_catalogue(path, catalogue)
        assert read_catalogue(path).catalogue == catalogue
    assert load_procedures(tmp_path / "catalogue.json") == catalogue
    assert load_procedures((tmp_path / "catalogue.json").read_bytes()) == catalogue
    with pytest.raises(ValueError, match="unsupported"):
        write_catalogue(tmp_path / "catalogue.csv", catalogue)


def test_import_result_unwrap() -> None:
    empty = ProcedureCatalogue()
    assert ImportResult(empty).unwrap() is empty
    with pytest.raises(CatalogueImportError) as exc:
        ImportResult(None, ["sheet fees row 2: x"]).unwrap()
    assert exc.value.problems == ["sheet fees row 2: x"]
