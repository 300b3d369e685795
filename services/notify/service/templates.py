"""Template use cases: which source applies, rendering at send time, saving new versions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from services.kit.errors import Invalid, NotFound
from services.kit.mongo import Document
from services.notify.model.common import Channel
from services.notify.model.templates import TEMPLATES, RenderedMessage, TemplateProblem, render, validate
from services.notify.repository import TemplateRepository

log = logging.getLogger("motcua.notify.templates")

DEFAULT_VERSION = "default"


def load_default_sources() -> dict[tuple[str, Channel], str]:
    """The templates shipped as files (`services/notify/templates/<key>.<channel>.j2`)."""
    sources: dict[tuple[str, Channel], str] = {}
    for entry in resources.files("services.notify.templates").iterdir():
        name = entry.name
        if not name.endswith(".j2"):
            continue
        key, _, channel = name.removesuffix(".j2").rpartition(".")
        if key in TEMPLATES and channel in {c.value for c in Channel}:
            sources[(key, Channel(channel))] = entry.read_text(encoding="utf-8")
    return sources


def invalid(problem: TemplateProblem) -> Invalid:
    return Invalid(problem.message, code=problem.code, details=problem.details() or None)


@dataclass
class Rendered:
    message: RenderedMessage
    version: str  # "default" or "<unit>:v<n>"


class TemplateService:
    def __init__(
        self,
        repo: TemplateRepository,
        defaults: dict[tuple[str, Channel], str],
        *,
        sms_strip_diacritics: bool,
        cache_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.defaults = defaults
        self.sms_strip = sms_strip_diacritics
        # Every delivery asks which template applies; units save new versions rarely. A save
        # here clears the cache at once; another replica's save is seen within `cache_s`.
        self.cache_s = cache_s
        self.clock = clock
        self._active: dict[tuple[str, str, tuple[str, ...]], tuple[float, Document | None]] = {}

    async def _active_for_path(self, key: str, channel: Channel, unit_path: list[str]) -> Document | None:
        cache_key = (key, channel.value, tuple(unit_path))
        hit = self._active.get(cache_key)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        doc = await self.repo.active_for_path(key, channel.value, unit_path)
        if len(self._active) > 10_000:
            self._active.clear()
        self._active[cache_key] = (now + self.cache_s, doc)
        return doc

    async def render(
        self, key: str, channel: Channel, unit_path: list[str], variables: dict[str, Any]
    ) -> Rendered | None:
        """The message for one channel; None when no template exists for it.

        A saved template that fails with real data (it passed with the samples) is logged and
        the shipped default is used instead: the citizen still gets the notice.
        """
        custom = await self._active_for_path(key, channel, unit_path)
        if custom is not None:
            try:
                message = render(custom["source"], channel, variables, sms_strip_diacritics=self.sms_strip)
                return Rendered(message, f"{custom['unit_code']}:v{custom['version']}")
            except TemplateProblem as exc:
                log.error("template %s/%s v%s failed (%s), using the default", key, channel, custom["version"], exc)
        source = self.defaults.get((key, channel))
        if source is None:
            return None
        try:
            return Rendered(render(source, channel, variables, sms_strip_diacritics=self.sms_strip), DEFAULT_VERSION)
        except TemplateProblem as exc:
            log.error("default template %s/%s failed: %s %s", key, channel, exc.code, exc)
            return None

    def _check_key(self, key: str) -> None:
        if key not in TEMPLATES:
            raise NotFound(f"No notice is called {key!r}", code="template_unknown")

    async def save(
        self, key: str, channel: Channel, unit_code: str, source: str, *, user: str, comment: str, now: datetime
    ) -> Document:
        """Validate by rendering with the event's sample variables, then store a new version."""
        self._check_key(key)
        try:
            preview = validate(key, channel, source, sms_strip_diacritics=self.sms_strip)
        except TemplateProblem as exc:
            raise invalid(exc) from exc
        record = await self.repo.add_version(
            {
                "key": key,
                "channel": channel.value,
                "unit_code": unit_code,
                "source": source,
                "comment": comment,
                "created_by": user,
                "created_at": now,
            }
        )
        self._active.clear()
        log.info("template %s/%s saved as %s v%d by %s", key, channel, unit_code, record["version"], user)
        return {**record, "preview": preview.model_dump()}

    async def preview(
        self, key: str, channel: Channel, unit_path: list[str], source: str | None, variables: dict[str, Any] | None
    ) -> RenderedMessage:
        self._check_key(key)
        if source is None:
            custom = await self.repo.active_for_path(key, channel.value, unit_path)
            source = custom["source"] if custom else self.defaults.get((key, channel))
        if source is None:
            raise NotFound(f"No {channel} template for {key!r}", code="template_not_found")
        values = {**TEMPLATES[key].sample, **(variables or {})}
        try:
            return render(source, channel, values, sms_strip_diacritics=self.sms_strip, strict_limits=True)
        except TemplateProblem as exc:
            raise invalid(exc) from exc

    async def describe(self, key: str, channel: Channel, unit_path: list[str]) -> dict[str, Any]:
        self._check_key(key)
        custom = await self.repo.active_for_path(key, channel.value, unit_path)
        default = self.defaults.get((key, channel))
        if custom is None and default is None:
            raise NotFound(f"No {channel} template for {key!r}", code="template_not_found")
        versions = await self.repo.versions(key, channel.value, unit_path[0]) if unit_path else []
        return {
            "key": key,
            "channel": channel.value,
            "title": TEMPLATES[key].title,
            "active_version": f"{custom['unit_code']}:v{custom['version']}" if custom else DEFAULT_VERSION,
            "source": custom["source"] if custom else default,
            "default_source": default,
            "variables": sorted(TEMPLATES[key].sample),
            "versions": versions,
        }

    async def catalogue(self, unit_path: list[str]) -> list[dict[str, Any]]:
        saved = await self.repo.list_units(unit_path)
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for doc in saved:
            ident = doc["_id"]
            slot = (ident["key"], ident["channel"])
            rank = unit_path.index(ident["unit_code"])
            current = by_key.get(slot)
            if current is None or rank < current["rank"]:
                by_key[slot] = {"rank": rank, "version": f"{ident['unit_code']}:v{doc['version']}"}
        rows = []
        for key, info in TEMPLATES.items():
            for channel in Channel:
                active = by_key.get((key, channel.value))
                if active is None and (key, channel) not in self.defaults:
                    continue
                rows.append(
                    {
                        "key": key,
                        "channel": channel.value,
                        "title": info.title,
                        "active_version": active["version"] if active else DEFAULT_VERSION,
                    }
                )
        return rows
