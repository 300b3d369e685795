"""The portal's UI strings, one JSON file per language (`vi.json`; add `en.json` to translate).

Templates call `t("desk.call_next")`; `t("flash.called", number="A012")` fills `{number}`.
A key missing from a translation falls back to Vietnamese, then to the key itself.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEFAULT_LANGUAGE = "vi"


@cache
def _load(language: str) -> dict[str, Any]:
    path = HERE / f"{language}.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _lookup(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class Translator:
    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language = language

    def lookup(self, key: str) -> Any:
        value = _lookup(_load(self.language), key)
        if value is None and self.language != DEFAULT_LANGUAGE:
            value = _lookup(_load(DEFAULT_LANGUAGE), key)
        return value

    def __call__(self, key: str, default: str | None = None, **params: Any) -> str:
        value = self.lookup(key)
        if not isinstance(value, str):
            return default if default is not None else key
        if params:
            try:
                return value.format(**params)
            except (KeyError, IndexError, ValueError):
                return value
        return value

    def has(self, key: str) -> bool:
        return isinstance(self.lookup(key), str)

    def section(self, key: str) -> dict[str, str]:
        value = self.lookup(key)
        return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def available_languages() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.json"))
