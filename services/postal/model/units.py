"""Where an office sits in the administrative tree: office → its unit → the units above it. Pure.

Postal does not own reference data: intake publishes its administrative units and offices
(`GET /units`, `GET /offices`, public), or a deployment gives postal the same catalogue as a
file. A pickup order's `unit_path` — which decides which staff may see and act on it — is
derived from the office it is addressed to, never taken from the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict

from services.postal.model.common import PostalError


class UnitRef(BaseModel):
    """One version of an administrative unit (codes are reused after mergers: see `valid_to`)."""

    model_config = ConfigDict(extra="ignore")

    code: str
    name: str = ""
    parent_code: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def in_force_at(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


class OfficeRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = ""
    unit_code: str
    active: bool = True


class Place(BaseModel):
    """An office and the unit path of everything filed with it."""

    office_id: str
    office_name: str
    unit_path: list[str]


class UnitDirectory:
    def __init__(self, units: Iterable[UnitRef], offices: Iterable[OfficeRef]) -> None:
        self._units: dict[str, list[UnitRef]] = {}
        for unit in units:
            self._units.setdefault(unit.code, []).append(unit)
        self._offices = {o.id: o for o in offices}

    @classmethod
    def from_catalogue(cls, data: dict[str, object]) -> UnitDirectory:
        """From intake's unit catalogue (`{"units": [...], "offices": [...]}`, the import format)."""
        units = data.get("units") or []
        offices = data.get("offices") or []
        assert isinstance(units, list) and isinstance(offices, list)
        return cls(
            [UnitRef.model_validate(u) for u in units],
            [OfficeRef.model_validate(o) for o in offices],
        )

    def __len__(self) -> int:
        return len(self._offices)

    def unit(self, code: str, day: date) -> UnitRef:
        for version in self._units.get(code, []):
            if version.in_force_at(day):
                return version
        raise PostalError("unknown_unit", f"No administrative unit {code} in force on {day.isoformat()}")

    def unit_path(self, code: str, day: date) -> list[str]:
        """The unit's code and those of every unit above it, as in force on `day`."""
        path: list[str] = []
        current: str | None = code
        while current is not None:
            if current in path:
                raise PostalError("unknown_unit", f"The unit tree loops at {current}")
            path.append(current)
            current = self.unit(current, day).parent_code
        return path

    def place(self, office_id: str, day: date) -> Place:
        office = self._offices.get(office_id)
        if office is None or not office.active:
            raise PostalError("unknown_office", f"No open office {office_id!r} receives dossiers")
        return Place(office_id=office.id, office_name=office.name, unit_path=self.unit_path(office.unit_code, day))
