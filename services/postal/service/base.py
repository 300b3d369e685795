"""What every postal use case shares: ports (repository, operator adapters, clock, relay wake),
the tariff, and the translation of domain errors into typed HTTP errors."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.kit.auth import Principal, Role
from services.kit.errors import AppError, Conflict, Forbidden, Invalid, NotFound, Unavailable
from services.postal.adapters.base import OperatorAdapter, OperatorUnavailable
from services.postal.adapters.units import UnitSource, UnitsUnavailable
from services.postal.model.common import Actor, PostalError
from services.postal.model.tariff import Tariff
from services.postal.model.units import Place
from services.postal.repository import PostalRepository

log = logging.getLogger("motcua.postal")

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_INVALID = {
    "address_required",
    "components_required",
    "duplicate_component",
    "dossier_code_required",
    "unknown_component",
    "unchecked_component",
    "seal_required",
    "empty_record",
    "duplicate_slip",
    "duplicate_procedure",
    "reason_required",
    "unit_required",
    "unknown_office",
    "unknown_unit",
    "unit_path_mismatch",
}
_FORBIDDEN = {"procedure_not_approved", "same_person"}


def domain_error(exc: PostalError) -> AppError:
    if exc.code in _INVALID:
        return Invalid(exc.message, code=exc.code)
    if exc.code in _FORBIDDEN:
        return Forbidden(exc.message, code=exc.code)
    return Conflict(exc.message, code=exc.code)


def actor_of(principal: Principal, role: Role | None = None) -> Actor:
    chosen = role.value if role else next(iter(sorted(r.value for r in principal.roles)), "")
    return Actor(subject=principal.subject, name=principal.name, role=chosen, unit_code=principal.unit_code)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class PostalConfig:
    tariff: Tariff = field(default_factory=Tariff)
    operator: str = "vnpost"
    sender_name: str = "Bộ phận Một cửa"  # the office, as sender of results
    sender_phone: str = "02963000000"
    action_retry_limit: int = 50  # operator calls retried by the sweeper before an alert


class ServiceBase:
    def __init__(
        self,
        repo: PostalRepository,
        adapters: dict[str, OperatorAdapter],
        config: PostalConfig,
        *,
        units: UnitSource | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.adapters = adapters
        self.config = config
        self.units = units
        self.clock = clock
        self.wake = wake
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def tariff(self) -> Tariff:
        return self.config.tariff

    def adapter(self, name: str | None = None) -> OperatorAdapter:
        adapter = self.adapters.get(name or self.config.operator)
        if adapter is None:
            raise OperatorUnavailable(f"No adapter for postal operator {name or self.config.operator!r}")
        return adapter

    async def place_of(self, office_id: str, claimed_path: list[str] | None = None) -> Place:
        """The office and its unit path, from the reference data (never from the caller).

        A path the caller sent along must be that one (422 `unit_path_mismatch`); an office or
        unit the reference data does not know is refused (422 `unknown_office` / `unknown_unit`)."""
        if self.units is None:
            raise Unavailable("No administrative units are configured for postal", code="units_unavailable")
        day = self.clock().astimezone(VN_TZ).date()
        try:
            try:
                place = (await self.units.directory()).place(office_id, day)
            except PostalError as exc:
                if exc.code != "unknown_office":
                    raise
                place = (await self.units.directory(fresh=True)).place(office_id, day)  # a new office?
        except PostalError as exc:
            raise domain_error(exc) from exc
        except UnitsUnavailable as exc:
            log.warning("postal cannot read the administrative units: %s", exc)
            raise Unavailable(
                "The list of offices cannot be read right now; try again shortly", code="units_unavailable"
            ) from exc
        if claimed_path and list(claimed_path) != place.unit_path:
            raise Invalid(
                f"Office {office_id} belongs to unit path {','.join(place.unit_path)}, not {','.join(claimed_path)}",
                code="unit_path_mismatch",
            )
        return place

    @staticmethod
    def not_found(what: str, key: str) -> NotFound:
        return NotFound(f"No {what} {key}", code=f"{what.replace(' ', '_')}_not_found")
