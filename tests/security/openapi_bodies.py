"""Deterministic, minimal request bodies synthesised from an OpenAPI document.

Used by the authorisation matrix: every endpoint gets a body that is valid where the schema
says enough (required fields, enums, formats, bounds), with named fields overridden so that
a request targets the fixture resources of one administrative unit.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

_FORMATS: dict[str, str] = {
    "date": date.today().isoformat(),
    "date-time": datetime.now(UTC).isoformat(timespec="seconds"),
    "email": "an.nguyen@example.vn",
    "uri": "https://example.vn/x",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "binary": "x",
}


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        node: Any = doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def synthesise(doc: dict[str, Any], schema: dict[str, Any], overrides: dict[str, Any] | None = None,
               *, depth: int = 0) -> Any:
    """A minimal instance of `schema`: required properties only, plus any property named in
    `overrides` (whose value is used as is, at any depth)."""
    overrides = overrides or {}
    schema = resolve(doc, schema)
    if depth > 12:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("default") is not None:
        return schema["default"]
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    if "enum" in schema:
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            options = [resolve(doc, s) for s in schema[combo]]
            non_null = [o for o in options if o.get("type") != "null"] or options
            return synthesise(doc, non_null[0], overrides, depth=depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = resolve(doc, part)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged.setdefault("required", []).extend(part.get("required", []))
            merged["type"] = part.get("type", merged.get("type"))
        return synthesise(doc, merged, overrides, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props: dict[str, Any] = schema.get("properties", {})
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in overrides:
                out[name] = overrides[name]
            elif name in schema.get("required", []):
                out[name] = synthesise(doc, sub, overrides, depth=depth + 1)
        return out
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), 1)
        item = synthesise(doc, schema.get("items", {}), overrides, depth=depth + 1)
        return [item for _ in range(count)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1)
    if kind == "number":
        return max(float(schema.get("minimum", 1)), float(schema.get("exclusiveMinimum", 0)) + 1)
    if kind == "boolean":
        return False
    alternatives = re.match(r"^\^\(([^|()\\]+)\|", schema.get("pattern", ""))
    if alternatives:  # e.g. ^(counter|postal)$
        return alternatives.group(1)
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    text = "Kiểm tra an ninh"
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 200))
    if len(text) < low:
        text = (text + " x" * low)[:low]
    return text[: max(high, 1)] if high < len(text) else text
