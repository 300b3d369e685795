"""A snapshot of intake's reference data with the lookups reception needs. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.intake.model.calendar import CalendarOverrides, OfficeHours, WorkingCalendar
from services.intake.model.catalogue import Procedure, ProcedureCatalogue, UnknownProcedureError
from services.intake.model.reception import ModelDays, ReceptionError, model_days_in_force
from services.intake.model.units import Office, UnitCatalogueData, UnitTree


@dataclass
class ReferenceData:
    units: UnitCatalogueData
    catalogue: ProcedureCatalogue
    overrides: dict[str, CalendarOverrides] = field(default_factory=dict)
    office_hours: dict[str, OfficeHours] = field(default_factory=dict)
    model_days: list[ModelDays] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tree: UnitTree = self.units.tree()
        self._calendars: dict[str, WorkingCalendar] = {}
        self._offices = {o.id: o for o in self.units.offices}

    def office(self, office_id: str) -> Office:
        try:
            return self._offices[office_id]
        except KeyError:
            raise ReceptionError("unknown_office", f"Unknown office {office_id!r}") from None

    def procedure(self, code: str) -> Procedure:
        try:
            return self.catalogue.get(code)
        except UnknownProcedureError:
            raise ReceptionError("unknown_procedure", f"Unknown procedure {code!r}") from None

    def fields_served(self, office_id: str) -> set[str]:
        return {f for c in self.units.counters_of(office_id) for f in c.fields}

    def unit_path(self, unit_code: str, on: date | None = None) -> list[str]:
        """The unit and every unit above it (authorisation scope of a record)."""
        unit = self.tree.get(unit_code, on)
        return [unit.code] + [u.code for u in self.tree.ancestors(unit_code, on)]

    def province_code(self, unit_code: str) -> str:
        return self.tree.province_of(unit_code).code

    def calendar(self, office: Office) -> WorkingCalendar:
        cal = self._calendars.get(office.id)
        if cal is None:
            cal = WorkingCalendar(
                self.overrides.get(self.province_code(office.unit_code)),
                self.office_hours.get(office.id) or OfficeHours(),
            )
            self._calendars[office.id] = cal
        return cal

    def model_days_for(self, office_id: str, on: date) -> ModelDays | None:
        return model_days_in_force([m for m in self.model_days if m.office_id == office_id], on)
