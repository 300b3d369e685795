"""AsyncAPI documents of every service's bus API (`make docs`), from FastStream."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

BUS_SERVICES = ("intake", "scan", "postal", "payments", "notify")


def asyncapi_documents() -> dict[str, dict[str, Any]]:
    """Service name → AsyncAPI 3.0 document, built without connecting to anything."""
    docs: dict[str, dict[str, Any]] = {}
    for name in BUS_SERVICES:
        module = importlib.import_module(f"services.{name}.app")
        app = module.create_app()
        broker = app.state.runtime.broker
        spec = AsyncAPI(broker, title=f"Một Cửa — {name}", version="0.1.0", schema_version="3.0.0")
        docs[name] = json.loads(spec.to_specification().to_json())
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_asyncapi(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in asyncapi_documents().items():
        path = out / f"{name}.json"
        path.write_text(render(doc), encoding="utf-8")
        written.append(path)
    return written
