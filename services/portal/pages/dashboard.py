"""The province / unit dashboard: volumes by channel and unit, on-time and late rates per month
and unit, queue waits, the national indicators — charts drawn server-side as inline SVG — and
CSV / XLSX exports (downloaded by `dashboard.js` with a progress bar)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal import charts
from services.portal.pages.common import (
    DASHBOARD_ROLES,
    QUEUE_STATS_ROLES,
    VN_TZ,
    clients_of,
    error_text,
    login_redirect,
    offices_in_scope,
    render,
    signed_in_as,
    token_of,
    translator,
    viewer_of,
)

router = APIRouter()

SHARES = (
    "on_time_or_early_rate",
    "online_share",
    "paid_online_share",
    "digitised_components_share",
    "reused_components_share",
    "digitised_results_share",
)
CIRCULAR01 = (
    "total_time",
    "agency_time",
    "contacts",
    "agencies_contacted",
    "counter_model",
    "publicity",
    "staff_attitude",
    "feedback_handling",
    "online_service",
)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _default_from(today: date) -> date:
    month = today.month - 11
    year = today.year
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


def _params(request: Request) -> dict[str, str]:
    today = datetime.now(VN_TZ).date()
    q = request.query_params
    start = _date(q.get("from")) or _default_from(today)
    end = _date(q.get("to")) or today
    out = {"from": start.isoformat(), "to": end.isoformat(), "period": "month"}
    unit = (q.get("unit_code") or "").strip()
    if unit.isdigit() and 2 <= len(unit) <= 5:
        out["unit_code"] = unit
    return out


def build_charts(report: dict[str, Any], t: Any) -> dict[str, Any]:
    """Every dashboard chart from one indicators report (pure: easy to test)."""
    empty = t("dashboard.no_data")
    channels = report.get("by_channel") or {}
    by_channel = charts.bars(
        [(t(f"channels.{k}", default=k), float(v)) for k, v in sorted(channels.items(), key=lambda kv: -kv[1])],
        title=t("dashboard.by_channel"),
        empty=empty,
    )
    units = report.get("by_unit") or []
    by_unit = charts.bars(
        [(u.get("unit_name") or u["unit_code"], float(u.get("dossiers") or 0)) for u in units],
        title=t("dashboard.by_unit"),
        empty=empty,
    )
    periods = report.get("by_period") or []
    timeliness = charts.stacked_columns(
        [p["period"] for p in periods],
        [
            charts.Series(t("timeliness.early"), [p.get("early") for p in periods]),
            charts.Series(t("timeliness.on_time"), [p.get("on_time") for p in periods]),
            charts.Series(t("timeliness.late"), [p.get("late") for p in periods]),
            charts.Series(t("timeliness.open_late"), [p.get("open_late") for p in periods]),
        ],
        title=t("dashboard.timeliness_by_month"),
        empty=empty,
    )
    on_time_by_unit = charts.bars(
        [(u.get("unit_name") or u["unit_code"], u.get("on_time_or_early_rate")) for u in units],
        title=t("dashboard.on_time_by_unit"),
        unit="%",
        max_value=100,
        empty=empty,
    )
    late_by_unit = charts.bars(
        [(u.get("unit_name") or u["unit_code"], u.get("late_rate")) for u in units],
        title=t("dashboard.late_by_unit"),
        unit="%",
        max_value=100,
        empty=empty,
    )
    totals = report.get("totals") or {}
    satisfaction = report.get("satisfaction") or {}
    shares = [(t(f"indicators.{k}"), totals.get(k)) for k in SHARES]
    shares.append((t("indicators.satisfied_share"), satisfaction.get("satisfied_share")))
    national = charts.bars(shares, title=t("dashboard.national"), unit="%", max_value=100, empty=empty)
    c01 = (satisfaction.get("circular01") or {}).get("indicators") or {}
    circular = charts.bars(
        [(t(f"circular01.{k}"), c01.get(k)) for k in CIRCULAR01],
        title=t("dashboard.circular01"),
        max_value=2,
        empty=empty,
    )
    return {
        "by_channel": by_channel,
        "by_unit": by_unit,
        "timeliness": timeliness,
        "on_time_by_unit": on_time_by_unit,
        "late_by_unit": late_by_unit,
        "national": national,
        "circular01": circular,
    }


def queue_charts(stats: dict[str, Any], t: Any) -> dict[str, Any]:
    empty = t("dashboard.no_data")
    hours = sorted(stats.get("wait_by_hour") or [], key=lambda h: h["_id"])
    by_hour = charts.columns(
        [(f"{h['_id']}h", round((h.get("avg_wait_s") or 0) / 60, 1)) for h in hours],
        title=t("dashboard.wait_by_hour"),
        unit=" ph",
        empty=empty,
    )
    counters = sorted(stats.get("by_counter") or [], key=lambda c: c.get("counter_number") or 0)
    by_counter = charts.bars(
        [
            (t("dashboard.counter_n", number=c.get("counter_number")), round((c.get("avg_wait_s") or 0) / 60, 1))
            for c in counters
        ],
        title=t("dashboard.wait_by_counter"),
        unit=" ph",
        empty=empty,
    )
    return {"by_hour": by_hour, "by_counter": by_counter}


@router.get("/thong-ke", response_class=HTMLResponse, include_in_schema=False, response_model=None)
async def dashboard(request: Request) -> Response:
    viewer = signed_in_as(request, DASHBOARD_ROLES)
    if isinstance(viewer, Response):
        return viewer
    t = translator(request)
    params = _params(request)
    clients = clients_of(request)
    token = token_of(request)
    report = await clients.call("intake", "GET", "/reports/indicators", token, params=params)
    offices = await offices_in_scope(request, viewer)
    office_id = request.query_params.get("office_id") or (offices[0]["id"] if offices else "")
    queue: dict[str, Any] | None = None
    queue_error = None
    if office_id and viewer.has(QUEUE_STATS_ROLES):
        stats = await clients.call(
            "intake",
            "GET",
            f"/queue/offices/{office_id}/stats",
            token,
            params={"from": max(params["from"], params["to"][:8] + "01"), "to": params["to"]},
        )
        if stats.ok:
            queue = stats.body
        else:
            queue_error = error_text(request, stats)
    data = report.body if report.ok else None
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return render(
        request,
        "dashboard.html",
        report=data,
        error=None if report.ok else error_text(request, report),
        charts=build_charts(data, t) if data else {},
        queue=queue,
        queue_charts=queue_charts(queue, t) if queue else {},
        queue_error=queue_error,
        params=params,
        offices=offices,
        office_id=office_id,
        export_query=query,
    )


@router.get("/thong-ke/xuat.{fmt}", include_in_schema=False, response_model=None)
async def export(request: Request, fmt: str) -> Response:
    if viewer_of(request) is None:
        return login_redirect(request)
    if fmt not in ("csv", "xlsx"):
        return Response(status_code=404)
    r = await clients_of(request).fetch(
        "intake", f"/reports/indicators.{fmt}", token_of(request), params=_params(request)
    )
    if r is None or r.status_code != 200:
        return Response(status_code=r.status_code if r is not None else 503)
    return Response(
        r.content,
        media_type=r.headers.get("content-type", "application/octet-stream"),
        headers={
            "Content-Disposition": r.headers.get("content-disposition", f'attachment; filename="chi-so.{fmt}"'),
            "Cache-Control": "no-store",
        },
    )
