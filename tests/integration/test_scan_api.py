"""Scan through its HTTP API against the real SeaweedFS S3, MongoDB (SecantusDB) and NATS.

upload → one PDF + thumbnail → signed download (which expires) → audit → reuse → public
second factor → retention delete, plus bad input and authorisation.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from minio import Minio
from nats.aio.client import Client as NatsClient
from pypdf import PdfReader

from services.contracts.streams import DOCUMENT
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from services.scan.app import ScanSettings, create_app
from tests.support import auth, dossier_code, running_app, settings_for
from tests.unit.scan import scan_samples as samples

UNIT, PROVINCE = "91001", "91"
UNIT_PATH = f"{UNIT},{PROVINCE}"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code=UNIT, subject="officer-a", name="Lê Thị Thu")
OTHER_OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="92001", subject="officer-b")
INSPECTOR = auth(Role.INSPECTOR, unit_code=PROVINCE, subject="inspector-1")
OTHER_INSPECTOR = auth(Role.INSPECTOR, unit_code="92", subject="inspector-2")
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code=PROVINCE, subject="admin-1")
CASHIER = auth(Role.CASHIER, unit_code=UNIT)
RETAIN_NOTHING = "TEST.RET"  # a procedure whose retention period is zero days in these settings

def new_code() -> str:
    return dossier_code("000.00.12.H01")


@dataclass
class Scan:
    client: httpx.AsyncClient
    settings: ScanSettings
    s3: Minio


@pytest.fixture(scope="module")
async def scan(servers: Endpoints) -> AsyncIterator[Scan]:
    settings = settings_for(
        servers, ScanSettings,
        scan_url_ttl_s=2, scan_max_file_mb=1, scan_max_pages=6,
        scan_retention_days_by_procedure={RETAIN_NOTHING: 0}, scan_retention_interval_s=0,
        scan_delete_grace_s=0,
    )
    s3 = Minio(servers.s3_endpoint, access_key=servers.s3_access_key, secret_key=servers.s3_secret_key,
               secure=False)
    assert not await asyncio.to_thread(s3.bucket_exists, settings.s3_bucket)
    async with running_app(create_app(settings)) as client:
        yield Scan(client, settings, s3)


async def upload(scan: Scan, code: str, component: str, files: list[tuple[str, bytes]], *,
                 headers: dict[str, str] = OFFICER, result: bool = False, **fields: str) -> httpx.Response:
    data = {"unit_path": UNIT_PATH, "owner_id": samples.OWNER_ID, **fields}
    url = f"/dossiers/{code}/result/documents" if result else f"/dossiers/{code}/components/{component}/documents"
    return await scan.client.post(url, headers=headers, data=data,
                                  files=[("files", (name, body)) for name, body in files])


async def objects_under(scan: Scan, prefix: str) -> list[str]:
    def _list() -> list[str]:
        return [o.object_name or "" for o in scan.s3.list_objects(scan.settings.s3_bucket, prefix, recursive=True)]

    return await asyncio.to_thread(_list)


async def document_events(nc: NatsClient, document_id: str, expected: int, wait_s: float = 8.0
                          ) -> list[dict[str, Any]]:
    """Events about one document on the DOCUMENT stream (read with a fresh ordered consumer)."""
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + wait_s
    found: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        sub = await js.subscribe("document.>", stream=DOCUMENT.name, ordered_consumer=True)
        found = []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.3)
                except TimeoutError:
                    break
                body = json.loads(msg.data)
                if body["payload"].get("document_id") == document_id:
                    assert msg.headers and msg.headers.get("Nats-Msg-Id") == body["event_id"]
                    found.append(body)
        finally:
            await sub.unsubscribe()
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.2)
    return found


def distinct_pages(tag: str) -> list[tuple[str, bytes]]:
    return [("trang-1.jpg", samples.jpeg(text=f"{tag} 1")), ("trang-2.png", samples.png(text=f"{tag} 2"))]


# ---- upload ----------------------------------------------------------------------------------

async def test_images_become_one_pdf_with_thumbnail_and_events(scan: Scan, nc: NatsClient) -> None:
    code = new_code()
    response = await upload(scan, code, "giay_chung_sinh", distinct_pages(uuid.uuid4().hex), owner_phone=samples.PHONE)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["pages"] == 2 and doc["source_formats"] == ["jpeg", "png"] and doc["created"] and doc["new_object"]
    assert doc["unit_path"] == [UNIT, PROVINCE] and doc["uploaded_by"]["subject"] == "officer-a"
    assert doc["thumbnail_source"] == "image" and doc["original_names"] == ["trang-1.jpg", "trang-2.png"]
    assert "owner_id_hash" not in doc and samples.OWNER_ID not in response.text
    assert await asyncio.to_thread(scan.s3.bucket_exists, scan.settings.s3_bucket)  # created at start-up

    stored = await objects_under(scan, f"units/{UNIT}/")
    assert f"units/{UNIT}/sha256/{doc['sha256']}" in stored
    assert f"units/{UNIT}/thumbnails/{doc['sha256']}.png" in stored

    url = (await scan.client.post(f"/documents/{doc['id']}/download-url", headers=OFFICER)).json()["url"]
    async with httpx.AsyncClient() as web:
        pdf = await web.get(url)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 2
        thumb_url = (await scan.client.post(f"/documents/{doc['id']}/download-url?variant=thumbnail",
                                            headers=OFFICER)).json()["url"]
        thumb = await web.get(thumb_url)
        assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")

    events = await document_events(nc, doc["id"], 2)
    assert sorted(e["type"] for e in events) == ["document.component_digitised", "document.stored"]
    for event in events:
        assert event["unit_code"] == UNIT and event["unit_path"] == [UNIT, PROVINCE]
        assert event["payload"]["dossier_code"] == code and samples.OWNER_ID not in json.dumps(event)
    digitised = next(e for e in events if e["type"] == "document.component_digitised")
    assert digitised["payload"]["component_code"] == "giay_chung_sinh" and not digitised["payload"]["reused"]

    listed = (await scan.client.get(f"/dossiers/{code}/documents", headers=INSPECTOR)).json()
    assert [d["id"] for d in listed] == [doc["id"]]


async def test_identical_content_is_stored_once_and_a_repeat_upload_is_idempotent(scan: Scan) -> None:
    pages = distinct_pages(uuid.uuid4().hex)
    first = (await upload(scan, new_code(), "to_khai", pages)).json()
    repeat = await upload(scan, first["dossier_code"], "to_khai", pages)
    assert repeat.status_code == 200 and repeat.json()["id"] == first["id"] and not repeat.json()["created"]
    second = await upload(scan, new_code(), "to_khai", pages)
    assert second.status_code == 201 and not second.json()["new_object"]
    assert second.json()["sha256"] == first["sha256"]
    assert await objects_under(scan, f"units/{UNIT}/sha256/{first['sha256']}") == [
        f"units/{UNIT}/sha256/{first['sha256']}"]


async def test_a_png_named_pdf_is_accepted_as_an_image_and_a_pdf_is_stored_as_is(scan: Scan) -> None:
    renamed = await upload(scan, new_code(), "to_khai", [("to-khai.pdf", samples.png(text=uuid.uuid4().hex))])
    assert renamed.status_code == 201 and renamed.json()["source_formats"] == ["png"]
    pdf = samples.pdf(3)
    as_is = await upload(scan, new_code(), "to_khai", [("scan.pdf", pdf)])
    assert as_is.status_code in (200, 201) and as_is.json()["pages"] == 3


@pytest.mark.parametrize(("files", "fields", "status", "code"), [
    ([("x.pdf", samples.encrypted_pdf())], {}, 422, "pdf_encrypted"),
    ([("x.pdf", samples.corrupt_pdf())], {}, 422, "pdf_corrupt"),
    ([("x.pdf", samples.zero_page_pdf())], {}, 422, "pdf_no_pages"),
    ([("x.pdf", b"plain text, renamed")], {}, 415, "unsupported_type"),
    ([("big.jpg", samples.random_bytes(1024 * 1024 + 1))], {}, 413, "file_too_large"),
    ([(f"{i}.png", samples.png(text=str(i))) for i in range(7)], {}, 422, "too_many_files"),
    ([("a.tif", samples.tiff(pages=4)), ("b.tif", samples.tiff(pages=3))], {}, 422, "too_many_pages"),
    ([("a.png", samples.png())], {"unit_path": ""}, 422, "invalid_unit_path"),
    ([("a.png", samples.png())], {"owner_id": "12"}, 422, "invalid_owner_id"),
    ([], {}, 422, "no_files"),
])
async def test_bad_input_is_refused_with_a_clear_code_and_nothing_stored(
        scan: Scan, files: list[tuple[str, bytes]], fields: dict[str, str], status: int, code: str) -> None:
    dossier = new_code()
    if not files:  # a multipart body without a file part
        response = await scan.client.post(f"/dossiers/{dossier}/components/to_khai/documents", headers=OFFICER,
                                          files=[("note", ("n.txt", b"x"))],
                                          data={"unit_path": UNIT_PATH, "owner_id": samples.OWNER_ID})
    else:
        response = await upload(scan, dossier, "to_khai", files, **fields)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await scan.client.get(f"/dossiers/{dossier}/documents", headers=OFFICER)).json() == []


async def test_bad_dossier_code_and_non_multipart_body(scan: Scan) -> None:
    bad = await upload(scan, "not-a-code", "to_khai", [("a.png", samples.png())])
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_dossier_code"
    json_body = await scan.client.post(f"/dossiers/{new_code()}/components/to_khai/documents", headers=OFFICER,
                                       json={"files": []})
    assert json_body.status_code == 415 and json_body.json()["error"]["code"] == "multipart_required"


# ---- authorisation ------------------------------------------------------------------------------

async def test_roles_and_units_are_enforced(scan: Scan) -> None:
    pages = distinct_pages(uuid.uuid4().hex)
    wrong_unit = await upload(scan, new_code(), "to_khai", pages, headers=OTHER_OFFICER)
    assert wrong_unit.status_code == 403 and wrong_unit.json()["error"]["code"] == "unit_not_allowed"
    wrong_role = await upload(scan, new_code(), "to_khai", pages, headers=CASHIER)
    assert wrong_role.status_code == 403 and wrong_role.json()["error"]["code"] == "role_not_allowed"
    anonymous = await scan.client.post(f"/dossiers/{new_code()}/components/to_khai/documents")
    assert anonymous.status_code == 401

    doc = (await upload(scan, new_code(), "to_khai", pages)).json()
    for path, method in [(f"/documents/{doc['id']}/download-url", "POST"), (f"/documents/{doc['id']}", "GET")]:
        denied = await scan.client.request(method, path, headers=OTHER_OFFICER)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "unit_not_allowed"
    assert (await scan.client.get(f"/dossiers/{doc['dossier_code']}/documents", headers=OTHER_OFFICER)).json() == []
    assert (await scan.client.get(f"/documents/{doc['id']}", headers=INSPECTOR)).status_code == 200
    assert (await scan.client.post(f"/documents/{uuid.uuid4().hex}/download-url",
                                   headers=OFFICER)).status_code == 404


# ---- signed downloads and the audit trail ------------------------------------------------------

async def test_signed_url_reads_the_object_expires_and_is_audited(scan: Scan) -> None:
    doc = (await upload(scan, new_code(), "to_khai", distinct_pages(uuid.uuid4().hex))).json()
    issued = await scan.client.post(f"/documents/{doc['id']}/download-url", headers=OFFICER)
    assert issued.status_code == 200
    signed = issued.json()
    assert signed["filename"] == f"{doc['dossier_code']}_to_khai.pdf"
    async with httpx.AsyncClient() as web:
        fetched = await web.get(signed["url"])
        assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF-")
        assert f'filename="{signed["filename"]}"' in fetched.headers["content-disposition"]
        await asyncio.sleep(3.2)  # the test settings give signed URLs a 2-second life
        expired = await web.get(signed["url"])
        assert expired.status_code == 403 and b"expired" in expired.content.lower()

    trail = await scan.client.get("/audit/access", params={"document_id": doc["id"]}, headers=INSPECTOR)
    assert trail.status_code == 200
    [entry] = trail.json()
    assert entry["action"] == "download_url" and entry["actor"]["subject"] == "officer-a"
    assert entry["dossier_code"] == doc["dossier_code"] and entry["expires_at"]
    assert (await scan.client.get("/audit/access", params={"document_id": doc["id"]},
                                  headers=OTHER_INSPECTOR)).json() == []
    assert (await scan.client.get("/audit/access", headers=OFFICER)).status_code == 403


# ---- reusable documents --------------------------------------------------------------------------

async def test_a_stored_document_is_reused_for_a_new_dossier(scan: Scan, nc: NatsClient) -> None:
    source = (await upload(scan, new_code(), "giay_khai_sinh", distinct_pages(uuid.uuid4().hex),
                           valid_until="2099-12-31")).json()
    search = await scan.client.post("/reusable-documents/search", json={"owner_id": samples.OWNER_ID},
                                    headers=OFFICER)
    assert search.status_code == 200 and source["id"] in [d["id"] for d in search.json()]
    elsewhere = await scan.client.post("/reusable-documents/search", json={"owner_id": samples.OWNER_ID},
                                       headers=OTHER_OFFICER)
    assert source["id"] not in [d["id"] for d in elsewhere.json()]

    target = new_code()
    body = {"source_document_id": source["id"], "owner_id": samples.OTHER_OWNER_ID, "unit_path": [UNIT, PROVINCE]}
    refused = await scan.client.post(f"/dossiers/{target}/components/giay_khai_sinh/reuse", json=body,
                                     headers=OFFICER)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "owner_mismatch"
    body["owner_id"] = samples.OWNER_ID
    reused = await scan.client.post(f"/dossiers/{target}/components/giay_khai_sinh/reuse", json=body,
                                    headers=OFFICER)
    assert reused.status_code == 201, reused.text
    doc = reused.json()
    assert doc["reused"] and doc["reused_from"] == source["id"] and doc["sha256"] == source["sha256"]
    assert doc["dossier_code"] == target

    [event] = await document_events(nc, doc["id"], 1)
    assert event["type"] == "document.component_digitised"
    assert event["payload"]["reused"] and event["payload"]["reused_from_dossier_code"] == source["dossier_code"]
    url = (await scan.client.post(f"/documents/{doc['id']}/download-url", headers=OFFICER)).json()["url"]
    async with httpx.AsyncClient() as web:
        assert (await web.get(url)).status_code == 200
    actions = [e["action"] for e in (await scan.client.get("/audit/access", headers=INSPECTOR)).json()]
    assert "owner_search" in actions and "reuse" in actions


# ---- the applicant's download through the public lookup -----------------------------------------------

async def test_public_result_download_needs_the_second_factor(scan: Scan, nc: NatsClient) -> None:
    code = new_code()
    result = await upload(scan, code, "", [("ket-qua.pdf", samples.pdf(1))], result=True,
                          owner_phone=samples.PHONE)
    assert result.status_code in (200, 201) and result.json()["kind"] == "result"
    events = await document_events(nc, result.json()["id"], 2)
    assert "document.result_digitised" in [e["type"] for e in events]

    wrong = await scan.client.post(f"/public/dossiers/{code}/result-links", json={"last4": "0000"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "second_factor_failed"
    ok = await scan.client.post(f"/public/dossiers/{code}/result-links", json={"last4": "5678"})
    assert ok.status_code == 200
    [link] = ok.json()
    async with httpx.AsyncClient() as web:
        assert (await web.get(link["url"])).content.startswith(b"%PDF-")
    for _ in range(4):
        await scan.client.post(f"/public/dossiers/{code}/result-links", json={"last4": "0001"})
    locked = await scan.client.post(f"/public/dossiers/{code}/result-links", json={"last4": "1234"})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "too_many_attempts"
    trail = (await scan.client.get("/audit/access", params={"dossier_code": code}, headers=INSPECTOR)).json()
    assert {"public_download_url", "public_denied"} <= {e["action"] for e in trail}


# ---- retention ------------------------------------------------------------------------------------

async def test_retention_deletes_expired_documents_but_not_held_ones(scan: Scan, nc: NatsClient) -> None:
    expired = (await upload(scan, new_code(), "to_khai", distinct_pages(uuid.uuid4().hex),
                            procedure_code=RETAIN_NOTHING)).json()
    held = (await upload(scan, new_code(), "to_khai", distinct_pages(uuid.uuid4().hex),
                         procedure_code=RETAIN_NOTHING)).json()
    hold = await scan.client.put(f"/documents/{held['id']}/legal-hold", json={"reason": "Thanh tra số 12/2026"},
                                 headers=PROVINCE_ADMIN)
    assert hold.status_code == 200 and hold.json()["legal_hold"]["reason"] == "Thanh tra số 12/2026"
    assert (await scan.client.post("/retention/run", headers=INSPECTOR)).status_code == 403

    run = await scan.client.post("/retention/run", headers=PROVINCE_ADMIN)
    assert run.status_code == 200
    report = run.json()
    assert expired["id"] in report["deleted_document_ids"] and held["id"] not in report["deleted_document_ids"]
    assert await objects_under(scan, f"units/{UNIT}/sha256/{expired['sha256']}") == []
    assert await objects_under(scan, f"units/{UNIT}/thumbnails/{expired['sha256']}") == []
    assert await objects_under(scan, f"units/{UNIT}/sha256/{held['sha256']}") != []

    gone = (await scan.client.get(f"/documents/{expired['id']}", headers=OFFICER)).json()
    assert gone["status"] == "deleted" and gone["deleted_at"]
    refused = await scan.client.post(f"/documents/{expired['id']}/download-url", headers=OFFICER)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "document_deleted"
    log = (await scan.client.get("/retention/log", headers=INSPECTOR)).json()
    assert {("document_deleted", expired["id"])} <= {(e["action"], e.get("document_id")) for e in log}
    assert f"units/{UNIT}/sha256/{expired['sha256']}" in {e["object_key"] for e in log
                                                           if e["action"] == "object_deleted"}
    [deleted] = [e for e in await document_events(nc, expired["id"], 3) if e["type"] == "document.deleted"]
    assert deleted["payload"]["reason"] == "retention"

    lifted = await scan.client.delete(f"/documents/{held['id']}/legal-hold", headers=PROVINCE_ADMIN)
    assert lifted.status_code == 200 and lifted.json()["legal_hold"] is None
    again = (await scan.client.post("/retention/run", headers=PROVINCE_ADMIN)).json()
    assert held["id"] in again["deleted_document_ids"]
