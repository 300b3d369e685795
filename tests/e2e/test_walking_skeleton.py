"""One dossier end to end: HTTP → MongoDB + outbox → NATS → notify → SMTP, one trace id."""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Any

import httpx

from services.kit.auth import Role
from services.launcher.stack import Stack
from tests.support import auth, token

OFFICE = "ttpvhcc-long-xuyen"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="30307", name="Lê Thị Thu")


def _dossier(email: str) -> dict[str, Any]:
    return {
        "office_id": OFFICE,
        "procedure_code": "2.000815",
        "applicant": {
            "full_name": "Phạm Văn Đức",
            "id_number": "089203004567",
            "phone": "0987654321",
            "email": email,
            "address": "Phường Long Xuyên",
        },
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Giấy khai sinh", "so_trang": 1, "so_ban": 1},
    }


def _mails(stack: Stack, to: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{stack.endpoints.dev_mailbox_url}/messages", params={"to": to}, timeout=5)
    r.raise_for_status()
    data: list[dict[str, Any]] = r.json()
    return data


def _wait_for_mails(stack: Stack, to: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    mails: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        mails = _mails(stack, to)
        if len(mails) >= count:
            return mails
        time.sleep(0.2)
    return mails


def test_dossier_to_mail_with_one_trace_id(stack: Stack) -> None:
    intake, notify, portal = (stack.running[n].url for n in ("intake", "notify", "portal"))
    email = f"duc.{uuid.uuid4().hex[:8]}@example.vn"
    trace_id = uuid.uuid4().hex
    headers = {**OFFICER, "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    started = time.monotonic()
    r = httpx.post(f"{intake}/dossiers", json=_dossier(email), headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    assert r.headers["x-trace-id"] == trace_id
    code = r.json()["code"]

    mails = _wait_for_mails(stack, email, 1, timeout=10)
    assert len(mails) == 1, "the receipt e-mail must arrive within 10 s"
    assert time.monotonic() - started < 10
    assert code in mails[0]["subject"] and code in mails[0]["body"]
    time.sleep(1.5)
    assert len(_mails(stack, email)) == 1, "exactly once"

    deliveries = httpx.get(
        f"{notify}/deliveries", params={"dossier_code": code}, headers=auth(Role.INSPECTOR, unit_code="91"), timeout=5
    ).json()
    deliveries = [d for d in deliveries if d["channel"] == "email"]  # SMS/Zalo go to the simulators
    assert len(deliveries) == 1
    assert deliveries[0]["status"] == "sent" and deliveries[0]["trace_id"] == trace_id

    # the portal shows health, the dossier and the dev mailbox
    health = httpx.get(f"{portal}/health", timeout=10)
    assert health.status_code == 200 and health.text.count("Sẵn sàng") == 5
    page = httpx.get(
        f"{portal}/dossiers/{code}", cookies={"motcua_token": token(Role.INSPECTOR, unit_code="91")}, timeout=10
    )
    assert page.status_code == 200 and code in page.text and trace_id in page.text
    box = httpx.get(f"{portal}/dev/mailbox", timeout=10)
    assert box.status_code == 200 and f"Đã tiếp nhận hồ sơ {code}" in box.text


def test_notify_killed_with_pending_events_still_sends_each_mail_once(stack: Stack) -> None:
    intake = stack.running["intake"].url
    notify = stack.running["notify"]
    old_pid, restarts = notify.process.pid, notify.restarts
    emails = [f"kill.{i}.{uuid.uuid4().hex[:6]}@example.vn" for i in range(12)]
    with httpx.Client(timeout=10) as client:
        for i, email in enumerate(emails):
            r = client.post(f"{intake}/dossiers", json=_dossier(email), headers=OFFICER)
            assert r.status_code == 201, r.text
            if i == 3:
                assert old_pid is not None
                os.kill(old_pid, signal.SIGKILL)  # events still pending for the rest
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and (notify.restarts == restarts or not notify.process.alive()):
        time.sleep(0.2)
    assert notify.restarts == restarts + 1 and notify.process.pid != old_pid, "the launcher restarts notify"
    for email in emails:
        assert len(_wait_for_mails(stack, email, 1, timeout=40)) == 1, email
    time.sleep(2)
    counts = {email: len(_mails(stack, email)) for email in emails}
    assert set(counts.values()) == {1}, counts
