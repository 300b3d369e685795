"""Administrative units, offices and counters: shipped data, tree queries, reform, validation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.intake.catalogue_io import CatalogueImportError, load_units
from services.intake.model.units import (
    AdministrativeUnit,
    AdminLevel,
    Counter,
    FieldOfService,
    NoSuccessorError,
    Office,
    UnitCatalogueData,
    UnitNotInForceError,
    UnitTree,
    UnitType,
    UnknownUnitError,
    validate_unit_catalogue,
)

BEFORE = date(2024, 1, 15)  # three tiers: tỉnh → huyện → xã
AFTER = date(2025, 8, 1)  # two tiers: tỉnh → xã
REFORM_DAY = date(2025, 7, 1)


@pytest.fixture(scope="module")
def data() -> UnitCatalogueData:
    return load_units()


@pytest.fixture(scope="module")
def tree(data: UnitCatalogueData) -> UnitTree:
    return data.tree()


def codes(units: list[AdministrativeUnit]) -> list[str]:
    return [u.code for u in units]


# --------------------------------------------------------------------------- shipped data


def test_shipped_unit_data_has_no_problems(data: UnitCatalogueData) -> None:
    assert validate_unit_catalogue(data) == []
    assert data.note  # marked as a sample
    assert 4 <= len([o for o in data.offices if o.active]) <= 5


def test_shipped_offices_and_counters(data: UnitCatalogueData) -> None:
    province_centre = data.office("ttpvhcc-an-giang")
    assert province_centre.level is AdminLevel.PROVINCE
    assert province_centre.unit_code == "91"
    assert province_centre.name == "Trung tâm Phục vụ hành chính công tỉnh An Giang"
    for office in data.offices:
        counters = data.counters_of(office.id)
        assert 2 <= len(counters) <= 4, office.id
        assert [c.number for c in counters] == list(range(1, len(counters) + 1))
    assert len({o.receiving_unit_id for o in data.offices}) == len(data.offices)
    names = data.field_names()
    for wanted in ("ho_tich", "chung_thuc", "cu_tru", "dat_dai", "dang_ky_kinh_doanh", "bao_tro_xa_hoi"):
        assert wanted in names


def test_load_units_from_path_and_bytes(tmp_path: Path, data: UnitCatalogueData) -> None:
    raw = data.model_dump_json().encode()
    assert load_units(raw) == data
    p = tmp_path / "units.json"
    p.write_bytes(raw)
    assert load_units(p) == data
    assert load_units(str(p)) == data


def test_load_units_rejects_inconsistent_data() -> None:
    bad = UnitCatalogueData(
        units=[AdministrativeUnit(code="30307", name="Phường X", type=UnitType.WARD, parent_code="99")]
    )
    with pytest.raises(CatalogueImportError) as exc:
        load_units(bad.model_dump_json().encode())
    assert any("parent 99 does not exist" in p for p in exc.value.problems)
    # and schema errors are reported as problems too
    with pytest.raises(CatalogueImportError):
        load_units(b'{"units": [{"code": "x"}]}')


# --------------------------------------------------------------------------- two-tier (since 1/7/2025)


def test_two_tier_queries(tree: UnitTree) -> None:
    long_xuyen = tree.get("30307")
    assert long_xuyen.name == "Phường Long Xuyên"
    assert long_xuyen.level is AdminLevel.COMMUNE
    assert codes(tree.ancestors("30307")) == ["91"]
    assert tree.parent("30307") == tree.get("91", AFTER)
    assert tree.province_of("31078").name == "Tỉnh An Giang"
    assert tree.province_of("91").code == "91"  # a province is its own province
    below = codes(tree.descendants("91"))
    assert {"30307", "30292", "30301", "30313", "30316", "30742", "31078"} <= set(below)
    assert "883" not in below and "30280" not in below
    assert codes(tree.children("91", AFTER)) == codes(tree.children("91"))
    assert tree.is_within("30742", "91")
    assert tree.is_within("30307", "30307")  # a unit is within itself
    assert not tree.is_within("30307", "89")
    assert not tree.is_within("30307", "30316")


def test_special_zone_is_commune_level(tree: UnitTree) -> None:
    phu_quoc = tree.get("31078")
    assert phu_quoc.type is UnitType.SPECIAL_ZONE
    assert phu_quoc.level is AdminLevel.COMMUNE
    assert "Thành phố Phú Quốc" in phu_quoc.former_names
    assert {u.code for u in tree.search("thành phố phú quốc")} == {"911", "31078"}
    assert codes(tree.search("Thành phố Phú Quốc", AFTER)) == ["31078"]


# --------------------------------------------------------------------------- three-tier (before)


def test_three_tier_queries(tree: UnitTree) -> None:
    # code 30307 was Phường Mỹ Hòa under Thành phố Long Xuyên (883) before the reform
    assert tree.get("30307", BEFORE).name == "Phường Mỹ Hòa"
    assert codes(tree.ancestors("30307", BEFORE)) == ["883", "89"]
    assert tree.province_of("30280", BEFORE).code == "89"
    assert tree.province_of("30280").name == "Tỉnh An Giang"  # its last version's parent chain
    assert tree.parent("883") == tree.get("89")
    assert tree.is_within("30313", "883", BEFORE)
    assert tree.is_within("30313", "89", BEFORE)
    assert not tree.is_within("30313", "883", AFTER)  # same code, now directly under 91
    assert tree.is_within("30313", "91", AFTER)
    below_89 = codes(tree.descendants("89"))
    assert below_89[:2] == ["883", "884"]  # breadth first: districts before wards
    assert {"30280", "30283", "30307", "30313", "30316", "30319"} <= set(below_89)
    assert codes(tree.children("883", BEFORE)) == [
        "30280",
        "30283",
        "30289",
        "30292",
        "30301",
        "30307",
        "30313",
    ]
    assert tree.get("883").level is AdminLevel.DISTRICT


def test_code_91_changes_meaning(tree: UnitTree) -> None:
    assert tree.get("91", BEFORE).name == "Tỉnh Kiên Giang"
    assert tree.get("91", AFTER).name == "Tỉnh An Giang"
    assert tree.get("91").name == "Tỉnh An Giang"  # default: current version
    assert len(tree.versions("91")) == 2
    assert codes(tree.descendants("91", BEFORE)) == ["899", "911"]
    assert codes(tree.roots(BEFORE)) == ["89", "91"]
    assert [u.label() for u in tree.roots()] == ["91 Tỉnh An Giang (2025-07-01..)"]


def test_active_at(tree: UnitTree) -> None:
    assert tree.active_at("89", BEFORE)
    assert tree.active_at("89", date(2025, 6, 30))
    assert not tree.active_at("89", REFORM_DAY)
    assert tree.active_at("31078", REFORM_DAY)
    assert not tree.active_at("31078", BEFORE)
    assert not tree.active_at("883", AFTER)
    assert tree.active_at("91", BEFORE) and tree.active_at("91", AFTER)


# --------------------------------------------------------------------------- reform / successors


def test_resolve_successor_89_to_91(tree: UnitTree) -> None:
    [unit] = tree.resolve_successor("89", AFTER)
    assert (unit.code, unit.name, unit.valid_from) == ("91", "Tỉnh An Giang", REFORM_DAY)
    assert tree.resolve_successor("89", BEFORE) == [tree.get("89")]  # still in force then


def test_resolve_successor_of_old_kien_giang_and_districts(tree: UnitTree) -> None:
    assert codes(tree.resolve_successor("91", AFTER)) == ["91"]
    assert codes(tree.resolve_successor("883", AFTER)) == ["30307", "30292", "30301", "30313"]
    assert codes(tree.resolve_successor("911", AFTER)) == ["31078", "31105"]
    [ward] = tree.resolve_successor("30280", AFTER)
    assert ward.name == "Phường Long Xuyên"
    # 30307 itself is in force after the reform (as Phường Long Xuyên)
    assert tree.resolve_successor("30307", AFTER)[0].name == "Phường Long Xuyên"


def test_resolve_successor_errors(tree: UnitTree) -> None:
    with pytest.raises(UnitNotInForceError, match="did not exist yet"):
        tree.resolve_successor("31078", BEFORE)
    lonely = UnitTree(
        [AdministrativeUnit(code="88", name="Tỉnh Cũ", type=UnitType.PROVINCE, valid_to=date(2000, 1, 1))]
    )
    with pytest.raises(NoSuccessorError, match="without a successor"):
        lonely.resolve_successor("88", AFTER)


def test_unknown_and_not_in_force_errors(tree: UnitTree) -> None:
    with pytest.raises(UnknownUnitError) as exc:
        tree.get("12345")
    assert isinstance(exc.value, KeyError)
    assert str(exc.value) == "unknown administrative unit code '12345'"
    assert exc.value.code == "12345"
    with pytest.raises(UnitNotInForceError, match=r"89 is not in force on 2025-08-01"):
        tree.get("89", AFTER)
    with pytest.raises(UnknownUnitError):
        tree.is_within("30307", "00")
    with pytest.raises(UnknownUnitError):
        tree.active_at("00", AFTER)
    assert "12345" not in tree and "91" in tree


# --------------------------------------------------------------------------- models


def test_unit_model_rules() -> None:
    with pytest.raises(ValidationError, match="before valid_from"):
        AdministrativeUnit(
            code="91",
            name="X",
            type=UnitType.PROVINCE,
            valid_from=date(2025, 7, 1),
            valid_to=date(2025, 6, 30),
        )
    with pytest.raises(ValidationError):
        AdministrativeUnit(code="9A", name="X", type=UnitType.PROVINCE)
    unit = AdministrativeUnit(code="91", name="X", type=UnitType.PROVINCE, valid_from=REFORM_DAY)
    assert unit.in_force_at(REFORM_DAY) and not unit.in_force_at(date(2025, 6, 30))
    assert UnitType.PROVINCIAL_CITY.level is AdminLevel.DISTRICT
    assert UnitType.TOWNSHIP.level is AdminLevel.COMMUNE


@pytest.mark.parametrize("rid", ["000.00.12.H01", "000.01.30.H01", "G22.99.AB.H64", " 000.00.12.h01 "])
def test_receiving_unit_id_accepted(rid: str) -> None:
    office = Office(id="x", name="X", unit_code="91", receiving_unit_id=rid, level=AdminLevel.PROVINCE)
    assert office.receiving_unit_id == rid.strip().upper()


@pytest.mark.parametrize(
    "rid", ["000.00.12", "000-00-12-H01", "000.00.12.H01-260113-0042", "0000.00.12.H01", "000.00.12.101", ""]
)
def test_receiving_unit_id_rejected(rid: str) -> None:
    with pytest.raises(ValidationError, match="receiving_unit_id"):
        Office(id="x", name="X", unit_code="91", receiving_unit_id=rid, level=AdminLevel.PROVINCE)


# --------------------------------------------------------------------------- validation


def _unit(code: str, type_: UnitType, parent: str | None = None, **kw: object) -> AdministrativeUnit:
    return AdministrativeUnit.model_validate(
        {"code": code, "name": f"Đơn vị {code}", "type": type_, "parent_code": parent, **kw}
    )


def test_validation_reports_referential_problems() -> None:
    data = UnitCatalogueData(
        fields=[FieldOfService(code="ho_tich", name="Hộ tịch"), FieldOfService(code="ho_tich", name="Trùng")],
        units=[
            _unit("91", UnitType.PROVINCE),
            _unit("91", UnitType.PROVINCE, valid_from=date(2020, 1, 1)),  # overlaps the open-ended one
            _unit("30307", UnitType.WARD, "91"),
            _unit("30308", UnitType.WARD, "99"),  # missing parent
            _unit("3031", UnitType.WARD, "91"),  # wrong code length
            _unit("30309", UnitType.WARD),  # commune without parent
            _unit("883", UnitType.PROVINCIAL_CITY, "30307"),  # parent below it
            _unit("30310", UnitType.WARD, "91", successor_codes=["30307"]),  # current with successors
            _unit("30311", UnitType.WARD, "91", valid_to=date(2025, 6, 30), successor_codes=["30399"]),
        ],
        offices=[
            Office(id="a", name="A", unit_code="91", receiving_unit_id="000.00.12.H01", level=AdminLevel.COMMUNE),
            Office(
                id="a",
                name="A2",
                unit_code="77",
                receiving_unit_id="000.00.12.H01",
                level=AdminLevel.PROVINCE,
            ),
        ],
        counters=[
            Counter(id="q1", office_id="a", number=1, name="Quầy 1", fields=["ho_tich", "dat_dai"]),
            Counter(id="q2", office_id="a", number=1, name="Quầy 1 bis"),
            Counter(id="q2", office_id="zz", number=2, name="Quầy 2"),
        ],
    )
    problems = validate_unit_catalogue(data)
    text = "\n".join(problems)
    for expected in [
        "field ho_tich: duplicate code",
        "unit 91: validity of",
        "parent 99 does not exist",
        "a commune-level code has 5 digits, not 4",
        "a commune-level unit needs a parent_code",
        "is not above it",
        "a current unit cannot have successors",
        "successor 30399 does not exist",
        "office a: duplicate id",
        "receiving_unit_id 000.00.12.H01 is used by more than one office",
        "office a: level commune does not match unit",
        "office a: unit 77 does not exist",
        "counter q2: duplicate id",
        "counter q2: office zz does not exist",
        "counter q2: number 1 already used by q1 in office a",
        "counter q1: unknown field dat_dai",
    ]:
        assert expected in text, expected


def test_validation_reports_cycles_and_ended_links() -> None:
    data = UnitCatalogueData(
        units=[
            _unit("883", UnitType.PROVINCIAL_CITY, "884"),
            _unit("884", UnitType.PROVINCIAL_CITY, "883"),
            _unit("89", UnitType.PROVINCE, valid_to=date(2025, 6, 30), successor_codes=["92"]),
            _unit("92", UnitType.PROVINCE, valid_from=date(2026, 1, 1)),  # gap: not in force on 1/7/2025
            _unit("30280", UnitType.WARD, "89"),  # current ward under an ended province
        ],
        offices=[
            Office(
                id="old",
                name="Old",
                unit_code="89",
                receiving_unit_id="000.00.01.H01",
                level=AdminLevel.PROVINCE,
            )
        ],
    )
    text = "\n".join(validate_unit_catalogue(data))
    assert "cycle in the parent chain" in text
    assert "successor 92 is not in force on 2025-07-01" in text
    assert "current unit under ended parent" in text
    assert "office old: active office attached to ended unit" in text
    tree = data.tree()
    with pytest.raises(ValueError, match="cycle"):
        tree.ancestors("883")
