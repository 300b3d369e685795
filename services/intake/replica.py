"""Province side of a commune leaf office: commune dossiers copied into the province's intake.

A commune office runs its own intake on a NATS leaf node with its own JetStream domain and
its own MongoDB, so its counter works while the WAN link is down. The province sources the
commune's DOSSIER stream (kit.bus.ensure_commune_sources); this subscriber turns each
commune `dossier.received` into a read-only replica dossier here, so that province lookups,
inspections and reports include it. Idempotent on the dossier id; events of one dossier
arrive in the order the commune wrote them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsRouter
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.contracts.events import DossierReceived
from services.contracts.streams import ConsumerSpec
from services.intake.model.dossier import ApplicantRecord, Channel, Dossier, DossierStatus, StatusChange
from services.kit.bus import commune_stream_name, durable_subscriber
from services.kit.mongo import Document


def replica_from_event(
    event: DossierReceived, domain: str, *, field_code: str, level: str, office_name: str, receiving_unit_id: str
) -> Dossier:
    p = event.payload
    now = datetime.now(UTC)
    return Dossier(
        id=p.dossier_id,
        code=p.dossier_code,
        reference=p.dossier_code,
        status=DossierStatus.RECEIVED,
        channel=Channel(p.channel),
        office_id=p.office_id,
        office_name=office_name,
        receiving_unit_id=receiving_unit_id,
        unit_code=event.unit_code,
        unit_path=event.unit_path or [event.unit_code],
        procedure_code=p.procedure_code,
        procedure_name=p.procedure_name,
        field_code=field_code,
        procedure_level=level,
        applicant=ApplicantRecord(
            kind="individual", name=p.applicant.name, email=p.applicant.email, phone=p.applicant.phone
        ),
        no_appointment=p.no_appointment,
        fees_due=[f.model_dump() for f in p.fees_due],
        received_at=p.received_at,
        due_at=p.due_at,
        history=[
            StatusChange(
                at=p.received_at,
                from_status=None,
                to_status=DossierStatus.RECEIVED,
                actor=f"replica:{domain}",
                note="Tiếp nhận tại bộ phận một cửa cấp xã (bản sao)",
            )
        ],
        created_at=now,
    )


def build_replica_router(
    domains: list[str],
    db: Callable[[], AsyncDatabase[Document]],
    lookup: Callable[[str, str], tuple[str, str, str, str]],
    *,
    max_deliver: int,
) -> NatsRouter:
    """`lookup(procedure_code, office_id)` → (field_code, level, office_name, receiving_unit_id)."""
    router = NatsRouter()
    for domain in domains:
        stream = commune_stream_name("DOSSIER", domain)
        spec = ConsumerSpec(
            f"intake-replica-{domain}",
            stream,
            ("dossier.received",),
            "intake",
            f"province copy of dossiers received at {domain}",
        )

        def make_handler(domain: str) -> Callable[[DossierReceived], object]:
            async def replicate(event: DossierReceived) -> None:
                field_code, level, office_name, receiving_unit_id = lookup(
                    event.payload.procedure_code, event.payload.office_id
                )
                dossier = replica_from_event(
                    event,
                    domain,
                    field_code=field_code,
                    level=level,
                    office_name=office_name,
                    receiving_unit_id=receiving_unit_id,
                )
                doc = dossier.to_document()
                doc["replica_of"] = domain
                with contextlib.suppress(DuplicateKeyError):  # already copied: a redelivery
                    await db()["dossiers"].insert_one(doc)

            return replicate

        durable_subscriber(router, spec, max_deliver=max_deliver)(make_handler(domain))
    return router


def install_replica(app: Any, runtime: Any, domains: list[str], max_deliver: int) -> None:
    """Province intake: replicate the dossiers of the configured commune domains."""
    if not domains:
        return

    def lookup(procedure_code: str, office_id: str) -> tuple[str, str, str, str]:
        ref = app.state.intake.reference
        procedure = ref.catalogue.get(procedure_code) if procedure_code in ref.catalogue else None
        try:
            office = ref.office(office_id)
            office_name, receiving = office.name, office.receiving_unit_id
        except Exception:
            office_name, receiving = office_id, ""
        if procedure is None:
            return "", "", office_name, receiving
        return procedure.field_code, procedure.level.value, office_name, receiving

    runtime.broker.include_router(build_replica_router(domains, lambda: runtime.db, lookup, max_deliver=max_deliver))
