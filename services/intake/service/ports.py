"""What intake's use cases run against: the clock, the dossier store, and `IntakeContext` — the
part of `IntakeService` the use-case modules read (its ports and the loaded reference data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from services.contracts.events import Event
from services.intake.model.reference import ReferenceData

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DossierStore(Protocol):
    async def next_sequence(self, code_prefix: str) -> int: ...
    async def skip_taken(self, code_prefix: str, sequence: int) -> None: ...
    async def insert_with_events(self, dossier: dict[str, Any], events: list[Event]) -> None: ...
    async def replace_with_events(
        self, dossier: dict[str, Any], expected_version: int, events: list[Event]
    ) -> bool: ...
    async def get(self, dossier_id: str) -> dict[str, Any] | None: ...
    async def get_by_code(self, code: str) -> dict[str, Any] | None: ...


class IntakeContext(Protocol):
    """`IntakeService` as the use-case modules see it. Read on every call, never copied: the
    reference data is reloaded and `on_commit` rewired (wiring.py) after the service is built."""

    @property
    def dossiers(self) -> DossierStore: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def public_base_url(self) -> str: ...
    @property
    def on_commit(self) -> Callable[[], None]: ...
    @property
    def reference(self) -> ReferenceData: ...
    def lookup_url(self, code: str) -> str: ...
