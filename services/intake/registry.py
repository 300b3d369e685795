"""Applicant registry (seed 003): every person and organisation that transacted, kept current.

One registry line per dossier in `applicant_registry`, carrying the applicant's key (ID number
for individuals, tax code for organisations, failing both the phone), written in the same
transaction as each dossier write (repository), so the registry never misses a dossier and
concurrent receptions for one applicant never contend. Searches group the lines by applicant
in one aggregation. Names are stored folded (`text-unidecode`, lower case) so that
"nguyen van a" finds "Nguyễn Văn A".

Personal data: visible only to officers whose unit covers one of the applicant's dossiers
(`units` holds every unit on those dossiers' paths), and every search and read is recorded by
the read audit trail (privacy.service.AuditTrail, collection `audit_log`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from text_unidecode import unidecode

from services.intake.model.dossier import STATUS_LABELS_VI, DossierStatus
from services.intake.model.identity import mask_citizen_id, mask_phone
from services.intake.model.privacy import AuditAction, DossierRef, merge_paths
from services.kit.auth import Principal
from services.kit.errors import Invalid, NotFound
from services.kit.mongo import Document, find_union

_SPACES = re.compile(r"\s+")
# Registry lines read for one search at most (newest first); a name shared by more lines than
# this in one unit groups only the most recent ones.
MAX_SEARCH_LINES = 5000
REGISTRY_COLLECTION = "applicant_registry"


def fold(text: str) -> str:
    """'Nguyễn Văn Ánh' → 'nguyen van anh' (diacritics and đ removed, spaces collapsed)."""
    return _SPACES.sub(" ", unidecode(text or "")).strip().lower()


def applicant_key(applicant: dict[str, Any]) -> str | None:
    org = applicant.get("organisation") or {}
    if applicant.get("kind") == "organisation" and org.get("tax_code"):
        return f"tax:{org['tax_code']}"
    if applicant.get("id_number"):
        return f"id:{applicant['id_number']}"
    if applicant.get("phone"):
        return f"phone:{applicant['phone']}"
    return None


def registry_entry(dossier: Document) -> Document | None:
    """The registry line of one dossier (one document per dossier: concurrent receptions for
    the same applicant never contend for one document), or None without an identity."""
    applicant = dossier.get("applicant") or {}
    key = applicant_key(applicant)
    if key is None:
        return None
    units: list[str] = list(dossier.get("unit_path") or [])
    handling = dossier.get("handling") or {}
    units += [u for u in handling.get("unit_path") or [] if u not in units]
    org = applicant.get("organisation") or {}
    return {
        "_id": dossier["_id"],
        "key": key,
        "kind": applicant.get("kind"),
        "name": applicant.get("name"),
        "name_folded": fold(str(applicant.get("name") or "")),
        "id_number": applicant.get("id_number"),
        "id_masked": applicant.get("id_masked") or mask_citizen_id(applicant.get("id_number")),
        "phone": applicant.get("phone"),
        "email": applicant.get("email"),
        "address": applicant.get("address") or "",
        "organisation": org or None,
        "organisation_folded": fold(str(org.get("name") or "")) if org else "",
        "tax_code": org.get("tax_code"),
        "units": units,
        "at": dossier.get("received_at") or dossier.get("created_at") or datetime.now(UTC),
    }


def group_by_applicant(lines: Sequence[Document]) -> list[Document]:
    """Registry lines (newest first) → one row per applicant: the latest line's contact data,
    how many dossiers, first and last seen; the most recently seen applicant first."""
    groups: dict[str, Document] = {}
    for line in lines:
        row = groups.get(line["key"])
        if row is None:
            groups[line["key"]] = {
                "_id": line["key"],
                **{f: line.get(f) for f in ("kind", "name", "id_masked", "phone", "organisation")},
                "dossier_count": 1,
                "first_seen": line["at"],
                "last_seen": line["at"],
            }
            continue
        row["dossier_count"] += 1
        row["first_seen"] = min(row["first_seen"], line["at"])
        row["last_seen"] = max(row["last_seen"], line["at"])
    return sorted(groups.values(), key=lambda row: row["last_seen"], reverse=True)


class ReadRecorder(Protocol):
    """The read audit trail (privacy.service.AuditTrail)."""

    async def record(
        self,
        principal: Principal,
        action: AuditAction,
        *,
        endpoint: str,
        purpose: str,
        dossiers: Sequence[DossierRef] = (),
        person: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None: ...


def masked_key(key: str) -> str:
    """An applicant key as the audit trail shows it (ID number and phone masked)."""
    kind, _, value = key.partition(":")
    if kind == "id":
        return f"id:{mask_citizen_id(value)}"
    if kind == "phone":
        return f"phone:{mask_phone(value)}"
    return key


class ApplicantRegistry:
    def __init__(self, db: AsyncDatabase[Document], audit: ReadRecorder) -> None:
        self.entries = db[REGISTRY_COLLECTION]
        self.dossiers = db["dossiers"]
        self.audit = audit

    async def ensure_indexes(self) -> None:
        await self.entries.create_index([("units", ASCENDING), ("name_folded", ASCENDING)])
        await self.entries.create_index([("key", ASCENDING), ("at", DESCENDING)])
        await self.entries.create_index("id_number", sparse=True)
        await self.entries.create_index("phone", sparse=True)
        await self.entries.create_index("tax_code", sparse=True)

    async def search(self, principal: Principal, q: str, limit: int = 50) -> list[dict[str, Any]]:
        """By name without diacritics, by ID number, tax code or phone — within the caller's units.

        The matching registry lines of the caller's units, grouped by applicant, the latest line
        giving the contact data."""
        text = q.strip()
        if len(text) < 2:
            raise Invalid("Type at least 2 characters", code="query_too_short")
        digits = re.sub(r"[\s.\-]", "", text)
        if digits.startswith("+84"):
            digits = "0" + digits[3:]
        is_number = digits.isdigit()
        folded = fold(text)
        if is_number:
            criteria: list[dict[str, Any]] = [{"id_number": digits}, {"phone": digits}, {"tax_code": digits}]
        else:
            pattern = re.escape(folded)
            criteria = [{"name_folded": {"$regex": pattern}}, {"organisation_folded": {"$regex": pattern}}]
        # One indexed read per criterion (a top-level $or scans the whole registry on the embedded
        # server), then the lines are grouped by applicant here, the latest line giving the contact.
        lines = await find_union(
            self.entries,
            [{"units": principal.unit_code, **c} for c in criteria],
            sort="at",
            descending=True,
            limit=MAX_SEARCH_LINES,
        )
        docs = group_by_applicant(lines)[:limit]
        await self.audit.record(
            principal,
            AuditAction.APPLICANT_SEARCH,
            endpoint="search_applicants",
            purpose="registry_lookup",
            detail={"query_folded": "<number>" if is_number else folded, "hits": len(docs)},
        )
        return [
            {
                "key": d["_id"],
                "kind": d.get("kind"),
                "name": d.get("name"),
                "id_masked": d.get("id_masked") or "",
                "phone_masked": mask_phone(d.get("phone")),
                "organisation": (d.get("organisation") or {}).get("name"),
                "dossier_count": d.get("dossier_count", 0),
                "first_seen": d.get("first_seen"),
                "last_seen": d.get("last_seen"),
            }
            for d in docs
        ]

    async def profile(self, principal: Principal, key: str) -> dict[str, Any]:
        """The applicant's contact data and dossier history (only dossiers the caller may see)."""
        entries = (
            await self.entries.find({"key": key, "units": principal.unit_code})
            .sort("at", DESCENDING)
            .to_list(length=1000)
        )
        if not entries:
            raise NotFound("No such applicant in your units", code="applicant_not_found")
        latest = entries[0]
        cursor = self.dossiers.find(
            {"_id": {"$in": [e["_id"] for e in entries]}},
            {
                "code": 1,
                "reference": 1,
                "status": 1,
                "procedure_code": 1,
                "procedure_name": 1,
                "office_name": 1,
                "received_at": 1,
                "created_at": 1,
                "due_at": 1,
                "finished_at": 1,
                "timeliness": 1,
                "unit_path": 1,
                "handling.unit_path": 1,
            },
        ).sort("created_at", DESCENDING)
        dossiers = await cursor.to_list(length=1000)
        refs = [
            DossierRef(
                d["_id"],
                d.get("code"),
                tuple(merge_paths(d.get("unit_path") or [], (d.get("handling") or {}).get("unit_path") or [])),
            )
            for d in dossiers
        ]
        await self.audit.record(
            principal,
            AuditAction.APPLICANT_READ,
            endpoint="get_applicant",
            purpose="registry_lookup",
            dossiers=refs,
            person=masked_key(key),
            detail={"dossiers": len(dossiers)},
        )
        history = []
        for d in dossiers:
            status = d.get("status")
            history.append(
                {
                    "id": d["_id"],
                    "code": d.get("code"),
                    "reference": d.get("reference"),
                    "status": status,
                    "status_label": STATUS_LABELS_VI.get(DossierStatus(status), status) if status else None,
                    "procedure_code": d.get("procedure_code"),
                    "procedure_name": d.get("procedure_name"),
                    "office_name": d.get("office_name"),
                    "received_at": d.get("received_at"),
                    "due_at": d.get("due_at"),
                    "finished_at": d.get("finished_at"),
                    "timeliness": d.get("timeliness"),
                }
            )
        return {
            "key": key,
            "kind": latest.get("kind"),
            "name": latest.get("name"),
            "id_number": latest.get("id_number"),
            "id_masked": latest.get("id_masked"),
            "phone": latest.get("phone"),
            "email": latest.get("email"),
            "address": latest.get("address"),
            "organisation": latest.get("organisation"),
            "first_seen": entries[-1].get("at"),
            "last_seen": latest.get("at"),
            "dossier_count": len(history),
            "dossiers": history,
        }
