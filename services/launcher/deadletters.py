"""List and replay dead letters (messages that exceeded max_deliver).

Replay republishes the original message on its original subject with its original
`Nats-Msg-Id`-free body; consumers are idempotent on `event_id`, so replaying twice is
harmless. A replayed dead letter is removed from the dead-letter stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import nats
from nats.js.api import StreamInfo

from services.contracts.streams import DEAD_LETTER


@dataclass
class DeadLetter:
    seq: int
    subject: str
    consumer: str
    error: str
    attempts: str
    at: str
    data: bytes
    headers: dict[str, str]


async def _all(js: nats.js.JetStreamContext) -> list[DeadLetter]:
    info: StreamInfo = await js.stream_info(DEAD_LETTER.name)
    items: list[DeadLetter] = []
    if not info.state.messages:
        return items
    seq = info.state.first_seq
    while seq <= info.state.last_seq:
        try:
            msg = await js.get_msg(DEAD_LETTER.name, seq)
        except nats.js.errors.NotFoundError:
            seq += 1
            continue
        h = dict(msg.headers or {})
        items.append(
            DeadLetter(
                seq=seq,
                subject=h.get("Motcua-Dlq-Subject", ""),
                consumer=h.get("Motcua-Dlq-Consumer", ""),
                error=h.get("Motcua-Dlq-Error", ""),
                attempts=h.get("Motcua-Dlq-Attempts", ""),
                at=h.get("Motcua-Dlq-At", ""),
                data=msg.data or b"",
                headers=h,
            )
        )
        seq += 1
    return items


async def list_dead_letters(nats_url: str) -> list[DeadLetter]:
    nc = await nats.connect(nats_url.split(","))
    try:
        return await _all(nc.jetstream())
    finally:
        await nc.close()


async def replay_dead_letters(nats_url: str, seqs: list[int] | None) -> int:
    """Republish the chosen dead letters (all when `seqs` is None) and remove them."""
    nc = await nats.connect(nats_url.split(","))
    js = nc.jetstream()
    replayed = 0
    try:
        for item in await _all(js):
            if seqs is not None and item.seq not in seqs:
                continue
            headers = {
                k: v
                for k, v in item.headers.items()
                if not k.startswith(("Motcua-Dlq-", "Nats-Expected-", "Nats-Msg-Id"))
            }
            headers["Motcua-Replayed-From"] = str(item.seq)
            await js.publish(item.subject, item.data, headers=headers)
            await js.delete_msg(DEAD_LETTER.name, item.seq)
            replayed += 1
    finally:
        await nc.close()
    return replayed
