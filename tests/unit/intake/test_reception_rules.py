"""Reception rules (pure): completeness, decisions, counter models, office and channel checks."""

from datetime import date

import pytest

from services.intake.catalogue_io import load_procedures, load_units
from services.intake.model.dossier import Channel, format_dossier_code, parse_dossier_code
from services.intake.model.reception import (
    ApplicantInput,
    Decision,
    ExtraMissingItem,
    ModelDays,
    NoWritingInput,
    ReceptionError,
    SubmittedComponent,
    check_channel,
    check_office_serves,
    missing_items,
    model_days_in_force,
    plan_reception,
)

CATALOGUE = load_procedures()
UNITS = load_units()
BIRTH = CATALOGUE.get("1.001193")
LAND = CATALOGUE.get("1.012753")
WEDNESDAY = date(2026, 1, 14)
MONDAY = date(2026, 1, 12)


def complete() -> list[SubmittedComponent]:
    return [SubmittedComponent(component_id=c.id) for c in BIRTH.components if c.mandatory]


def plan(**over: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(
        procedure=BIRTH,
        decision=Decision.RECEIVE,
        submitted=complete(),
        extra_missing=[],
        refusal_reason=None,
        model_days=None,
        received_on=MONDAY,
        no_writing=None,
        slip_requested=False,
    )
    args.update(over)
    return plan_reception(**args)  # type: ignore[arg-type]


def test_every_missing_mandatory_component_is_listed_at_once() -> None:
    missing = missing_items(BIRTH, [SubmittedComponent(component_id="to_khai")])
    mandatory = [c.name for c in BIRTH.components if c.mandatory and c.id != "to_khai"]
    assert [m.name for m in missing] == mandatory


def test_provided_but_invalid_component_is_listed_with_its_problem() -> None:
    lines = complete()
    lines[0] = SubmittedComponent(component_id=lines[0].component_id, problem="Tờ khai chưa ký")
    assert [m.reason for m in missing_items(BIRTH, lines)] == ["Tờ khai chưa ký"]


def test_unknown_component_is_refused() -> None:
    with pytest.raises(ReceptionError) as info:
        missing_items(BIRTH, [SubmittedComponent(component_id="nope")])
    assert info.value.code == "unknown_component"


def test_receive_needs_a_complete_dossier_and_supplement_needs_something_missing() -> None:
    with pytest.raises(ReceptionError) as info:
        plan(submitted=[])
    assert info.value.code == "dossier_incomplete"
    with pytest.raises(ReceptionError) as info:
        plan(decision=Decision.SUPPLEMENT)
    assert info.value.code == "nothing_missing"
    extra = [ExtraMissingItem(name="Giấy chứng sinh", reason="Bản photo không rõ")]
    assert plan(decision=Decision.SUPPLEMENT, extra_missing=extra).missing[0].reason == "Bản photo không rõ"


def test_refusal_requires_a_reason() -> None:
    with pytest.raises(ReceptionError) as info:
        plan(decision=Decision.REFUSE, refusal_reason="  ")
    assert info.value.code == "refusal_reason_required"
    assert plan(decision=Decision.REFUSE, refusal_reason="Không thuộc thẩm quyền").decision is Decision.REFUSE


def test_no_appointment_only_on_the_office_model_day_for_eligible_procedures() -> None:
    days = ModelDays(office_id="x", effective_from=date(2025, 7, 1), no_appointment_weekdays=[2])
    assert plan(model_days=days, received_on=WEDNESDAY).no_appointment is True
    assert plan(model_days=days, received_on=WEDNESDAY).print_slip is False
    assert plan(model_days=days, received_on=WEDNESDAY, slip_requested=True).print_slip is True
    assert plan(model_days=days, received_on=MONDAY).no_appointment is False
    limited = days.model_copy(update={"no_appointment_procedures": ["2.000815"]})
    assert plan(model_days=limited, received_on=WEDNESDAY).no_appointment is False


def test_model_days_follow_their_effective_date() -> None:
    old = ModelDays(office_id="x", effective_from=date(2019, 1, 1), no_writing_weekdays=[2])
    new = ModelDays(office_id="x", effective_from=date(2026, 1, 1), no_writing_weekdays=[0, 1, 2, 3, 4])
    assert model_days_in_force([old, new], date(2025, 12, 31)) is old
    assert model_days_in_force([old, new], date(2026, 1, 5)) is new
    assert model_days_in_force([old, new], date(2018, 1, 1)) is None
    with pytest.raises(ValueError):
        ModelDays(office_id="x", effective_from=date(2026, 1, 1), no_writing_weekdays=[7])


def test_no_writing_is_recorded_only_when_the_officer_filled_the_forms() -> None:
    assert plan(no_writing=NoWritingInput()).no_writing is True
    assert plan(no_writing=NoWritingInput(filled_by_officer=False)).no_writing is False


def test_office_level_and_fields_decide_what_it_receives() -> None:
    commune = UNITS.office("ttpvhcc-long-xuyen")
    province = UNITS.office("ttpvhcc-an-giang")
    check_office_serves(commune, BIRTH, {"ho_tich"})
    with pytest.raises(ReceptionError) as info:
        check_office_serves(commune, LAND, {"dat_dai"})
    assert info.value.code == "procedure_not_served_here"
    check_office_serves(province, LAND, {"dat_dai"})
    with pytest.raises(ReceptionError):
        check_office_serves(commune, BIRTH, {"chung_thuc"})


def test_channel_must_be_offered_by_the_procedure() -> None:
    check_channel(BIRTH, Channel.POSTAL)
    with pytest.raises(ReceptionError) as info:
        check_channel(CATALOGUE.get("2.000884"), Channel.ONLINE)
    assert info.value.code == "channel_not_allowed"


def test_applicant_identity_is_validated_and_normalised() -> None:
    a = ApplicantInput(full_name="Trần B", id_number="089 303 001 234", phone="+84 912 345 678")
    assert a.id_number == "089303001234" and a.phone == "0912345678"
    with pytest.raises(ValueError, match="id_number"):
        ApplicantInput(full_name="Trần B", id_number="08930300123A")
    with pytest.raises(ValueError, match="required for an individual"):
        ApplicantInput(full_name="Trần B")
    with pytest.raises(ValueError, match="organisation"):
        ApplicantInput(kind="organisation", full_name="Trần B")


def test_dossier_code_format_and_parse() -> None:
    from datetime import datetime

    code = format_dossier_code("000.00.12.H01", datetime(2026, 1, 13, 9), 42)
    assert code == "000.00.12.H01-260113-0042"
    assert parse_dossier_code(code) == ("000.00.12.H01", "260113", 42)
    assert parse_dossier_code("nonsense") is None
    with pytest.raises(ValueError):
        format_dossier_code("000.00.12.H01", datetime(2026, 1, 13), 10000)
