"""The dev SMTP server: receives mail on SMTP and shows it over a small HTTP API.

`python -m services.launcher.devmail --smtp-port P --http-port Q --store FILE`
Messages are kept in memory and appended to a JSON-lines file so a restart keeps them.
The portal's dev mailbox reads `GET /messages`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, HTTPException


class MailStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        if path and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.messages.append(json.loads(line))

    def add(self, envelope: Envelope) -> dict[str, Any]:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body_part = parsed.get_body(preferencelist=("plain", "html"))
        body = body_part.get_content() if body_part is not None else ""
        record = {
            "id": uuid.uuid4().hex,
            "received_at": datetime.now(UTC).isoformat(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(parsed.get("Subject", "")),
            "message_id": str(parsed.get("Message-ID", "")),
            "headers": {k: str(v) for k, v in parsed.items()},
            "body": body,
        }
        with self.lock:
            self.messages.append(record)
            if self.path:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record


class _Handler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.store.add(envelope)
        return "250 Message accepted for delivery"


def make_http_app(store: MailStore) -> FastAPI:
    app = FastAPI(title="Một Cửa dev mailbox")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/messages")
    async def messages(to: str | None = None) -> list[dict[str, Any]]:
        with store.lock:
            items = list(store.messages)
        if to:
            items = [m for m in items if to in m["rcpt_tos"]]
        return list(reversed(items))

    @app.get("/messages/{message_id}")
    async def message(message_id: str) -> dict[str, Any]:
        for m in store.messages:
            if m["id"] == message_id:
                return m
        raise HTTPException(404, "no such message")

    @app.delete("/messages")
    async def clear() -> dict[str, int]:
        with store.lock:
            n = len(store.messages)
            store.messages.clear()
            if store.path:
                store.path.write_text("", encoding="utf-8")
        return {"deleted": n}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    store = MailStore(args.store)
    controller = Controller(_Handler(store), hostname=args.host, port=args.smtp_port)
    controller.start()
    config = uvicorn.Config(make_http_app(store), host=args.host, port=args.http_port, log_level="warning")
    server = uvicorn.Server(config)

    def _stop(*_: Any) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        asyncio.run(server.serve())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
