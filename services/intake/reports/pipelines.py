"""The aggregation pipelines behind the indicators (computed in MongoDB, never in Python loops).

Scope: every dossier whose `unit_path` holds the requested unit — a commune sees its own, a
province the roll-up of every unit below it. Period: dossiers created in [start, end).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.model.rating import INDICATORS

# Payment channels counted as "paid online" (Decision 766: online payment). [check]
ONLINE_PAYMENT_CHANNELS = ["vnpay", "vietqr", "online", "paygov", "internet_banking", "mobile_banking"]
PERIOD_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
TIMEZONE = "Asia/Ho_Chi_Minh"
RESULT_STATUSES = ["resolved", "result_ready", "returned"]


def _flag(expr: Any) -> dict[str, Any]:
    return {"$sum": {"$cond": [expr, 1, 0]}}


_HAS_CODE = {"$ifNull": ["$code", False]}


def _any(array_field: str, flag: str) -> dict[str, Any]:
    return {"$gt": [{"$size": {"$filter": {"input": {"$ifNull": [array_field, []]}, "cond": f"$$this.{flag}"}}}, 0]}


def _counters() -> dict[str, Any]:
    """The per-group counters every breakdown shares."""
    return {
        "dossiers": {"$sum": 1},
        "received": _flag(_HAS_CODE),
        "online": _flag({"$and": [_HAS_CODE, {"$eq": ["$channel", "online"]}]}),
        "postal": _flag({"$and": [_HAS_CODE, {"$eq": ["$channel", "postal"]}]}),
        "early": _flag({"$eq": ["$timeliness", "early"]}),
        "on_time": _flag({"$eq": ["$timeliness", "on_time"]}),
        "late": _flag({"$eq": ["$timeliness", "late"]}),
        "open_late": _flag({"$and": [{"$eq": ["$late", True]}, {"$eq": [{"$ifNull": ["$finished_at", None]}, None]}]}),
        "with_digitised_components": _flag({"$and": [_HAS_CODE, _any("$components", "digitised")]}),
        "with_reused_components": _flag({"$and": [_HAS_CODE, _any("$components", "reused")]}),
        "with_result": _flag({"$in": ["$status", RESULT_STATUSES]}),
        "results_digitised": _flag(
            {"$and": [{"$in": ["$status", RESULT_STATUSES]}, {"$eq": ["$result.digitised", True]}]}
        ),
        "paid": _flag({"$eq": ["$payment.status", "paid"]}),
        "paid_online": _flag(
            {"$and": [{"$eq": ["$payment.status", "paid"]}, {"$in": ["$payment.channel", ONLINE_PAYMENT_CHANNELS]}]}
        ),
        "apologies": _flag({"$gt": [{"$ifNull": ["$apology", None]}, None]}),
    }


def dossier_pipeline(unit_code: str, start: datetime, end: datetime, period: str) -> list[dict[str, Any]]:
    fmt = PERIOD_FORMATS[period]
    counters = _counters()
    return [
        {"$match": {"unit_path": unit_code, "created_at": {"$gte": start, "$lt": end}}},
        {
            "$facet": {
                "totals": [{"$group": {"_id": None, **counters}}],
                "by_status": [{"$group": {"_id": "$status", "dossiers": {"$sum": 1}}}, {"$sort": {"_id": 1}}],
                "by_unit": [{"$group": {"_id": "$unit_code", **counters}}, {"$sort": {"_id": 1}}],
                "by_handling_unit": [
                    {"$match": {"handling": {"$ne": None}}},
                    {"$group": {"_id": "$handling.unit_code", "dossiers": {"$sum": 1}}},
                    {"$sort": {"_id": 1}},
                ],
                "by_field": [{"$group": {"_id": "$field_code", **counters}}, {"$sort": {"_id": 1}}],
                "by_channel": [{"$group": {"_id": "$channel", "dossiers": {"$sum": 1}}}, {"$sort": {"_id": 1}}],
                "by_period": [
                    {
                        "$group": {
                            "_id": {"$dateToString": {"format": fmt, "date": "$created_at", "timezone": TIMEZONE}},
                            **counters,
                        }
                    },
                    {"$sort": {"_id": 1}},
                ],
            }
        },
    ]


def rating_pipeline(unit_code: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    averages = {f"i_{key}": {"$avg": f"$indicators.{key}"} for key in INDICATORS}
    group = {
        "ratings": {"$sum": 1},
        "very_satisfied": _flag({"$eq": ["$level", "very_satisfied"]}),
        "satisfied": _flag({"$eq": ["$level", "satisfied"]}),
        "unsatisfied": _flag({"$eq": ["$level", "unsatisfied"]}),
        "score": {"$avg": "$score"},
        **averages,
    }
    rounded = {k: {"$round": [f"${k}", 1]} for k in ["score", *averages]}
    return [
        {"$match": {"unit_path": unit_code, "at": {"$gte": start, "$lt": end}}},
        {
            "$facet": {
                "totals": [{"$group": {"_id": None, **group}}, {"$addFields": rounded}],
                "by_unit": [{"$group": {"_id": "$unit_code", **group}}, {"$addFields": rounded}, {"$sort": {"_id": 1}}],
            }
        },
    ]
