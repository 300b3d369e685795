"""Notify's e-mail adapter keeps SMTP connections open between mails (real SMTP servers).

The dev SMTP server of the stack, and an aiosmtpd server in this process that can count
connections and close idle ones the way a province's relay does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from aiosmtplib.email import flatten_message

from services.launcher.ports import free_port
from services.notify.channels.email import SmtpAdapter, compose
from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, OutcomeKind
from tests.support import own_mail_server

SENDER = "Trung tâm Phục vụ hành chính công <no-reply@motcua.local>"


def mail(to: str, n: int = 0) -> OutboundMessage:
    return OutboundMessage(
        delivery_id=f"d-{uuid.uuid4().hex[:8]}",
        channel=Channel.EMAIL,
        to=to,
        subject=f"Hồ sơ 000.00.30.H01-261125-{n:04d} đã được tiếp nhận",
        body=f"Kính gửi ông/bà Nguyễn Văn Ân,\nHồ sơ số {n} đã được tiếp nhận.\n",
    )


@pytest.fixture(scope="module")
def dev_mail(tmp_root: Path) -> Iterator[tuple[str, str]]:
    with own_mail_server(tmp_root) as urls:
        yield urls


class Counting:
    """aiosmtpd handler: counts connections and keeps the messages."""

    def __init__(self) -> None:
        self.connections = 0
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Counting, str]]:
    """An SMTP server that closes a connection idle for 0.3 s."""
    handler = Counting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, timeout=0.3)
    await asyncio.to_thread(controller.start)
    yield handler, f"smtp://127.0.0.1:{port}"
    await asyncio.to_thread(controller.stop)


async def test_mails_one_after_another_share_one_connection_and_arrive_whole(dev_mail: tuple[str, str]) -> None:
    smtp_url, mailbox = dev_mail
    adapter = SmtpAdapter(smtp_url, SENDER)
    to = f"ket-noi-{uuid.uuid4().hex[:6]}@example.vn"
    try:
        outcomes = [await adapter.send(mail(to, n)) for n in range(10)]
    finally:
        await adapter.close()
    assert [o.kind for o in outcomes] == [OutcomeKind.ACCEPTED] * 10
    assert adapter.connections_opened == 1
    async with httpx.AsyncClient() as http:
        received: list[dict[str, Any]] = (await http.get(f"{mailbox}/messages", params={"to": to})).json()
    assert sorted(m["subject"] for m in received) == [
        f"Hồ sơ 000.00.30.H01-261125-{n:04d} đã được tiếp nhận" for n in range(10)
    ]
    first = next(m for m in received if m["subject"].endswith("0000 đã được tiếp nhận"))
    # SMTP carries lines ended by CRLF
    assert first["body"].replace("\r\n", "\n") == "Kính gửi ông/bà Nguyễn Văn Ân,\nHồ sơ số 0 đã được tiếp nhận.\n"
    assert first["headers"]["From"] == SENDER
    assert first["message_id"] == outcomes[0].provider_message_id


async def test_concurrent_mails_open_what_they_need_and_keep_at_most_max_idle(dev_mail: tuple[str, str]) -> None:
    smtp_url, _ = dev_mail
    adapter = SmtpAdapter(smtp_url, SENDER, max_idle=2)
    to = f"song-song-{uuid.uuid4().hex[:6]}@example.vn"
    try:
        outcomes = await asyncio.gather(*(adapter.send(mail(to, n)) for n in range(6)))
        assert all(o.kind is OutcomeKind.ACCEPTED for o in outcomes)
        assert adapter.connections_opened == 6  # six at once: none was free
        assert len(adapter._idle) == 2
        again = [await adapter.send(mail(to, n)) for n in range(6, 9)]
    finally:
        await adapter.close()
    assert all(o.kind is OutcomeKind.ACCEPTED for o in again)
    assert adapter.connections_opened == 6  # the kept ones served the next mails
    assert adapter._idle == []


async def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_mail_sent(
    relay: tuple[Counting, str],
) -> None:
    handler, url = relay
    adapter = SmtpAdapter(url, SENDER)
    try:
        first = await adapter.send(mail("a@example.vn", 1))
        await asyncio.sleep(0.8)  # the server's idle timeout (0.3 s) has closed the connection
        second = await adapter.send(mail("b@example.vn", 2))
    finally:
        await adapter.close()
    assert first.kind is OutcomeKind.ACCEPTED and second.kind is OutcomeKind.ACCEPTED
    assert adapter.connections_opened == 2
    assert handler.connections == 2
    assert len(handler.messages) == 2


async def test_a_kept_connection_found_dead_while_sending_is_replaced_once(relay: tuple[Counting, str]) -> None:
    """The connection still looks open when taken, and fails at the first command."""
    handler, url = relay
    adapter = SmtpAdapter(url, SENDER)
    try:
        assert (await adapter.send(mail("f@example.vn", 1))).kind is OutcomeKind.ACCEPTED
        [(kept, _)] = adapter._idle
        # Blocking on purpose: the server closes the idle connection (0.3 s) while this
        # event loop cannot read the close, as when a relay drops a connection between mails.
        time.sleep(0.8)  # noqa: ASYNC251
        assert kept.is_connected
        second = await adapter.send(mail("g@example.vn", 2))
    finally:
        await adapter.close()
    assert second.kind is OutcomeKind.ACCEPTED
    assert adapter.connections_opened == 2
    assert [m.count(b"g@example.vn") > 0 for m in handler.messages] == [False, True]


async def test_a_connection_kept_past_idle_s_is_not_reused(relay: tuple[Counting, str]) -> None:
    handler, url = relay
    adapter = SmtpAdapter(url, SENDER, idle_s=0.0)
    try:
        outcomes = [await adapter.send(mail("c@example.vn", n)) for n in range(3)]
    finally:
        await adapter.close()
    assert [o.kind for o in outcomes] == [OutcomeKind.ACCEPTED] * 3
    assert adapter.connections_opened == handler.connections == 3


async def test_a_header_cannot_be_injected_through_a_line_break(relay: tuple[Counting, str]) -> None:
    handler, url = relay
    adapter = SmtpAdapter(url, SENDER)
    message = mail("d@example.vn")
    message.subject = "Hồ sơ\r\nBcc: ke-gian@example.vn"
    try:
        outcome = await adapter.send(message)
    finally:
        await adapter.close()
    assert outcome.kind is OutcomeKind.ACCEPTED
    [raw] = handler.messages
    headers = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(line.lower().startswith("bcc:") for line in headers.splitlines())


def test_for_a_server_without_8bitmime_the_mail_is_written_in_7_bits_and_reads_the_same() -> None:
    message = mail("e@example.vn", 7)
    raw = flatten_message(compose(SENDER, message, "<e@motcua.local>"), cte_type="7bit")
    assert raw.isascii()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == message.subject
    assert parsed["From"] == SENDER
    assert parsed.get_content() == message.body  # type: ignore[attr-defined]
