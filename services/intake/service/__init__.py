"""Intake's use cases: reference data, reception (counter, online, postal), due dates, slips.

`IntakeService` holds the ports (dossier store, reference repository, clock, relay wake) and the
loaded reference data; each use case lives in the module of its concern and takes the service
as its context (`ports.IntakeContext`):

- `reception`      receive, register online, receive a registered dossier; the decision applied
- `routing`        the competent body that resolves a dossier
- `due`            due dates and the counter's preview
- `records`        a new dossier: actor, applicant record, components
- `reference_data` loading and seeding units, procedures, calendar, counter models
- `slips`          the slips (forms 01–05) of a dossier, rendered once and stored
- `views`          the masked public view of a dossier
- `requests`       what callers send (reception, online registration, acceptance) and the preview
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.intake.model.dossier import ActorRef, Dossier
from services.intake.model.reception import ReceptionError
from services.intake.model.reference import ReferenceData
from services.intake.service import due, reception, reference_data
from services.intake.service.ports import VN_TZ, Clock, DossierStore, IntakeContext, SystemClock
from services.intake.service.requests import AcceptRegistered, DuePreview, OnlineRegistration, ReceptionRequest
from services.intake.service.slips import SlipKind, SlipStore, render_dossier_slip, render_slip
from services.intake.service.views import public_view, reception_error_to_http
from services.kit.auth import Principal, ensure_unit
from services.kit.errors import NotFound

__all__ = [
    "VN_TZ",
    "AcceptRegistered",
    "Clock",
    "DossierStore",
    "DuePreview",
    "IntakeContext",
    "IntakeService",
    "OnlineRegistration",
    "ReceptionRequest",
    "SlipKind",
    "SlipStore",
    "SystemClock",
    "public_view",
    "reception_error_to_http",
    "render_dossier_slip",
    "render_slip",
]


class IntakeService:
    def __init__(
        self,
        dossiers: DossierStore,
        reference_repo: Any,
        *,
        clock: Clock | None = None,
        public_base_url: str = "http://127.0.0.1:8080",
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.dossiers = dossiers
        self.reference_repo = reference_repo
        self.clock = clock or SystemClock()
        self.public_base_url = public_base_url.rstrip("/")
        self.on_commit = on_commit
        self._reference: ReferenceData | None = None

    # ---- reference data ---------------------------------------------------------------
    @property
    def reference(self) -> ReferenceData:
        if self._reference is None:
            raise ReceptionError("reference_data_missing", "No units or procedures loaded: run `motcua seed`")
        return self._reference

    async def reload_reference(self) -> bool:
        self._reference = await reference_data.load_reference(self.reference_repo)
        return self._reference is not None

    async def seed_sample(self, by: str = "seed") -> dict[str, int]:
        """Load the shipped An Giang sample (units, offices, counters, procedures, calendar)."""
        counts = await reference_data.save_sample(self.reference_repo, by)
        await self.reload_reference()
        return counts

    async def seed_if_empty(self) -> bool:
        if await self.reference_repo.load_units() is None:
            await self.seed_sample()
            return True
        return await self.reload_reference()

    # ---- due dates ----------------------------------------------------------------------
    def preview_due(self, office_id: str, procedure_code: str, received_at: datetime | None) -> DuePreview:
        return due.preview_due(self.reference, self.clock, office_id, procedure_code, received_at)

    # ---- reception ----------------------------------------------------------------------
    def lookup_url(self, code: str) -> str:
        return f"{self.public_base_url}/tra-cuu?code={code}"

    async def receive(
        self,
        request: ReceptionRequest,
        officer: Principal | None,
        *,
        dossier_id: str | None = None,
        received_at: datetime | None = None,
        actor: ActorRef | None = None,
        postal_reception_id: str | None = None,
    ) -> Dossier:
        """Receive at the counter or through the post (`reception.receive`)."""
        return await reception.receive(
            self,
            request,
            officer,
            dossier_id=dossier_id,
            received_at=received_at,
            actor=actor,
            postal_reception_id=postal_reception_id,
        )

    async def register_online(self, request: OnlineRegistration) -> Dossier:
        """Online submission: stored as 'registered' until an officer receives it."""
        return await reception.register_online(self, request)

    async def receive_registered(self, dossier_id: str, request: AcceptRegistered, officer: Principal) -> Dossier:
        """An officer checks an online dossier and receives, returns for supplement, or refuses it."""
        return await reception.receive_registered(self, dossier_id, request, officer)

    # ---- reads --------------------------------------------------------------------------
    async def get(self, dossier_id: str, principal: Principal) -> Dossier:
        doc = await self.dossiers.get(dossier_id)
        if doc is None:
            raise NotFound(f"Dossier {dossier_id} not found", code="dossier_not_found")
        dossier = Dossier.from_document(doc)
        ensure_unit(principal, dossier.access_path())
        return dossier

    async def get_by_code(self, code: str, principal: Principal) -> Dossier:
        doc = await self.dossiers.get_by_code(code.strip().upper())
        if doc is None:
            raise NotFound(f"No dossier with code {code}", code="dossier_not_found")
        dossier = Dossier.from_document(doc)
        ensure_unit(principal, dossier.access_path())
        return dossier
