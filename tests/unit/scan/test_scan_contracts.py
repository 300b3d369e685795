"""Scan's bus API: its events live on the DOCUMENT stream it owns; its consumer reads DOSSIER."""

from __future__ import annotations

from datetime import UTC, datetime

from services.contracts.scan import (
    SCAN_DOSSIER_RECEIVED,
    SCAN_EVENTS,
    ComponentDigitised,
    ComponentDigitisedPayload,
)
from services.contracts.streams import DOCUMENT, DOSSIER, stream_for_subject


def test_every_scan_event_is_published_on_the_document_stream() -> None:
    subjects = {event.subject for event in SCAN_EVENTS}
    assert subjects == {"document.stored", "document.component_digitised", "document.result_digitised",
                        "document.deleted"}
    assert all(stream_for_subject(s) == DOCUMENT for s in subjects)


def test_the_dossier_received_consumer_reads_intake_s_stream() -> None:
    assert SCAN_DOSSIER_RECEIVED.stream == DOSSIER.name and SCAN_DOSSIER_RECEIVED.service == "scan"
    assert all(stream_for_subject(s) == DOSSIER for s in SCAN_DOSSIER_RECEIVED.subjects)


def test_component_digitised_round_trips_and_carries_no_owner_data() -> None:
    event = ComponentDigitised(unit_code="91001", unit_path=["91001", "91"], payload=ComponentDigitisedPayload(
        document_id="d1", dossier_code="000.00.12.H01-260302-0001", component_code="to_khai", pages=2,
        reused=True, reused_from_document_id="d0", digitised_at=datetime(2026, 3, 2, tzinfo=UTC),
        digitised_by="officer-1"))
    assert event.type == "document.component_digitised"
    assert ComponentDigitised.model_validate_json(event.model_dump_json()) == event
    assert "owner" not in event.model_dump_json()
