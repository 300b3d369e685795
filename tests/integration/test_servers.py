"""The embedded servers are real and configured as DESIGN §4 says."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest
from minio import Minio
from minio.error import S3Error
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.streams import ALL_STREAMS
from services.kit.bus import ensure_streams
from services.kit.mongo import Document, in_transaction
from services.kit.s3 import ObjectStore
from services.launcher.servers import Endpoints


async def test_s3_accepts_the_right_keys_and_rejects_wrong_ones(servers: Endpoints) -> None:
    store = ObjectStore(
        servers.s3_endpoint, servers.s3_access_key, servers.s3_secret_key, secure=False, bucket="motcua-test-keys"
    )
    await store.ensure_bucket()
    await store.put_bytes("a/b.txt", b"xin chao", "text/plain")
    assert await store.get_bytes("a/b.txt") == b"xin chao"
    wrong = Minio(servers.s3_endpoint, access_key=servers.s3_access_key, secret_key="wrong-secret", secure=False)
    with pytest.raises(S3Error) as info:
        wrong.get_object("motcua-test-keys", "a/b.txt")
    assert info.value.code in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")


async def test_mongo_transactions_commit_together_or_not_at_all(db: AsyncDatabase[Document], mongo_client) -> None:  # type: ignore[no-untyped-def]
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        await db.a.insert_one({"_id": 1}, session=session)
        await db.b.insert_one({"_id": 1}, session=session)
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await in_transaction(mongo_client, work)
    assert await db.a.count_documents({}) == 0 and await db.b.count_documents({}) == 0


async def test_streams_are_created_idempotently(nc: NatsClient) -> None:
    js = nc.jetstream()
    await ensure_streams(js)
    await ensure_streams(js)
    names = {s.config.name for s in await js.streams_info()}
    assert {s.name for s in ALL_STREAMS} <= names


async def test_dev_smtp_keeps_received_mail(servers: Endpoints) -> None:
    to = f"{uuid.uuid4().hex[:8]}@example.vn"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@motcua.local", to, "Thử nghiệm tiếng Việt"
    msg.set_content("Xin chào")
    host, port = servers.smtp_url.removeprefix("smtp://").split(":")
    await aiosmtplib.send(msg, hostname=host, port=int(port))
    async with httpx.AsyncClient() as http:
        items = (await http.get(f"{servers.dev_mailbox_url}/messages", params={"to": to})).json()
    assert len(items) == 1 and items[0]["subject"] == "Thử nghiệm tiếng Việt"
    assert "Xin chào" in items[0]["body"]
