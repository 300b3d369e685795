from datetime import UTC, datetime

import pytest

from services.contracts.consumers import ALL_CONSUMERS
from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.contracts.streams import ALL_STREAMS, stream_for_subject


def _event() -> DossierReceived:
    return DossierReceived(
        unit_code="91",
        payload=DossierReceivedPayload(
            dossier_id="d1",
            dossier_code="000.00.12.H01-260113-0042",
            procedure_code="1.001193",
            procedure_name="Đăng ký khai sinh",
            office_id="o1",
            channel="counter",
            applicant=ApplicantContact(name="Nguyễn Văn A", email="a@example.vn"),
            received_at=datetime(2026, 1, 13, 8, 0, tzinfo=UTC),
        ),
    )


def test_envelope_carries_identity_time_version_and_unit() -> None:
    event = _event()
    assert event.type == "dossier.received"
    assert len(event.event_id) == 32 and event.schema_version == 1 and event.unit_code == "91"
    again = DossierReceived.model_validate_json(event.model_dump_json())
    assert again == event


def test_two_events_get_distinct_ids() -> None:
    assert _event().event_id != _event().event_id


def test_every_subject_has_exactly_one_stream() -> None:
    assert stream_for_subject("dossier.received").name == "DOSSIER"
    assert stream_for_subject("payment.paid").name == "PAYMENT"
    with pytest.raises(KeyError):
        stream_for_subject("nobody.owns.this")
    heads = [p.split(".")[0] for s in ALL_STREAMS for p in s.subjects]
    assert len(heads) == len(set(heads))


def test_consumers_point_at_existing_streams_and_have_unique_durables() -> None:
    names = {s.name for s in ALL_STREAMS}
    assert all(c.stream in names for c in ALL_CONSUMERS)
    assert len({c.durable for c in ALL_CONSUMERS}) == len(ALL_CONSUMERS)
    for consumer in ALL_CONSUMERS:
        for subject in consumer.subjects:
            assert stream_for_subject(subject).name == consumer.stream
