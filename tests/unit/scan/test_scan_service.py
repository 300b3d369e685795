"""Scan's use cases against in-memory fakes of the repository and the object store."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.contracts.scan import ComponentDigitised, DocumentDeleted, DocumentStored, ResultDigitised
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden
from services.scan.model import (
    AccessAction,
    ConflictError,
    Denied,
    DocumentKind,
    DocumentStatus,
    NotFoundError,
    RetentionPolicy,
    ScanLimits,
    SpooledFile,
    TooManyAttempts,
    Unavailable,
    UploadRequest,
)
from services.scan.pdf import prepare_document
from services.scan.service import ScanConfig, ScanService, UploadOutcome
from tests.unit.scan import scan_samples as samples
from tests.unit.scan.scan_fakes import Clock, FakeRepository, FakeStore

CODE = "000.00.12.H01-260302-0001"
CODE2 = "000.00.12.H01-260302-0002"
UNIT = ["91001", "91"]
OFFICER = Principal(subject="officer-1", name="Cán bộ A", roles=frozenset({Role.RECEPTION_OFFICER}),
                    unit_code="91001")
ELSEWHERE = Principal(subject="officer-9", roles=frozenset({Role.RECEPTION_OFFICER}), unit_code="92001")
PROVINCE = Principal(subject="admin", roles=frozenset({Role.PROVINCE_ADMIN}), unit_code="91")


class Harness:
    def __init__(self, tmp_path: Path, **config: object) -> None:
        self.tmp = tmp_path
        self.repo = FakeRepository()
        self.store = FakeStore()
        self.clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        self.woken = 0
        settings: dict[str, object] = {
            "limits": ScanLimits(max_pages=10),
            "retention": RetentionPolicy(default_days=30, by_procedure={"short": 1}),
            "pepper": b"pepper", "delete_grace": timedelta(minutes=10),
        }
        settings.update(config)
        self.service = ScanService(self.repo, self.store,
                                   functools.partial(prepare_document, use_pdftoppm=False),
                                   ScanConfig(**settings),  # type: ignore[arg-type]
                                   clock=self.clock, wake=self._wake)
        self.counter = 0

    def _wake(self) -> None:
        self.woken += 1

    def files(self, *items: tuple[str, bytes]) -> tuple[list[SpooledFile], Path]:
        self.counter += 1
        work = self.tmp / f"w{self.counter}"
        work.mkdir()
        out = []
        for index, (name, data) in enumerate(items):
            path = work / f"part-{index}"
            path.write_bytes(data)
            out.append(SpooledFile(index, "files", name, path, len(data), hashlib.sha256(data).hexdigest(),
                                   data[:1024]))
        return out, work

    async def upload(self, *items: tuple[str, bytes], code: str = CODE, component: str = "to_khai",
                     kind: DocumentKind = DocumentKind.COMPONENT, principal: Principal = OFFICER,
                     unit_path: str = "91001,91", **fields: str) -> UploadOutcome:
        files, work = self.files(*items)
        request = UploadRequest.from_form(code, component, kind, {
            "unit_path": unit_path, "owner_id": samples.OWNER_ID, **fields}, [f.filename for f in files])
        return await self.service.upload(principal, request, files, work)


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


PAGES = (("1.jpg", samples.jpeg()), ("2.png", samples.png()))


async def test_upload_stores_object_thumbnail_record_and_two_events(h: Harness) -> None:
    outcome = await h.upload(*PAGES, owner_phone=samples.PHONE, procedure_code="short")
    record = outcome.record
    assert outcome.created and outcome.new_object
    assert record.pages == 2 and record.unit_code == "91001" and record.status == DocumentStatus.ACTIVE
    assert record.object_key == f"units/91001/sha256/{record.sha256}"
    assert h.store.objects[record.object_key].startswith(b"%PDF-")
    assert h.store.objects[record.thumbnail_key or ""].startswith(b"\x89PNG")
    assert record.retention_until == h.clock.now + timedelta(days=1)
    assert samples.OWNER_ID not in record.model_dump_json()
    stored, digitised = h.repo.outbox
    assert isinstance(stored, DocumentStored) and stored.payload.document_id == record.id
    assert stored.unit_path == UNIT and stored.payload.new_object
    assert isinstance(digitised, ComponentDigitised) and not digitised.payload.reused
    assert h.woken == 1


async def test_identical_upload_is_idempotent(h: Harness) -> None:
    first = await h.upload(*PAGES)
    again = await h.upload(*PAGES)
    assert not again.created and again.record.id == first.record.id
    assert len(h.repo.docs) == 1 and len(h.repo.outbox) == 2 and h.store.puts == 1


async def test_identical_content_in_another_dossier_is_stored_once(h: Harness) -> None:
    first = await h.upload(*PAGES)
    second = await h.upload(*PAGES, code=CODE2)
    assert second.created and not second.new_object
    assert second.record.object_key == first.record.object_key and h.store.puts == 1


async def test_a_new_scan_supersedes_the_component_s_previous_document(h: Harness) -> None:
    first = await h.upload(("1.jpg", samples.jpeg()))
    second = await h.upload(("1.jpg", samples.jpeg(text="rescanned")))
    assert h.repo.docs[first.record.id].status == DocumentStatus.SUPERSEDED
    assert h.repo.docs[first.record.id].superseded_by == second.record.id


async def test_upload_for_another_unit_is_forbidden(h: Harness) -> None:
    with pytest.raises(Forbidden):
        await h.upload(*PAGES, principal=ELSEWHERE)
    assert not h.repo.docs and not h.store.objects


async def test_known_dossiers_are_checked(tmp_path: Path) -> None:
    h = Harness(tmp_path, require_known_dossier=True)
    with pytest.raises(NotFoundError) as err:
        await h.upload(*PAGES)
    assert err.value.code == "unknown_dossier"
    await h.service.on_dossier_received(DossierReceived(
        unit_code="91001", unit_path=UNIT, payload=DossierReceivedPayload(
            dossier_id="d", dossier_code=CODE, procedure_code="1.001193", procedure_name="Khai sinh",
            office_id="o", channel="counter", applicant=ApplicantContact(name="A"), received_at=h.clock.now)))
    assert (await h.upload(*PAGES)).created
    with pytest.raises(ConflictError) as conflict:
        await h.upload(*PAGES, unit_path="91001,91,9")
    assert conflict.value.code == "unit_path_mismatch"


async def test_s3_down_stores_nothing_and_a_retry_succeeds(h: Harness) -> None:
    h.store.down = True
    with pytest.raises(Unavailable) as err:
        await h.upload(*PAGES)
    assert err.value.code == "storage_unavailable"
    assert not h.repo.docs and not h.repo.outbox
    h.store.down = False
    assert (await h.upload(*PAGES)).created


async def test_result_upload_emits_result_digitised(h: Harness) -> None:
    outcome = await h.upload(("kq.pdf", samples.pdf(2)), component="ignored", kind=DocumentKind.RESULT)
    assert outcome.record.component_code == "result"
    assert isinstance(h.repo.outbox[-1], ResultDigitised) and h.repo.outbox[-1].payload.pages == 2


async def test_signed_url_is_audited_and_limited_to_the_unit(h: Harness) -> None:
    record = (await h.upload(*PAGES)).record
    signed = await h.service.issue_url(OFFICER, record.id, client_ip="10.0.0.1")
    assert signed.url.startswith("https://s3.test/units/91001/sha256/") and "ttl=300" in signed.url
    assert signed.expires_at == h.clock.now + timedelta(minutes=5)
    entry = h.repo.audit[-1]
    assert entry.action == AccessAction.DOWNLOAD_URL and entry.actor.subject == "officer-1"
    assert entry.document_id == record.id and entry.client_ip == "10.0.0.1"
    thumb = await h.service.issue_url(PROVINCE, record.id, variant="thumbnail")
    assert "/thumbnails/" in thumb.url and thumb.variant == "thumbnail"
    with pytest.raises(Forbidden):
        await h.service.issue_url(ELSEWHERE, record.id)
    assert len(await h.service.list_access(PROVINCE, document_id=record.id)) == 2
    assert await h.service.list_access(ELSEWHERE) == []


async def test_reuse_of_an_owner_s_document_for_a_new_dossier(h: Harness) -> None:
    source = (await h.upload(*PAGES, component="giay_khai_sinh", valid_until="2030-01-01")).record
    found = await h.service.search_owner_documents(OFFICER, samples.OWNER_ID, None)
    assert [d.id for d in found] == [source.id]
    assert h.repo.audit[-1].action == AccessAction.OWNER_SEARCH
    assert await h.service.search_owner_documents(ELSEWHERE, samples.OWNER_ID, None) == []
    with pytest.raises(Denied) as err:
        await h.service.reuse(OFFICER, CODE2, "giay_khai_sinh", source_document_id=source.id,
                              owner_id=samples.OTHER_OWNER_ID, unit_path=UNIT)
    assert err.value.code == "owner_mismatch"
    outcome = await h.service.reuse(OFFICER, CODE2, "giay_khai_sinh", source_document_id=source.id,
                                    owner_id=samples.OWNER_ID, unit_path="91001,91")
    reused = outcome.record
    assert outcome.created and reused.reused_from == source.id and reused.object_key == source.object_key
    assert reused.dossier_code == CODE2 and h.store.puts == 1
    event = h.repo.outbox[-1]
    assert isinstance(event, ComponentDigitised) and event.payload.reused
    assert event.payload.reused_from_dossier_code == CODE
    again = await h.service.reuse(OFFICER, CODE2, "giay_khai_sinh", source_document_id=source.id,
                                  owner_id=samples.OWNER_ID, unit_path=UNIT)
    assert not again.created


async def test_expired_or_foreign_documents_cannot_be_reused(h: Harness) -> None:
    source = (await h.upload(*PAGES, valid_until="2026-03-01")).record
    assert await h.service.search_owner_documents(OFFICER, samples.OWNER_ID, None) == []
    with pytest.raises(ConflictError) as err:
        await h.service.reuse(OFFICER, CODE2, "to_khai", source_document_id=source.id,
                              owner_id=samples.OWNER_ID, unit_path=UNIT)
    assert err.value.code == "document_expired"
    with pytest.raises(NotFoundError):
        await h.service.reuse(ELSEWHERE, CODE2, "to_khai", source_document_id=source.id,
                              owner_id=samples.OWNER_ID, unit_path="92001,92")


async def test_public_second_factor_gives_result_links_and_locks_out(h: Harness) -> None:
    await h.upload(("kq.pdf", samples.pdf()), kind=DocumentKind.RESULT, owner_phone=samples.PHONE)
    with pytest.raises(Denied):
        await h.service.public_result_links(CODE2, "1234", None)  # no result for that dossier
    links = await h.service.public_result_links(CODE.lower(), "5678", "203.0.113.9")
    assert len(links) == 1 and links[0].kind == DocumentKind.RESULT
    assert h.repo.audit[-1].action == AccessAction.PUBLIC_DOWNLOAD_URL
    for _ in range(5):
        with pytest.raises(Denied) as err:
            await h.service.public_result_links(CODE, "0000", None)
        assert err.value.code == "second_factor_failed"
    with pytest.raises(TooManyAttempts):
        await h.service.public_result_links(CODE, "1234", None)
    h.clock.advance(minutes=16)
    assert await h.service.public_result_links(CODE, "1234", None)


async def test_retention_deletes_expired_documents_and_unused_objects(h: Harness) -> None:
    short = (await h.upload(("1.jpg", samples.jpeg()), procedure_code="short")).record
    shared = (await h.upload(*PAGES, procedure_code="short", component="a")).record
    keeper = (await h.upload(*PAGES, code=CODE2, component="a")).record  # same object, 30 days
    held = (await h.upload(("k.png", samples.png(text="held")), procedure_code="short", component="b")).record
    await h.service.set_legal_hold(PROVINCE, held.id, "thanh tra 2026")
    h.clock.advance(days=2)
    report = await h.service.run_retention()
    assert sorted(report.deleted_document_ids) == sorted([short.id, shared.id])
    assert h.repo.docs[short.id].status == DocumentStatus.DELETED
    assert h.repo.docs[held.id].status == DocumentStatus.ACTIVE
    assert report.objects_deleted == 1 and report.objects_still_used == 1
    assert short.object_key not in h.store.objects and short.thumbnail_key not in h.store.objects
    assert keeper.object_key in h.store.objects and held.object_key in h.store.objects
    assert [type(e) for e in h.repo.outbox[-2:]] == [DocumentDeleted, DocumentDeleted]
    actions = [e["action"] for e in await h.service.list_retention_log(PROVINCE)]
    assert actions.count("document_deleted") == 2 and actions.count("object_deleted") == 1
    with pytest.raises(ConflictError):
        await h.service.issue_url(OFFICER, short.id)
    assert (await h.service.run_retention()).documents_deleted == 0


async def test_an_object_used_again_recently_is_not_deleted(h: Harness) -> None:
    record = (await h.upload(*PAGES, procedure_code="short")).record
    h.clock.advance(days=2)
    await h.repo.touch_object(record.object_key, record.thumbnail_key, UNIT, h.clock.now)  # an upload starting
    report = await h.service.run_retention()
    assert report.documents_deleted == 1 and report.objects_waiting == 1
    assert record.object_key in h.store.objects
    h.clock.advance(minutes=11)
    assert (await h.service.run_retention()).objects_deleted == 1
    assert record.object_key not in h.store.objects


async def test_upload_waits_while_retention_deletes_the_object(h: Harness) -> None:
    record = (await h.upload(*PAGES, procedure_code="short")).record
    h.clock.advance(days=2)
    await h.service.run_retention()
    h.repo.objects[record.object_key] = {"_id": record.object_key, "lease_until": h.clock.now + timedelta(minutes=1),
                                         "check_after": h.clock.now, "last_ref_at": record.uploaded_at}
    with pytest.raises(Unavailable) as err:
        await h.upload(*PAGES, code=CODE2)
    assert err.value.code == "object_busy"
