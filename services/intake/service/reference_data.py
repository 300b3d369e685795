"""Intake's reference data (units, offices, counters, procedures, calendar, counter models):
loaded from the reference repository into one `ReferenceData` snapshot, or seeded from the
shipped An Giang sample."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.catalogue_io import load_procedures, load_units
from services.intake.model.calendar import CalendarOverrides
from services.intake.model.reception import ModelDays
from services.intake.model.reference import ReferenceData


async def load_reference(reference_repo: Any) -> ReferenceData | None:
    """The stored reference data, or None while no units or procedures are loaded."""
    units = await reference_repo.load_units()
    catalogue = await reference_repo.load_procedures()
    if units is None or catalogue is None:
        return None
    return ReferenceData(
        units=units,
        catalogue=catalogue,
        overrides={o.province_code: o for o in await reference_repo.load_overrides()},
        office_hours=await reference_repo.load_office_hours(),
        model_days=await reference_repo.load_model_days(),
    )


async def save_sample(reference_repo: Any, by: str) -> dict[str, int]:
    """Store the shipped An Giang sample (units, offices, counters, procedures, calendar); the counts."""
    from importlib import resources

    units = load_units()
    catalogue = load_procedures()
    await reference_repo.save_units(units, by)
    await reference_repo.save_procedures(catalogue, by)
    raw = (resources.files("services.intake") / "data" / "calendar_overrides.json").read_bytes()
    await reference_repo.save_overrides(CalendarOverrides.model_validate_json(raw))
    # Sample counter models: Wednesday is No-writing and No-appointment day (seed 000),
    # and Tuesday at commune level (seed 004).
    for office in units.offices:
        weekdays = [2] if office.level.value == "province" else [1, 2]
        await reference_repo.save_model_days(
            ModelDays(
                office_id=office.id,
                effective_from=datetime(2025, 7, 1).date(),
                no_writing_weekdays=weekdays,
                no_appointment_weekdays=weekdays,
            )
        )
    return {
        "units": len(units.units),
        "offices": len(units.offices),
        "counters": len(units.counters),
        "procedures": len(catalogue),
    }
