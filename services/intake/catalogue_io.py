"""Import / export of the procedure catalogue (JSON, XLSX) and loaders for the shipped data files.

Bytes in, bytes out. The XLSX layout is meant to be edited by provincial staff in a spreadsheet:

* ``procedures`` — one row per procedure, scalar columns (lists such as ``channels`` are
  comma-separated, ``legal_basis`` one item per line);
* ``components``, ``fees``, ``route_steps``, ``form_fields`` — one row per item, linked by
  ``procedure_code`` and kept in sheet order (route steps ordered by ``step``);
* ``catalogue`` — key/value rows (``source``, ``note``).

Only ``procedures`` is mandatory. Booleans are ``yes``/``no`` (also true/false, 1/0, có/không).
Import never raises on bad content: it returns an `ImportResult` whose ``problems`` name the
sheet and row, e.g. ``"sheet components row 7: mandatory must be yes/no"``.
"""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ValidationError

from services.intake.model.catalogue import (
    Component,
    Fee,
    FormField,
    Procedure,
    ProcedureCatalogue,
    RouteStep,
    validate_catalogue,
)
from services.intake.model.units import UnitCatalogueData, validate_unit_catalogue

__all__ = [
    "PROCEDURES_FILE",
    "UNITS_FILE",
    "CatalogueImportError",
    "ImportResult",
    "catalogue_from_json",
    "catalogue_from_xlsx",
    "catalogue_to_json",
    "catalogue_to_xlsx",
    "load_procedures",
    "load_units",
    "read_catalogue",
    "write_catalogue",
]

UNITS_FILE = "units_an_giang.json"
PROCEDURES_FILE = "procedures.json"

Source = str | os.PathLike[str] | bytes | None


class CatalogueImportError(ValueError):
    """Raised by the loaders and `ImportResult.unwrap` when data has problems."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} problem(s): {shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    """Either a catalogue (``problems`` empty) or the problems that prevented it."""

    catalogue: ProcedureCatalogue | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.catalogue is not None and not self.problems

    def unwrap(self) -> ProcedureCatalogue:
        if self.catalogue is None or self.problems:
            raise CatalogueImportError(self.problems or ["no catalogue"])
        return self.catalogue


# =========================================================================== JSON


def catalogue_to_json(catalogue: ProcedureCatalogue) -> bytes:
    """UTF-8 JSON, Vietnamese kept readable, stable key order."""
    data = catalogue.model_dump(mode="json")
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def catalogue_from_json(data: bytes | str, *, validate: bool = True) -> ImportResult:
    """Parse a catalogue; ``validate`` also runs the consistency checks (`validate_catalogue`)."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ImportResult(None, [f"invalid JSON: {exc}"])
    try:
        catalogue = ProcedureCatalogue.model_validate(raw)
    except ValidationError as exc:
        return ImportResult(None, _json_problems(exc, raw))
    problems = validate_catalogue(catalogue) if validate else []
    return ImportResult(None if problems else catalogue, problems)


def _json_problems(exc: ValidationError, raw: Any) -> list[str]:
    out = []
    for err in exc.errors():
        loc = err["loc"]
        path = ""
        for i, part in enumerate(loc):
            if isinstance(part, int):
                path += f"[{part}]"
                if i == 1 and loc[0] == "procedures":
                    code = _dig(raw, "procedures", part, "code")
                    if isinstance(code, str):
                        path += f" ({code})"
            else:
                path += ("." if path else "") + str(part)
        out.append(f"{path or 'catalogue'}: {err['msg']}")
    return out


