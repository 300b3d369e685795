"""Where postal learns the administrative units and offices (it owns neither).

- `IntakeUnits`: intake's public reference data (`GET /units`, `GET /offices`) over HTTP,
  kept for `ttl_s`; fetched again early (at most every `miss_refresh_s`) when an office is
  not found, so a newly opened office works at once; the last good copy is kept while
  intake does not answer.
- `FileUnits`: the same catalogue from a JSON file (`MOTCUA_POSTAL_UNITS_FILE`, intake's
  import format), for deployments that run postal apart from intake, and for tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Protocol

import httpx

from services.postal.model.units import OfficeRef, UnitDirectory, UnitRef

log = logging.getLogger("motcua.postal.units")


class UnitsUnavailable(Exception):
    """The reference data could not be read and no earlier copy is known."""


class UnitSource(Protocol):
    async def directory(self, *, fresh: bool = False) -> UnitDirectory:
        """The directory; `fresh` asks for a re-read (an office was not found)."""
        ...


class FileUnits:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._directory: UnitDirectory | None = None

    async def directory(self, *, fresh: bool = False) -> UnitDirectory:
        if self._directory is None or fresh:
            try:
                data = json.loads(await asyncio.to_thread(self.path.read_text, encoding="utf-8"))
                self._directory = UnitDirectory.from_catalogue(data)
            except (OSError, ValueError) as exc:
                if self._directory is None:
                    raise UnitsUnavailable(f"units file {self.path}: {exc}") from exc
        return self._directory


class IntakeUnits:
    def __init__(
        self, http: httpx.AsyncClient, intake_url: str, *, ttl_s: float = 300.0, miss_refresh_s: float = 10.0
    ) -> None:
        self.http = http
        self.base = intake_url.rstrip("/")
        self.ttl_s = ttl_s
        self.miss_refresh_s = miss_refresh_s
        self._directory: UnitDirectory | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> UnitDirectory:
        units, offices = await asyncio.gather(
            self.http.get(f"{self.base}/units", timeout=5), self.http.get(f"{self.base}/offices", timeout=5)
        )
        units.raise_for_status()
        offices.raise_for_status()
        return UnitDirectory(
            [UnitRef.model_validate(u) for u in units.json()], [OfficeRef.model_validate(o) for o in offices.json()]
        )

    def _current(self, fresh: bool) -> UnitDirectory | None:
        age = time.monotonic() - self._at
        if self._directory is not None and age < (self.miss_refresh_s if fresh else self.ttl_s):
            return self._directory
        return None

    async def directory(self, *, fresh: bool = False) -> UnitDirectory:
        if (known := self._current(fresh)) is not None:
            return known
        async with self._lock:
            if (known := self._current(fresh)) is not None:
                return known  # read by someone else meanwhile
            try:
                self._directory = await self._fetch()
                self._at = time.monotonic()
            except (httpx.HTTPError, ValueError) as exc:
                if self._directory is None:
                    raise UnitsUnavailable(f"intake's units at {self.base}: {type(exc).__name__}: {exc}") from exc
                log.warning("intake's units not refreshed (%s); keeping the copy read earlier", exc)
                self._at = time.monotonic() - self.ttl_s + self.miss_refresh_s  # try again a little later
            return self._directory
