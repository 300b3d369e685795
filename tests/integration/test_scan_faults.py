"""Scan's faults against real servers: unknown dossiers (learnt from intake's `dossier.received`)
and an S3 outage — a real SeaweedFS process of this test's own, stopped and started again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import DeliverPolicy
from pymongo import AsyncMongoClient

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.contracts.streams import DOSSIER
from services.kit.auth import Role
from services.kit.mongo import Document
from services.launcher.ports import free_port
from services.launcher.processes import ManagedProcess
from services.launcher.servers import Endpoints, s3_process
from services.scan.app import ScanSettings, create_app
from tests.support import auth, dossier_code, running_app, settings_for
from tests.unit.scan import scan_samples as samples

UNIT_PATH = ["91001", "91"]
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="91001")


class OwnS3:
    """A SeaweedFS S3 server that a test may stop and start again on the same port and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.access_key, self.secret_key = "scan-faults", f"s-{uuid.uuid4().hex}"
        self.endpoint = ""
        self.proc: ManagedProcess | None = None

    async def start(self) -> None:
        self.proc, self.endpoint = s3_process(self.data_dir, self.access_key, self.secret_key, port=self.port)
        self.proc.start()
        await asyncio.to_thread(self.proc.wait_ready, 60)

    async def stop(self) -> None:
        if self.proc:
            await asyncio.to_thread(self.proc.stop, 1.0)


@pytest.fixture
async def own_s3(tmp_path: Path) -> AsyncIterator[OwnS3]:
    s3 = OwnS3(tmp_path)
    await s3.start()
    yield s3
    await s3.stop()


async def _upload(client: httpx.AsyncClient, code: str, unit_path: list[str] = UNIT_PATH) -> httpx.Response:
    return await client.post(
        f"/dossiers/{code}/components/to_khai/documents", headers=OFFICER,
        data={"unit_path": ",".join(unit_path), "owner_id": samples.OWNER_ID},
        files=[("files", ("a.jpg", samples.jpeg(text=uuid.uuid4().hex)))],
    )


async def test_unknown_dossiers_and_an_s3_outage(servers: Endpoints, own_s3: OwnS3, nc: NatsClient,
                                                 mongo_client: AsyncMongoClient[Document]) -> None:
    settings = settings_for(servers, ScanSettings, s3_endpoint=own_s3.endpoint, s3_access_key=own_s3.access_key,
                            s3_secret_key=own_s3.secret_key, scan_require_known_dossier=True,
                            scan_retention_interval_s=0)
    code = dossier_code("000.00.12.H01")
    async with running_app(create_app(settings)) as client:
        unknown = await _upload(client, code)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_dossier"

        # intake announces the dossier; scan's durable consumer records it
        event = DossierReceived(unit_code=UNIT_PATH[0], unit_path=UNIT_PATH, payload=DossierReceivedPayload(
            dossier_id=uuid.uuid4().hex, dossier_code=code, procedure_code="1.001193",
            procedure_name="Đăng ký khai sinh", office_id="o1", channel="counter",
            applicant=ApplicantContact(name="Trần Thị B"), received_at=datetime.now(UTC),
            component_ids=["to_khai", "giay_chung_sinh", "giay_to_tuy_than"]))
        await nc.jetstream().publish(event.type, event.model_dump_json().encode(), stream=DOSSIER.name,
                                     headers={"Nats-Msg-Id": event.event_id})
        dossiers = mongo_client[settings.mongo_db_name]["dossiers"]
        for _ in range(100):
            if await dossiers.find_one({"_id": code}):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("scan did not record the dossier.received event")

        mismatch = await _upload(client, code, ["91002", "91"])
        assert mismatch.status_code in (403, 409)
        stranger = await client.post(
            f"/dossiers/{code}/components/so_do_dat/documents", headers=OFFICER,
            data={"unit_path": ",".join(UNIT_PATH), "owner_id": samples.OWNER_ID},
            files=[("files", ("a.jpg", samples.jpeg(text="x")))],
        )
        assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "unknown_component"

        # S3 goes down: a clear 503, nothing half-stored
        published = await nc.jetstream().subscribe(
            "document.>", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )  # every document event from here on: the retry's, and none of the failed upload
        await own_s3.stop()
        down = await _upload(client, code)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "storage_unavailable" and down.headers["retry-after"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["s3"] is False
        assert (await client.get(f"/dossiers/{code}/documents", headers=OFFICER)).json() == []
        assert await mongo_client[settings.mongo_db_name]["outbox"].count_documents(
            {"body.payload.dossier_code": code}) == 0

        # S3 is back: the same upload succeeds and the document can be downloaded
        await own_s3.start()
        retry = await _upload(client, code)
        assert retry.status_code == 201, retry.text
        url = (await client.post(f"/documents/{retry.json()['id']}/download-url", headers=OFFICER)).json()["url"]
        async with httpx.AsyncClient() as web:
            assert (await web.get(url)).content.startswith(b"%PDF-")
        assert (await client.get("/readyz")).status_code == 200
        # the events went out (the relay deletes published outbox entries): read them from the stream
        events: list[tuple[str, str]] = []
        with contextlib.suppress(nats.errors.TimeoutError):
            while True:  # until the stream has been quiet for a second
                msg = await published.next_msg(timeout=1 if len(events) >= 2 else 10)
                payload = json.loads(msg.data)["payload"]
                if payload.get("dossier_code") == code:
                    events.append((msg.subject, payload["document_id"]))
        await published.unsubscribe()
        assert sorted(events) == [
            ("document.component_digitised", retry.json()["id"]), ("document.stored", retry.json()["id"])]
        assert await mongo_client[settings.mongo_db_name]["outbox"].count_documents({}) == 0
