"""Builders for lifecycle unit tests: received dossiers on the shipped An Giang sample data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.intake.catalogue_io import load_procedures, load_units
from services.intake.model import lifecycle as lc
from services.intake.model.calendar import WorkingCalendar
from services.intake.model.catalogue import Procedure
from services.intake.model.dossier import (
    ActorRef,
    ApplicantRecord,
    Channel,
    Dossier,
    DossierStatus,
    StatusChange,
)
from services.intake.model.routing import route_to_competent_body

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CATALOGUE = load_procedures()
UNITS = load_units()
TREE = UNITS.tree()
CAL = WorkingCalendar()
OFFICES = {o.id: o for o in UNITS.offices}
LONG_XUYEN = OFFICES["ttpvhcc-long-xuyen"]  # commune level, unit 30307
PROVINCE_OFFICE = OFFICES["ttpvhcc-an-giang"]  # province level, unit 91

BIRTH = CATALOGUE.get("1.001193")  # 1 working day, commune
PERMANENT_RESIDENCE = CATALOGUE.get("1.004222")  # 7 working days, commune police
BIRTH_BUNDLE = CATALOGUE.get("2.002621")  # inter-agency, parallel, lead = UBND cấp xã, 5 working days
LAND = CATALOGUE.get("1.012753")  # inter-agency, sequential, province, 20 working days
PERMIT = CATALOGUE.get("1.009994")  # building permit, commune, 15 working days

OFFICER = ActorRef(subject="officer-1", name="Lê Thị Thu", role="reception_officer", unit_code="30307")
SPECIALIST = ActorRef(subject="spec-1", name="Trần Văn Bình", role="specialist", unit_code="30307")
LEADER = ActorRef(subject="lead-1", name="Phạm Minh Châu", role="signing_leader", unit_code="30307")


def at(day: int, hour: int = 9, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


def ctx(moment: datetime, actor: ActorRef = SPECIALIST, note: str = "") -> lc.Ctx:
    return lc.Ctx(actor=actor, now=moment, calendar=CAL, note=note)


def received(
    procedure: Procedure = PERMIT, moment: datetime | None = None, office_id: str = "ttpvhcc-long-xuyen"
) -> Dossier:
    """A dossier received at `moment` (default Monday 12/01/2026 09:00) with its due dates."""
    moment = moment or at(12)
    office = OFFICES[office_id]
    value = procedure.processing_time.value
    hours = procedure.processing_time.unit.value == "working_hours"
    due = CAL.add_working_hours(moment, float(value)) if hours else CAL.add_working_days(moment, int(value))
    handling = route_to_competent_body(procedure, office, TREE)
    return Dossier(
        id="d-1",
        code=f"{office.receiving_unit_id}-{moment:%y%m%d}-0001",
        reference="TN-TEST",
        status=DossierStatus.RECEIVED,
        channel=Channel.COUNTER,
        office_id=office.id,
        office_name=office.name,
        receiving_unit_id=office.receiving_unit_id,
        unit_code=office.unit_code,
        unit_path=[office.unit_code, *[u.code for u in TREE.ancestors(office.unit_code)]],
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        field_code=procedure.field_code,
        procedure_level=procedure.level.value,
        applicant=ApplicantRecord(
            kind="individual", name="Nguyễn Văn An", id_number="089203004567", phone="0987654321", id_masked="089*"
        ),
        received_at=moment,
        due_at=due,
        clock_start=moment,
        statutory_due_at=due,
        processing_time={"value": value, "unit": "working_hours" if hours else "working_days"},
        transfer_deadline=CAL.transfer_deadline(moment),
        handling=handling,
        created_at=moment,
        history=[
            StatusChange(
                at=moment,
                from_status=None,
                to_status=DossierStatus.RECEIVED,
                actor=OFFICER.subject,
                role=OFFICER.role,
                unit_code=OFFICER.unit_code,
                note="Tiếp nhận hồ sơ",
            )
        ],
    )
