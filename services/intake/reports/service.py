"""Indicators for a unit and period (roll-up below it), from the pipelines, and their exports."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.asynchronous.database import AsyncDatabase

from services.intake.model.dossier import STATUS_LABELS_VI, DossierStatus
from services.intake.model.rating import INDICATORS
from services.intake.model.units import UnknownUnitError
from services.intake.reports.pipelines import PERIOD_FORMATS, dossier_pipeline, rating_pipeline
from services.intake.service import IntakeService
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import Invalid
from services.kit.mongo import Document

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

COUNTER_KEYS = (
    "dossiers",
    "received",
    "online",
    "postal",
    "early",
    "on_time",
    "late",
    "open_late",
    "with_digitised_components",
    "with_reused_components",
    "with_result",
    "results_digitised",
    "paid",
    "paid_online",
    "apologies",
)


def share(part: int, whole: int) -> float | None:
    """Percentage with one decimal; None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None


def rates(c: dict[str, Any]) -> dict[str, float | None]:
    finished = int(c.get("early", 0)) + int(c.get("on_time", 0)) + int(c.get("late", 0))
    received = int(c.get("received", 0))
    return {
        "early_rate": share(int(c.get("early", 0)), finished),
        "on_time_rate": share(int(c.get("on_time", 0)), finished),
        "late_rate": share(int(c.get("late", 0)), finished),
        "on_time_or_early_rate": share(int(c.get("early", 0)) + int(c.get("on_time", 0)), finished),
        "online_share": share(int(c.get("online", 0)), received),
        "digitised_components_share": share(int(c.get("with_digitised_components", 0)), received),
        "reused_components_share": share(int(c.get("with_reused_components", 0)), received),
        "digitised_results_share": share(int(c.get("results_digitised", 0)), int(c.get("with_result", 0))),
        "paid_online_share": share(int(c.get("paid_online", 0)), int(c.get("paid", 0))),
    }


def _counters(row: dict[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    counters: dict[str, Any] = {k: int(row.get(k, 0)) for k in COUNTER_KEYS}
    counters["finished"] = counters["early"] + counters["on_time"] + counters["late"]
    return counters | rates(counters)


def _satisfaction(row: dict[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    n = int(row.get("ratings", 0))
    very, sat, unsat = (int(row.get(k, 0)) for k in ("very_satisfied", "satisfied", "unsatisfied"))
    return {
        "ratings": n,
        "very_satisfied": very,
        "satisfied": sat,
        "unsatisfied": unsat,
        "satisfied_share": share(very + sat, n),
        "circular01": {
            "average": row.get("score"),
            "indicators": {k: row.get(f"i_{k}") for k in INDICATORS},
        },
    }


class ReportService:
    def __init__(self, intake: IntakeService, db: AsyncDatabase[Document]) -> None:
        self.intake = intake
        self.dossiers = db["dossiers"]
        self.ratings = db["ratings"]

    def _bounds(self, start: date | None, end: date | None) -> tuple[datetime, datetime, date, date]:
        today = self.intake.clock.now().astimezone(VN_TZ).date()
        end = end or today
        start = start or end.replace(day=1)
        if start > end:
            raise Invalid("'from' is after 'to'", code="invalid_period")
        lo = datetime.combine(start, time(0), tzinfo=VN_TZ)
        hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=VN_TZ)
        return lo, hi, start, end

    async def indicators(
        self,
        principal: Principal,
        unit_code: str | None,
        start: date | None,
        end: date | None,
        period: str = "month",
    ) -> dict[str, Any]:
        if period not in PERIOD_FORMATS:
            raise Invalid(f"period is one of {', '.join(PERIOD_FORMATS)}", code="invalid_period")
        unit = unit_code or principal.unit_code
        ref = self.intake.reference
        try:
            path = ref.unit_path(unit)
            unit_name = ref.tree.get(unit).name
        except UnknownUnitError:
            raise Invalid(f"Unknown unit {unit!r}", code="unknown_unit") from None
        ensure_unit(principal, path)
        lo, hi, first, last = self._bounds(start, end)
        dossiers = (await (await self.dossiers.aggregate(dossier_pipeline(unit, lo, hi, period))).to_list())[0]
        ratings = (await (await self.ratings.aggregate(rating_pipeline(unit, lo, hi))).to_list())[0]
        names = {u.code: u.name for u in ref.tree.units}
        rating_by_unit = {r["_id"]: _satisfaction(r) for r in ratings["by_unit"]}
        return {
            "unit_code": unit,
            "unit_name": unit_name,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "period": period,
            "totals": _counters(dossiers["totals"][0] if dossiers["totals"] else None),
            "satisfaction": _satisfaction(ratings["totals"][0] if ratings["totals"] else None),
            "by_status": {
                r["_id"]: {
                    "dossiers": r["dossiers"],
                    "label": STATUS_LABELS_VI.get(DossierStatus(r["_id"]), r["_id"])
                    if r["_id"] in DossierStatus._value2member_map_
                    else r["_id"],
                }
                for r in dossiers["by_status"]
            },
            "by_unit": [
                {
                    "unit_code": r["_id"],
                    "unit_name": names.get(r["_id"], r["_id"]),
                    **_counters(r),
                    "satisfaction": rating_by_unit.get(r["_id"], _satisfaction(None)),
                }
                for r in dossiers["by_unit"]
            ],
            "by_handling_unit": {r["_id"]: r["dossiers"] for r in dossiers["by_handling_unit"]},
            "by_field": [{"field_code": r["_id"], **_counters(r)} for r in dossiers["by_field"]],
            "by_channel": {r["_id"]: r["dossiers"] for r in dossiers["by_channel"]},
            "by_period": [{"period": r["_id"], **_counters(r)} for r in dossiers["by_period"]],
        }