def _dig(obj: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


# =========================================================================== XLSX layout

PROCEDURE_COLUMNS = [
    "code",
    "name",
    "field_code",
    "level",
    "competent_body_name",
    "competent_body_kind",
    "competent_body_level",
    "processing_time_value",
    "processing_time_unit",
    "processing_time_note",
    "channels",
    "eligible_no_writing",
    "eligible_no_appointment",
    "no_writing_forbidden_by_law",
    "route_mode",
    "route_lead_body",
    "result",
    "legal_basis",
    "notes",
]
COMPONENT_COLUMNS = [
    "procedure_code",
    "id",
    "name",
    "kind",
    "count",
    "mandatory",
    "reusable_digitised",
    "note",
]
FEE_COLUMNS = ["procedure_code", "kind", "name", "amount", "basis", "exemptions"]
ROUTE_STEP_COLUMNS = ["procedure_code", "step", "body", "task", "deadline_working_days"]
FORM_FIELD_COLUMNS = ["procedure_code", "name", "label", "type", "required", "options"]
META_COLUMNS = ["key", "value"]

_REQUIRED_COLUMNS = {
    "procedures": ["code"],
    "components": ["procedure_code"],
    "fees": ["procedure_code"],
    "route_steps": ["procedure_code", "step"],
    "form_fields": ["procedure_code"],
    "catalogue": ["key", "value"],
}
_SHEETS = {
    "procedures": PROCEDURE_COLUMNS,
    "components": COMPONENT_COLUMNS,
    "fees": FEE_COLUMNS,
    "route_steps": ROUTE_STEP_COLUMNS,
    "form_fields": FORM_FIELD_COLUMNS,
    "catalogue": META_COLUMNS,
}
_BOOL_COLUMNS = {
    "eligible_no_writing",
    "eligible_no_appointment",
    "no_writing_forbidden_by_law",
    "mandatory",
    "reusable_digitised",
    "required",
}
_INT_COLUMNS = {"count", "amount", "step"}
_NUMBER_COLUMNS = {"processing_time_value", "deadline_working_days"}
_CODE_COLUMNS = {"code", "procedure_code"}
_LINE_LIST_COLUMNS = {"legal_basis", "options"}

_TRUE = {"yes", "y", "true", "1", "có", "co", "x"}
_FALSE = {"no", "n", "false", "0", "không", "khong"}


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _num_out(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# =========================================================================== XLSX export


def catalogue_to_xlsx(catalogue: ProcedureCatalogue) -> bytes:
    """One workbook, sheets as described in the module docstring."""
    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    rows: dict[str, list[list[Any]]] = {name: [] for name in _SHEETS}
    rows["catalogue"] = [["source", catalogue.source], ["note", catalogue.note]]
    for p in catalogue.procedures:
        route = p.route
        rows["procedures"].append(
            [
                p.code,
                p.name,
                p.field_code,
                p.level.value,
                p.competent_body.name,
                p.competent_body.kind.value,
                p.competent_body.level.value,
                _num_out(p.processing_time.value),
                p.processing_time.unit.value,
                p.processing_time.note,
                ", ".join(p.model_dump(mode="json", include={"channels"})["channels"]),
                _yes_no(p.models.eligible_no_writing),
                _yes_no(p.models.eligible_no_appointment),
                _yes_no(p.models.no_writing_forbidden_by_law),
                route.mode.value if route else "",
                (route.lead_body or "") if route else "",
                p.result,
                "\n".join(p.legal_basis),
                p.notes,
            ]
        )
        for c in p.components:
            rows["components"].append(
                [
                    p.code,
                    c.id,
                    c.name,
                    c.kind.value,
                    c.count,
                    _yes_no(c.mandatory),
                    _yes_no(c.reusable_digitised),
                    c.note,
                ]
            )
        for f in p.fees:
            rows["fees"].append([p.code, f.kind.value, f.name, f.amount, f.basis, f.exemptions])
        if route:
            for i, s in enumerate(route.steps, start=1):
                rows["route_steps"].append([p.code, i, s.body, s.task, _num_out(s.deadline_working_days)])
        for ff in p.form_fields:
            rows["form_fields"].append(
                [p.code, ff.name, ff.label, ff.type.value, _yes_no(ff.required), "\n".join(ff.options)]
            )
    for name, columns in _SHEETS.items():
        ws = wb.create_sheet(name)
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows[name]:
            ws.append([v if v != "" else None for v in row])
        ws.freeze_panes = "A2"
        for i, col in enumerate(columns, start=1):
            width = max([len(col), *(min(len(str(r[i - 1] or "")), 60) for r in rows[name])])
            ws.column_dimensions[get_column_letter(i)].width = max(8, width + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# =========================================================================== XLSX import


class _CellError(ValueError):
    pass


@dataclass
class _Row:
    sheet: str
    number: int  # spreadsheet row number (header = 1)
    values: dict[str, Any]

    @property
    def where(self) -> str:
        return f"sheet {self.sheet} row {self.number}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _code(value: Any) -> str:
    # A code typed into a numeric cell ("1.001193") arrives as a float: keep six decimals.
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.6f}"
    return _text(value)


def _bool(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _text(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _CellError(f"{column} must be yes/no")


def _int(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise _CellError(f"{column} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value).replace(" ", "")
    if column == "amount":  # "2.000", "2,000", "2.000 đ" → 2000
        text = text.rstrip("đĐ").replace(".", "").replace(",", "")
    try:
        return int(text)
    except ValueError:
        raise _CellError(f"{column} must be a whole number") from None


def _number(value: Any, column: str) -> int | float:
    if isinstance(value, bool):
        raise _CellError(f"{column} must be a number")
    if isinstance(value, int | float):
        return _num_out(value)
    try:
        return _num_out(float(_text(value).replace(",", ".")))
    except ValueError:
        raise _CellError(f"{column} must be a number") from None


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in _text(value).splitlines() if line.strip()]


def _convert(column: str, value: Any) -> Any:
    """Cell → python value, or ``None`` when the cell is empty (the model default applies)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [] if column in _LINE_LIST_COLUMNS else None
    if column in _BOOL_COLUMNS:
        return _bool(value, column)
    if column in _INT_COLUMNS:
        return _int(value, column)
    if column in _NUMBER_COLUMNS:
        return _number(value, column)
    if column in _CODE_COLUMNS:
        return _code(value)
    if column in _LINE_LIST_COLUMNS:
        return _lines(value)
    if column == "channels":
        return [part.strip() for part in _text(value).replace(";", ",").split(",") if part.strip()]
    return _text(value)


def _read_sheet(ws: Any, sheet: str, problems: list[str]) -> list[_Row]:
    rows_iter: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)
    header_row = next(rows_iter, None)
    if header_row is None:
        problems.append(f"sheet {sheet}: empty (a header row is needed)")
        return []
    header = [_text(h).casefold() for h in header_row]
    allowed = _SHEETS[sheet]
    ok = True
    for col in header:
        if col and col not in allowed:
            problems.append(f"sheet {sheet}: unknown column {col!r}")
            ok = False
    for col in _REQUIRED_COLUMNS[sheet]:
        if col not in header:
            problems.append(f"sheet {sheet}: missing column {col!r}")
            ok = False
    seen: set[str] = set()
    for col in header:
        if col and col in seen:
            problems.append(f"sheet {sheet}: column {col!r} appears twice")
            ok = False
        seen.add(col)
    if not ok:
        return []
    out: list[_Row] = []
    for number, values in enumerate(rows_iter, start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row: dict[str, Any] = {}
        bad = False
        for col, value in zip(header, values, strict=False):
            if not col:
                continue
            try:
                converted = _convert(col, value)
            except _CellError as exc:
                problems.append(f"sheet {sheet} row {number}: {exc}")
                bad = True
                continue
            if converted is not None:
                row[col] = converted
        if not bad:
            out.append(_Row(sheet, number, row))
        else:
            out.append(_Row(sheet, number, {**row, "__bad__": True}))
    return out


def _loc_column(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "row"
    head = str(loc[0])
    if head == "models" and len(loc) > 1:
        return str(loc[1])
    if head in {"competent_body", "processing_time"} and len(loc) > 1:
        return f"{head}_{loc[1]}"
    if head == "route" and len(loc) > 1:
        return "route_steps" if loc[1] == "steps" else f"route_{loc[1]}"
    return head


def _row_problems(row: _Row, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(f"{row.where}: {_loc_column(err['loc'])}: {msg}")
    return out


def _child(model: type[BaseModel], row: _Row, drop: Iterable[str], problems: list[str]) -> Any:
    data = {k: v for k, v in row.values.items() if k not in drop and k != "__bad__"}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_row_problems(row, exc))
        return None


def catalogue_from_xlsx(data: bytes, *, validate: bool = True) -> ImportResult:
    """Read a workbook written by `catalogue_to_xlsx` (or edited by hand)."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zipfile, KeyError, InvalidFileException)
        return ImportResult(None, [f"not a readable XLSX workbook: {type(exc).__name__}: {exc}"])
    problems: list[str] = []
    try:
        names = {name.strip().casefold(): name for name in wb.sheetnames}
        if "procedures" not in names:
            return ImportResult(None, ["sheet procedures is missing"])
        sheets: dict[str, list[_Row]] = {}
        for sheet in _SHEETS:
            if sheet in names:
                sheets[sheet] = _read_sheet(wb[names[sheet]], sheet, problems)
            else:
                sheets[sheet] = []
    finally:
        wb.close()

    # catalogue metadata
    meta: dict[str, str] = {}
    for row in sheets["catalogue"]:
        key = _text(row.values.get("key")).casefold()
        if key not in {"source", "note"}:
            problems.append(f"{row.where}: key must be 'source' or 'note'")
            continue
        meta[key] = _text(row.values.get("value"))

    # procedures: first pass, index rows by code
    proc_rows: dict[str, _Row] = {}
    order: list[str] = []
    for row in sheets["procedures"]:
        code = _text(row.values.get("code"))
        if not code:
            problems.append(f"{row.where}: code is empty")
            continue
        if code in proc_rows:
            problems.append(f"{row.where}: duplicate procedure code {code} (first at row {proc_rows[code].number})")
            continue
        proc_rows[code] = row
        order.append(code)

    children: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[str, set[str]] = defaultdict(set)
    child_models: dict[str, type[BaseModel]] = {
        "components": Component,
        "fees": Fee,
        "form_fields": FormField,
        "route_steps": RouteStep,
    }
    for sheet, model in child_models.items():
        step_numbers: dict[str, dict[int, int]] = defaultdict(dict)
        for row in sheets[sheet]:
            code = _text(row.values.get("procedure_code"))
            if not code:
                problems.append(f"{row.where}: procedure_code is empty")
                continue
            if code not in proc_rows:
                problems.append(f"{row.where}: unknown procedure_code {code}")
                continue
            if row.values.get("__bad__"):
                failed[code].add(sheet)
                continue
            drop = {"procedure_code", "step"}
            item = _child(model, row, drop, problems)
            if item is None:
                failed[code].add(sheet)
                continue
            if sheet == "route_steps":
                step = row.values.get("step")
                if not isinstance(step, int) or step < 1:
                    problems.append(f"{row.where}: step must be a whole number from 1")
                    failed[code].add(sheet)
                    continue
                if step in step_numbers[code]:
                    problems.append(
                        f"{row.where}: step {step} of {code} already given at row {step_numbers[code][step]}"
                    )
                    failed[code].add(sheet)
                    continue
                step_numbers[code][step] = row.number
                children[code][sheet].append((step, item))
            else:
                children[code][sheet].append(item)

    procedures: list[Procedure] = []
    for code in order:
        row = proc_rows[code]
        if row.values.get("__bad__"):
            continue
        v = row.values
        steps = [item for _, item in sorted(children[code]["route_steps"], key=lambda t: t[0])]
        route: dict[str, Any] | None = None
        if "route_mode" in v or "route_lead_body" in v:
            route = {"mode": v.get("route_mode"), "lead_body": v.get("route_lead_body"), "steps": steps}
            if not steps and "route_steps" in failed[code]:
                route = None  # its step rows are already reported
                failed[code].add("route")
        elif steps:
            first = min(t[0] for t in children[code]["route_steps"])
            problems.append(f"{row.where}: route_steps given for {code} (step {first}) but route_mode is empty")
            failed[code].add("route")
        fields: dict[str, Any] = {
            "code": code,
            "name": v.get("name"),
            "field_code": v.get("field_code"),
            "level": v.get("level"),
            "competent_body": _drop_none(
                {
                    "name": v.get("competent_body_name"),
                    "kind": v.get("competent_body_kind"),
                    "level": v.get("competent_body_level"),
                }
            ),
            "processing_time": _drop_none(
                {
                    "value": v.get("processing_time_value"),
                    "unit": v.get("processing_time_unit"),
                    "note": v.get("processing_time_note"),
                }
            ),
            "channels": v.get("channels"),
            "models": _drop_none(
                {
                    "eligible_no_writing": v.get("eligible_no_writing"),
                    "eligible_no_appointment": v.get("eligible_no_appointment"),
                    "no_writing_forbidden_by_law": v.get("no_writing_forbidden_by_law"),
                }
            ),
            "route": route,
            "result": v.get("result"),
            "legal_basis": v.get("legal_basis"),
            "notes": v.get("notes"),
            "components": children[code]["components"],
            "fees": children[code]["fees"],
            "form_fields": children[code]["form_fields"],
        }
        try:
            procedure = Procedure.model_validate(_drop_none(fields))
        except ValidationError as exc:
            problems.extend(_row_problems(row, exc))
            continue
        if validate and not failed[code]:
            problems.extend(f"{row.where}: {msg}" for msg in procedure.problems())
        procedures.append(procedure)

    if problems:
        return ImportResult(None, problems)
    catalogue = ProcedureCatalogue(source=meta.get("source", ""), note=meta.get("note", ""), procedures=procedures)
    return ImportResult(catalogue, [])


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# =========================================================================== files and loaders


def write_catalogue(path: str | os.PathLike[str], catalogue: ProcedureCatalogue) -> None:
    """Write JSON or XLSX according to the file suffix."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx":
        p.write_bytes(catalogue_to_xlsx(catalogue))
    elif p.suffix.lower() == ".json":
        p.write_bytes(catalogue_to_json(catalogue))
    else:
        raise ValueError(f"unsupported catalogue file type {p.suffix!r} (use .json or .xlsx)")


def read_catalogue(path: str | os.PathLike[str], *, validate: bool = True) -> ImportResult:
    """Read JSON or XLSX according to the file suffix."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx":
        return catalogue_from_xlsx(p.read_bytes(), validate=validate)
    if p.suffix.lower() == ".json":
        return catalogue_from_json(p.read_bytes(), validate=validate)
    raise ValueError(f"unsupported catalogue file type {p.suffix!r} (use .json or .xlsx)")


def _read_source(source: Source, default_name: str) -> bytes:
    if source is None:
        return (resources.files("services.intake") / "data" / default_name).read_bytes()
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def load_units(source: Source = None, *, validate: bool = True) -> UnitCatalogueData:
    """Load a unit data file (default: the shipped An Giang sample). Raises `CatalogueImportError`."""
    raw = _read_source(source, UNITS_FILE)
    try:
        data = UnitCatalogueData.model_validate_json(raw)
    except ValidationError as exc:
        raise CatalogueImportError(
            [f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()]
        ) from exc
    if validate:
        problems = validate_unit_catalogue(data)
        if problems:
            raise CatalogueImportError(problems)
    return data


def load_procedures(source: Source = None, *, validate: bool = True) -> ProcedureCatalogue:
    """Load a procedure catalogue JSON (default: the shipped sample). Raises `CatalogueImportError`."""
    return catalogue_from_json(_read_source(source, PROCEDURES_FILE), validate=validate).unwrap()
