"""Personal data through intake's HTTP API against the real servers (DOMAIN §9): the read audit
trail and its inspector query, consents per purpose, export of a person's data, deletion requests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.launcher.servers import Endpoints
from tests.integration.test_intake_processing import (
    RECEPTION,
    applicant,
    at,
    birth_request,
    dossier_events,
    post_ok,
    receive,
    set_clock,
)
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.integration

PERSON = "089203004567"  # the applicant of tests.integration.test_intake_processing.applicant()
OTHER = "001204012345"
OTHER_NAME = "Hoàng Thị Mai"
INSPECTOR_AG = auth(Role.INSPECTOR, unit_code="91", subject="insp-ag", name="Thanh tra An Giang")
INSPECTOR_HN = auth(Role.INSPECTOR, unit_code="01", subject="insp-hn")
INSPECTOR_CD = auth(Role.INSPECTOR, unit_code="30316", subject="insp-cd")
UNIT_ADMIN_LX = auth(Role.UNIT_ADMIN, unit_code="30307", subject="admin-lx")
PROVINCE_ADMIN = auth(Role.PROVINCE_ADMIN, unit_code="91", subject="admin-ag")
CD_RECEPTION = auth(Role.RECEPTION_OFFICER, unit_code="30316", subject="rec-cd")
SPECIALIST_LX = auth(Role.SPECIALIST, unit_code="30307", subject="spec-lx", name="Trần Văn Bình")


@pytest.fixture
async def intake(servers: Endpoints) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    settings = settings_for(
        servers, IntakeSettings, durable_suffix=f"-t{uuid.uuid4().hex[:8]}", dossier_retention_days=30.0
    )
    app = create_app(settings)
    async with running_app(app) as client:
        yield client, app


async def get_ok(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any) -> Any:
    r = await client.get(url, headers=headers, params=params)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text}"
    return r.json()


async def test_every_read_of_a_dossier_is_audited_and_inspectors_see_their_units_only(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    d = await receive(client, app, at(12, 9), birth_request())
    set_clock(app, at(12, 10))
    await get_ok(client, f"/dossiers/{d['id']}", SPECIALIST_LX)
    set_clock(app, at(12, 10, 1))
    await get_ok(client, f"/dossiers/by-code/{d['code']}", SPECIALIST_LX)
    set_clock(app, at(12, 10, 2))
    await get_ok(client, f"/dossiers/{d['id']}/timeline", SPECIALIST_LX)
    set_clock(app, at(12, 10, 3))
    slip = await client.get(f"/dossiers/{d['id']}/slips/01.pdf", headers=SPECIALIST_LX)
    assert slip.status_code == 200
    set_clock(app, at(12, 10, 4))
    inbox = await get_ok(client, "/dossiers", SPECIALIST_LX)
    assert d["id"] in [i["id"] for i in inbox]
    # a denied read shows nothing and records nothing
    assert (await client.get(f"/dossiers/{d['id']}", headers=CD_RECEPTION)).status_code == 403

    # the province's inspector: every read of the dossier, newest first, who / role / unit / when / what
    page = await get_ok(client, f"/audit/dossiers/{d['code']}", INSPECTOR_AG)
    reads = [r for r in page["items"] if r["subject"] == "spec-lx"]
    assert [r["action"] for r in reads] == [
        "dossier_list", "slip_read", "timeline_read", "dossier_read", "dossier_read"]
    assert [r["endpoint"] for r in reads][-2:] == ["get_dossier_by_code", "get_dossier"]
    detail = reads[-1]
    assert detail["endpoint"] == "get_dossier" and detail["purpose"] == "case_handling"
    assert detail["roles"] == ["specialist"] and detail["unit_code"] == "30307" and detail["name"] == "Trần Văn Bình"
    assert detail["dossier_ids"] == [d["id"]] and detail["dossier_codes"] == [d["code"]]
    assert detail["at"].startswith("2026-01-12T03:00:00")  # 10:00 in Vietnam, the service's clock
    assert {"30307", "91"} <= set(detail["scope"])
    assert reads[0]["detail"]["count"] >= 1 and reads[1]["detail"] == {"form": "01"}
    assert not any(r["subject"] == "rec-cd" for r in page["items"])

    # queries: by dossier code, by subject, by time range, paginated
    by_subject = await get_ok(client, "/audit/reads", INSPECTOR_AG, subject="spec-lx")
    assert len(by_subject["items"]) == 5 and by_subject["next_skip"] is None
    first = await get_ok(client, "/audit/reads", INSPECTOR_AG, subject="spec-lx", limit=2)
    second = await get_ok(client, "/audit/reads", INSPECTOR_AG, subject="spec-lx", limit=2, skip=2)
    assert first["next_skip"] == 2 and second["next_skip"] == 4
    assert {r["id"] for r in first["items"]}.isdisjoint({r["id"] for r in second["items"]})
    by_code = await get_ok(client, "/audit/reads", INSPECTOR_AG, dossier_code=d["code"].lower())
    assert len(by_code["items"]) == 5
    window = {"since": at(12, 9, 30).isoformat(), "until": at(12, 11).isoformat()}
    assert len((await get_ok(client, "/audit/reads", INSPECTOR_AG, subject="spec-lx", **window))["items"]) == 5
    before = {"until": at(12, 9, 30).isoformat()}
    assert (await get_ok(client, "/audit/reads", INSPECTOR_AG, subject="spec-lx", **before))["items"] == []
    backwards = await client.get("/audit/reads", headers=INSPECTOR_AG,
                                 params={"since": at(12, 11).isoformat(), "until": at(12, 9).isoformat()})
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_range"
    # the commune's administrator too
    assert len((await get_ok(client, f"/audit/dossiers/{d['code']}", UNIT_ADMIN_LX))["items"]) == 5

    # another province's inspector, or the sibling commune's: refused for the dossier, nothing in lists
    other = await client.get(f"/audit/dossiers/{d['code']}", headers=INSPECTOR_HN)
    assert other.status_code == 403 and other.json()["error"]["code"] == "unit_not_allowed"
    sibling = await client.get(f"/audit/dossiers/{d['code']}", headers=INSPECTOR_CD)
    assert sibling.status_code == 403
    assert (await get_ok(client, "/audit/reads", INSPECTOR_HN, dossier_code=d["code"]))["items"] == []
    assert (await get_ok(client, "/audit/reads", INSPECTOR_CD, subject="spec-lx"))["items"] == []
    # officers who are not inspectors or administrators may not query the trail
    denied = await client.get("/audit/reads", headers=SPECIALIST_LX)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_not_allowed"

    # the applicant registry's reads land in the same trail
    await get_ok(client, "/applicants", SPECIALIST_LX, q=PERSON)
    registry = await get_ok(client, "/audit/reads", INSPECTOR_AG, action="applicant_search")
    assert [r["subject"] for r in registry["items"]] == ["spec-lx"]
    # the public lookup shows the status only and is not recorded
    assert (await client.get("/public/lookup", params={"code": d["code"], "last4": "4321"})).status_code == 200
    assert len((await get_ok(client, f"/audit/dossiers/{d['code']}", INSPECTOR_AG))["items"]) == 5


async def test_consent_is_granted_and_withdrawn_per_purpose_with_its_history(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    set_clock(app, at(12, 9))
    empty = await post_ok(client, "/privacy/consents/lookup", {"id_number": PERSON}, RECEPTION)
    assert empty["person"] == "089*******67" and empty["history"] == []
    assert {c["purpose"]: c["granted"] for c in empty["consents"]} == {
        "notifications": False, "document_reuse": False, "survey": False}

    grant = {"id_number": "089 203 004 567", "purpose": "notifications", "granted": True, "note": "nói tại quầy"}
    granted = await post_ok(client, "/privacy/consents", grant, RECEPTION)
    assert granted["changed"] is True
    state = {c["purpose"]: c for c in granted["consents"]}
    assert state["notifications"]["granted"] is True and state["notifications"]["recorded_by_unit"] == "30307"
    assert state["survey"]["granted"] is False
    again = await post_ok(client, "/privacy/consents", grant, RECEPTION)
    assert again["changed"] is False and len(again["history"]) == 1

    set_clock(app, at(13, 9))
    await post_ok(client, "/privacy/consents", {**grant, "purpose": "survey"}, CD_RECEPTION)
    withdrawn = await post_ok(client, "/privacy/consents", {**grant, "granted": False}, RECEPTION)
    state = {c["purpose"]: c["granted"] for c in withdrawn["consents"]}
    assert state == {"notifications": False, "document_reuse": False, "survey": True}
    assert [(e["purpose"], e["granted"]) for e in withdrawn["history"]] == [
        ("notifications", True), ("survey", True), ("notifications", False)]
    assert all(PERSON not in str(e) for e in withdrawn["history"])  # masked in every answer
    assert (await client.post("/privacy/consents", json={**grant, "purpose": "marketing"},
                              headers=RECEPTION)).status_code == 422
    bad_id = await client.post("/privacy/consents", json={**grant, "id_number": "12345"}, headers=RECEPTION)
    assert bad_id.status_code == 422 and bad_id.json()["error"]["code"] == "validation_error"
    # reading the answers is audited; the inspector may not record consents
    await post_ok(client, "/privacy/consents/lookup", {"id_number": PERSON}, RECEPTION)
    reads = await get_ok(client, "/audit/reads", INSPECTOR_AG, action="consent_read")
    assert [r["person"] for r in reads["items"]] == ["089*******67", "089*******67"]
    assert (await client.post("/privacy/consents", json=grant, headers=INSPECTOR_AG)).status_code == 403


async def test_export_holds_the_persons_data_and_nothing_of_anyone_else(
    intake: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = intake
    mine = await receive(client, app, at(12, 9), birth_request())
    theirs = await receive(client, app, at(12, 10), birth_request(
        applicant=applicant(full_name=OTHER_NAME, id_number=OTHER, phone="0912 345 678")))
    await post_ok(client, "/feedback", {
        "name": "Nguyễn Văn Ánh", "address": "Phường Long Xuyên", "phone": "0987654321",
        "summary": "Hỏi tiến độ hồ sơ khai sinh", "dossier_code": mine["code"]}, RECEPTION)
    await post_ok(client, "/feedback", {
        "name": OTHER_NAME, "address": "Phường Long Xuyên", "phone": "0912345678",
        "summary": "Hỏi tiến độ hồ sơ của tôi", "dossier_code": theirs["code"]}, RECEPTION)
    await post_ok(client, "/counter/ratings", {"dossier_code": mine["code"], "level": "very_satisfied"}, RECEPTION)
    await post_ok(client, "/privacy/consents", {"id_number": PERSON, "purpose": "survey", "granted": True}, RECEPTION)

    set_clock(app, at(14, 9))
    r = await client.post("/privacy/exports", json={"id_number": PERSON, "request_reference": "YC-001"},
                          headers=RECEPTION)
    assert r.status_code == 200, r.text
    export = r.json()
    assert export["format"] == "motcua.person-export/1" and export["scope_unit"] == "30307"
    assert export["applicant"]["id_number"] == PERSON and export["applicant"]["name"] == "Nguyễn Văn Ánh"
    assert [x["code"] for x in export["dossiers"]] == [mine["code"]]
    assert export["dossiers"][0]["form_data"]["ho_ten"] == "Trần Minh Khôi"
    assert [f["summary"] for f in export["feedback"]] == ["Hỏi tiến độ hồ sơ khai sinh"]
    assert [x["dossier_code"] for x in export["ratings"]] == [mine["code"]]
    assert [c["purpose"] for c in export["consents"]["current"] if c["granted"]] == ["survey"]
    assert export["dossiers_at_other_units"] == 0
    text = r.text
    for foreign in (theirs["code"], theirs["id"], OTHER, OTHER_NAME, "0912345678"):
        assert foreign not in text
    # the export itself is audited, with the dossiers it showed
    audit = await get_ok(client, "/audit/reads", INSPECTOR_AG, action="person_export")
    [record] = audit["items"]
    assert record["subject"] == "rec-lx" and record["dossier_codes"] == [mine["code"]]
    assert record["detail"] == {"request_reference": "YC-001", "person": "089*******67"}
    # another commune's officer exports only what their units hold: nothing of this person here
    elsewhere = await post_ok(client, "/privacy/exports", {"id_number": PERSON}, CD_RECEPTION)
    assert elsewhere["dossiers"] == [] and elsewhere["applicant"] is None and elsewhere["feedback"] == []
    assert elsewhere["dossiers_at_other_units"] == 1 and mine["code"] not in str(elsewhere)
    assert (await client.post("/privacy/exports", json={"id_number": PERSON},
                              headers=INSPECTOR_AG)).status_code == 403


async def test_deletion_is_refused_while_state_processing_is_required_and_the_reason_recorded(
    intake: tuple[httpx.AsyncClient, FastAPI], nc: NatsClient
) -> None:
    client, app = intake
    since = datetime.now(UTC)
    open_dossier = await receive(client, app, at(12, 9), birth_request())
    finished = await receive(client, app, at(12, 10), birth_request())
    await post_ok(client, f"/dossiers/{finished['id']}/withdraw", {"reason": "Người dân rút hồ sơ"}, RECEPTION)
    set_clock(app, at(12, 11))
    online = await post_ok(client, "/public/dossiers", birth_request(), {})
    await post_ok(client, f"/dossiers/{online['id']}/withdraw", {"reason": "Đăng ký nhầm"}, RECEPTION)
    await post_ok(client, "/privacy/consents", {"id_number": PERSON, "purpose": "notifications", "granted": True},
                  RECEPTION)
    complaint = {"name": "Nguyễn Văn Ánh", "address": "12 Trần Hưng Đạo", "phone": "0987654321",
                 "summary": "Hỏi vì sao hồ sơ bị rút", "content": "Tôi là Nguyễn Văn Ánh, số 0987654321",
                 "dossier_code": finished["code"]}
    answered = await post_ok(client, "/feedback", complaint, RECEPTION)
    await post_ok(client, f"/feedback/{answered['id']}/answer", {"text": "Hồ sơ rút theo yêu cầu."}, SPECIALIST_LX)
    still_open = await post_ok(client, "/feedback", complaint | {"summary": "Hỏi lại lần hai"}, RECEPTION)
    await post_ok(client, "/counter/ratings", {"dossier_code": finished["code"], "level": "satisfied",
                                               "comment": "Anh Ánh, 0987654321, hài lòng"}, RECEPTION)

    set_clock(app, at(20, 9))
    request = {"id_number": PERSON, "reason": "Tôi muốn xoá dữ liệu", "request_reference": "YC-002"}
    first = await post_ok(client, "/privacy/deletion-requests", request, RECEPTION)
    assert first["outcome"] == "partially_refused" and first["person"] == "089*******67"
    assert first["refusal_reasons"] == ["legal_retention", "procedure_in_progress"]
    verdicts = {v["dossier_id"]: v for v in first["dossiers"]}
    assert verdicts[open_dossier["id"]]["decision"] == "retain"
    assert verdicts[open_dossier["id"]]["reason"] == "procedure_in_progress"
    kept = verdicts[finished["id"]]
    assert kept["decision"] == "retain" and kept["reason"] == "legal_retention" and kept["retained_until"]
    assert verdicts[online["id"]]["decision"] == "anonymise"  # never received: nothing to keep
    assert first["consents_withdrawn"] == ["notifications"]
    assert any("anonymised" in e for e in first["erased"]) and "consent withdrawn: notifications" in first["erased"]

    # the anonymised registration keeps no personal data; the others keep theirs
    gone = await get_ok(client, f"/dossiers/{online['id']}", RECEPTION)
    assert gone["applicant"]["name"] == "[đã ẩn danh]" and gone["applicant"]["id_masked"] == ""
    assert gone["anonymised_at"]
    consents = await post_ok(client, "/privacy/consents/lookup", {"id_number": PERSON}, RECEPTION)
    assert not any(c["granted"] for c in consents["consents"])
    assert consents["history"][-1]["note"].startswith("deletion request ")

    # past the retention period (30 days here) the finished dossier goes too; the open one stays
    set_clock(app, at(12, 9) + timedelta(days=45))
    second = await post_ok(client, "/privacy/deletion-requests", request, RECEPTION)
    assert second["outcome"] == "partially_refused" and second["refusal_reasons"] == ["procedure_in_progress"]
    decisions = {v["dossier_id"]: v["decision"] for v in second["dossiers"]}
    assert decisions == {open_dossier["id"]: "retain", finished["id"]: "anonymise"}  # the registration is gone
    # the answered feedback about it loses the complainant and their words, the rating its comment;
    # the feedback still being answered keeps the contact it will be answered at
    erased_feedback = await get_ok(client, f"/feedback/{answered['id']}", RECEPTION)
    assert erased_feedback["name"] == "[đã ẩn danh]" and erased_feedback["anonymised_at"]
    assert "0987654321" not in str(erased_feedback) and "Trần Hưng Đạo" not in str(erased_feedback)
    assert erased_feedback["summary"] == "Hỏi vì sao hồ sơ bị rút" and erased_feedback["status"] == "answered"
    kept_open = await get_ok(client, f"/feedback/{still_open['id']}", RECEPTION)
    assert kept_open["phone"] == "0987654321" and kept_open["anonymised_at"] is None
    rating = await app.state.runtime.db["ratings"].find_one({"dossier_id": finished["id"]})
    assert rating is not None and rating["comment"] == "" and rating["level"] == "satisfied"
    assert f"dossier {finished['code']}: complainant erased from 1 settled feedback" in second["erased"]
    assert f"dossier {finished['code']}: rating comment erased" in second["erased"]

    # each anonymised dossier is announced once, so the other services erase their copies; the
    # announcement itself names nobody
    for dossier, request_id in ((online, first["id"]), (finished, second["id"])):
        told = [e for e in await dossier_events(nc, dossier["id"], since, want=1) if e["type"] == "dossier.anonymised"]
        assert len(told) == 1, told
        assert told[0]["payload"]["deletion_request_id"] == request_id
        assert told[0]["payload"]["dossier_code"] == dossier.get("code")
        assert PERSON not in str(told) and "Nguyễn" not in str(told) and "applicant" not in told[0]["payload"]
    kept = await dossier_events(nc, open_dossier["id"], since)
    assert "dossier.anonymised" not in {e["type"] for e in kept} and kept  # its received event, only
    # only the open dossier left: refused outright, with the reason
    set_clock(app, at(12, 9) + timedelta(days=46))
    third = await post_ok(client, "/privacy/deletion-requests", request, RECEPTION)
    assert third["outcome"] == "refused" and third["erased"] == []
    assert third["refusal_reasons"] == ["procedure_in_progress"]

    # the requests and their decisions are recorded for the unit and the province, not elsewhere
    listed = await get_ok(client, "/privacy/deletion-requests", PROVINCE_ADMIN)
    assert [x["outcome"] for x in listed["items"]] == ["refused", "partially_refused", "partially_refused"]
    assert all(x["reason_given"] == "Tôi muốn xoá dữ liệu" and x["by_unit"] == "30307" for x in listed["items"])
    assert PERSON not in str(listed)
    assert (await get_ok(client, "/privacy/deletion-requests", INSPECTOR_CD))["items"] == []
    stored = await app.state.runtime.db["deletion_requests"].count_documents({"person": PERSON})
    assert stored == 3
