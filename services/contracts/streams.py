"""JetStream streams and durable consumers — who owns which subjects.

Each producing service owns one stream. Streams are created or updated idempotently
at start-up by every service (`kit.bus.ensure_streams`), so start order does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    owner: str
    description: str = ""
    # Seconds during which JetStream drops a repeated Nats-Msg-Id (outbox relay retries).
    duplicate_window_s: float = 600.0
    max_age_days: float = 30.0


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: one per (consuming service, purpose)."""

    durable: str
    stream: str
    subjects: tuple[str, ...]
    service: str
    description: str = ""
    ack_wait_s: float = 10.0  # a crashed consumer's messages come back after this
    # Messages handled at once by one process. Above 1 only where handlers do not rely on the
    # order between messages (replicas of a service interleave them anyway).
    workers: int = 1


DOSSIER = StreamSpec("DOSSIER", ("dossier.>",), "intake", "Dossier lifecycle events (hồ sơ)")
QUEUE = StreamSpec("QUEUE", ("queue.>",), "intake", "Queue tickets and counter calls (số thứ tự)")
DOCUMENT = StreamSpec("DOCUMENT", ("document.>",), "scan", "Digitised documents (số hoá)")
PAYMENT = StreamSpec("PAYMENT", ("payment.>",), "payments", "Fees and payments (phí, lệ phí)")
SHIPMENT = StreamSpec("SHIPMENT", ("shipment.>", "postal.>"), "postal", "Postal pickups and deliveries")
NOTIFICATION = StreamSpec("NOTIFICATION", ("notify.>",), "notify", "Delivery outcomes of notifications")
DEAD_LETTER = StreamSpec(
    "DEADLETTER",
    ("deadletter.>",),
    "kit",
    "Messages that exceeded max_deliver, with the error; listed and replayed by `motcua deadletters`",
    max_age_days=90.0,
)

ERASURE = StreamSpec(
    "ERASURE",
    ("privacy.>",),
    "kit",
    "Each service's confirmation that it erased a dossier's personal data (`privacy.erased.<service>`); "
    "every service publishes its own subject only",
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    DOSSIER, QUEUE, DOCUMENT, PAYMENT, SHIPMENT, NOTIFICATION, ERASURE, DEAD_LETTER
)

NOTIFY_DOSSIER_RECEIVED = ConsumerSpec(
    durable="notify-dossier-received",
    stream=DOSSIER.name,
    subjects=("dossier.received",),
    service="notify",
    description="notify tells the applicant that the dossier was received",
)


def stream_for_subject(subject: str) -> StreamSpec:
    """The stream that captures `subject` (first token match), or KeyError."""
    head = subject.split(".", 1)[0]
    for stream in ALL_STREAMS:
        for pattern in stream.subjects:
            if pattern.split(".", 1)[0] == head:
                return stream
    raise KeyError(f"no stream captures subject {subject!r}")
