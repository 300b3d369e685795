"""Applicant registry, indicators and reports (JSON, CSV, XLSX), national-portal backlog."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from services.intake.national_portal.sync import NationalPortalSync
from services.intake.registry import ApplicantRegistry
from services.intake.reports.export import to_csv, to_xlsx
from services.intake.reports.service import ReportService
from services.kit.auth import Principal, Role, require_roles

router = APIRouter()
R = Role

RegistryReader = Annotated[
    Principal,
    Depends(
        require_roles(R.RECEPTION_OFFICER, R.SPECIALIST, R.SIGNING_LEADER, R.UNIT_ADMIN, R.PROVINCE_ADMIN, R.INSPECTOR)
    ),
]
ReportReader = Annotated[
    Principal, Depends(require_roles(R.UNIT_ADMIN, R.PROVINCE_ADMIN, R.INSPECTOR, R.SIGNING_LEADER))
]
SyncReader = Annotated[Principal, Depends(require_roles(R.UNIT_ADMIN, R.PROVINCE_ADMIN, R.INSPECTOR))]
SyncAdmin = Annotated[Principal, Depends(require_roles(R.UNIT_ADMIN, R.PROVINCE_ADMIN))]


async def registry_of(request: Request) -> ApplicantRegistry:
    svc: ApplicantRegistry = request.app.state.registry
    return svc


async def reports_of(request: Request) -> ReportService:
    svc: ReportService = request.app.state.reports
    return svc


async def sync_of(request: Request) -> NationalPortalSync:
    svc: NationalPortalSync = request.app.state.national_sync
    return svc


Registry = Annotated[ApplicantRegistry, Depends(registry_of)]
Reports = Annotated[ReportService, Depends(reports_of)]
Sync = Annotated[NationalPortalSync, Depends(sync_of)]


# ---- applicant registry ------------------------------------------------------------------
@router.get("/applicants", tags=["registry"], operation_id="search_applicants")
async def search_applicants(
    registry: Registry, who: RegistryReader, q: Annotated[str, Query(min_length=2, max_length=200)]
) -> list[dict[str, Any]]:
    """By name without diacritics ("nguyen van a"), ID number, tax code or phone (audited)."""
    return await registry.search(who, q)


@router.get("/applicants/{key}", tags=["registry"], operation_id="get_applicant")
async def get_applicant(key: str, registry: Registry, who: RegistryReader) -> dict[str, Any]:
    """Contact data and dossier history, limited to dossiers of the caller's units (audited)."""
    return await registry.profile(who, key)


# ---- indicators and reports -------------------------------------------------------------
Period = Annotated[str, Query(pattern="^(day|month|year)$")]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]
Unit = Annotated[str | None, Query(max_length=8)]


@router.get("/reports/indicators", tags=["reports"], operation_id="get_indicators")
async def indicators(
    reports: Reports,
    who: ReportReader,
    unit_code: Unit = None,
    start: From = None,
    end: To = None,
    period: Period = "month",
) -> dict[str, Any]:
    """Counts by status, unit, field, channel and period; timeliness, online, digitisation,
    online payment, satisfaction and Circular-01 scores — a province rolls up every unit below."""
    return await reports.indicators(who, unit_code, start, end, period)


@router.get("/reports/indicators.csv", tags=["reports"], operation_id="export_indicators_csv", response_class=Response)
async def indicators_csv(
    reports: Reports,
    who: ReportReader,
    unit_code: Unit = None,
    start: From = None,
    end: To = None,
    period: Period = "month",
) -> Response:
    report = await reports.indicators(who, unit_code, start, end, period)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="chi-so-{report["unit_code"]}.csv"'},
    )


@router.get(
    "/reports/indicators.xlsx", tags=["reports"], operation_id="export_indicators_xlsx", response_class=Response
)
async def indicators_xlsx(
    reports: Reports,
    who: ReportReader,
    unit_code: Unit = None,
    start: From = None,
    end: To = None,
    period: Period = "month",
) -> Response:
    report = await reports.indicators(who, unit_code, start, end, period)
    return Response(
        to_xlsx(report),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="chi-so-{report["unit_code"]}.xlsx"'},
    )


# ---- national portal synchronisation ----------------------------------------------------
@router.get("/national-portal/backlog", tags=["national-portal"], operation_id="national_portal_backlog")
async def backlog(sync: Sync, who: SyncReader) -> dict[str, Any]:
    """Dossiers waiting to be pushed to the national portal, with attempts and the last error."""
    return await sync.backlog(who)


@router.post("/national-portal/retry", tags=["national-portal"], operation_id="national_portal_retry")
async def retry(sync: Sync, who: SyncAdmin) -> dict[str, int]:
    """Retry every pending push of the caller's units now."""
    return {"rescheduled": await sync.retry_now(who)}
