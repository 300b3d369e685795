"""The whole counter story in Chromium, page by page, with a screenshot of each page
(var/screenshots/) and no console error anywhere:

kiosk ticket → the counter calls it (keyboard) → the display board shows the call live (its
feed is cut every 4 s in this stack, so later updates prove it reconnects by itself) →
the officer receives a dossier (procedure, checklist and due date first, applicant, a scanned
page, No-writing day) → the slip PDF downloads → fees: VietQR shown, then cash and the receipt
→ the citizen tracks the dossier on a phone (the slip's QR link + 4 digits) → the specialist
processes and resolves it, the result is ready with a pager → the board shows the result →
the citizen sees it and rates the service → the officer returns the result → the dashboard
draws its charts and exports CSV with progress.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from pypdf import PdfReader

from services.kit.auth import Role
from tests.browser.support import SCREENSHOTS, Site

pytestmark = pytest.mark.browser

OFFICE = "ttpvhcc-long-xuyen"
COUNTER = "lx-q1"
PROCEDURE = "2.000815"  # certified copy: a fee of 2,000 đồng, eligible for No-writing and No-appointment days
PHONE = "0912345678"
CITIZEN_ID = "089203004567"
TIMEOUT_MS = 10_000


class Tab:
    """A page that records console errors and page errors, and takes named screenshots."""

    def __init__(self, context: BrowserContext, name: str) -> None:
        self.name = name
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def shot(self, step: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{step}.png"), full_page=True)

    def clean(self) -> None:
        assert not self.errors, f"console errors on {self.name}: {self.errors}"


@pytest.fixture
def contexts(browser: Browser, site: Site) -> Iterator[Callable[..., BrowserContext]]:
    made: list[BrowserContext] = []

    def make(role: Role | None = None, unit_code: str = "30307", **options: Any) -> BrowserContext:
        context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
        if role is not None:
            context.add_cookies([{"name": "motcua_token", "value": site.token(role, unit_code), "url": site.portal}])
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def _scan_png() -> bytes:
    image = Image.new("RGB", (620, 877), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 580, 120), outline="black", width=3)
    draw.text((60, 70), "BANG TOT NGHIEP - BAN CHINH", fill="black")
    for y in range(180, 800, 40):
        draw.line((60, y, 560, y), fill="gray", width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _wait_reload(page: Page, selector: str, timeout_s: float = 15.0) -> None:
    """Reload until `selector` shows (state changed by an event another service handled)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator(selector).count():
            return
        page.wait_for_timeout(400)
        page.reload()
    expect(page.locator(selector).first).to_be_visible()


def test_counter_story(site: Site, contexts: Callable[..., BrowserContext], tmp_path: Path) -> None:
    portal = site.portal
    started = time.monotonic()

    def lap(step: str) -> None:  # printed with the failure report: where the time went
        print(f"{time.monotonic() - started:6.1f}s  {step}")

    lap("the hall: the TV board follows the live ")
    # ---- the hall: the TV board follows the live feed; a citizen takes a ticket at the kiosk
    board = Tab(contexts(viewport={"width": 1600, "height": 900}), "board")
    board.page.goto(f"{portal}/bang-hien-thi/{OFFICE}")
    expect(board.page.locator("#conn")).to_have_text("Đang cập nhật")

    kiosk = Tab(contexts(viewport={"width": 1080, "height": 1600}), "kiosk")
    kiosk.page.goto(f"{portal}/kiosk/{OFFICE}")
    kiosk.shot("01-kiosk")
    kiosk.page.click("#field-chung_thuc")
    number = kiosk.page.locator("#ticket-number").inner_text().strip()
    assert re.fullmatch(r"[A-Z]{1,2}\d{3,}", number), number
    expect(kiosk.page.locator("#ahead")).to_contain_text(re.compile("ông/bà", re.IGNORECASE))
    kiosk.shot("02-kiosk-ticket")
    kiosk.clean()

    lap("the counter officer signs in (dev login)")
    # ---- the counter officer signs in (dev login) and calls the next number with the keyboard
    officer = Tab(contexts(viewport={"width": 1366, "height": 900}), "desk")
    desk = officer.page
    desk.goto(f"{portal}/dang-nhap?next=/quay")
    desk.fill("#login-name", "Lê Thị Thu")
    desk.select_option("#login-role", "reception_officer")
    desk.fill("#login-unit", "30307")
    desk.click("#login-form button[type=submit]")
    expect(desk).to_have_url(re.compile(r"/quay$"))
    desk.click(f"#counter-{COUNTER}")
    current = desk.locator("#current-number")
    for _ in range(10):  # numbers left over by an earlier run (BROWSER_STACK_DATA_DIR) are marked absent
        if current.count() and current.inner_text() == number:
            break
        if current.count():
            with desk.expect_navigation():
                desk.keyboard.press("v")
        with desk.expect_navigation():
            desk.keyboard.press("n")
    expect(current).to_have_text(number)
    expect(desk.locator("#flash")).to_contain_text(number)

    # the board shows the call within seconds, without reloading
    tile = board.page.locator(f'[data-counter="{COUNTER}"] [data-role="number"]')
    expect(tile).to_have_text(number, timeout=8000)
    expect(board.page.locator("#last-calls li").first).to_contain_text(number)
    board.shot("03-board-call")

    desk.keyboard.press("s")
    expect(desk.locator("#current-status")).to_have_text("Đang phục vụ")
    officer.shot("04-desk")

    lap("reception: the procedure first, then its")
    # ---- reception: the procedure first, then its checklist and due date, before accepting
    desk.keyboard.press("t")
    desk.select_option("#procedure", PROCEDURE)
    expect(desk.locator("#due-at")).to_be_visible()
    due_text = desk.locator("#due-at").inner_text()
    assert re.search(r"\d{2}:\d{2} \d{2}/\d{2}/\d{4}", due_text), due_text
    expect(desk.locator("#checklist")).to_contain_text("Bản chính")
    desk.fill("#a-name", "Nguyễn Văn An")
    desk.fill("#a-id", CITIZEN_ID)
    desk.fill("#a-phone", PHONE)
    desk.fill("#a-email", "an.nguyen@example.vn")
    desk.fill("#a-address", "Phường Long Xuyên, An Giang")
    desk.fill("[name='form.ten_giay_to']", "Bằng tốt nghiệp trung học phổ thông")
    desk.fill("[name='form.so_trang']", "1")
    desk.fill("[name='form.so_ban']", "2")
    scan = tmp_path / "ban-chinh.png"
    scan.write_bytes(_scan_png())
    desk.set_input_files("[name='file.ban_chinh']", str(scan))
    if desk.locator("#no-writing").count():  # a No-writing day (Tue/Wed in the sample data)
        desk.check("#no-writing")
        desk.select_option("#confirmation", "fingerprint")
    officer.shot("05-desk-reception")
    desk.locator("#a-address").press("Control+Enter")

    lap("after reception: the code, the slip PDF,")
    # ---- after reception: the code, the slip PDF, the fees
    expect(desk.locator("#dossier-code")).to_be_visible()
    code = desk.locator("#dossier-code").inner_text().strip()
    assert re.fullmatch(r"000\.01\.30\.H01-\d{6}-\d{4}", code), code
    slip_href = desk.locator("#slips a").first.get_attribute("href")
    assert slip_href and slip_href.endswith("/phieu/01.pdf")
    slip = desk.request.get(f"{portal}{slip_href}")
    assert slip.status == 200 and slip.headers["content-type"] == "application/pdf"
    assert slip.body()[:4] == b"%PDF"
    assert code in _pdf_text(slip.body())

    _wait_reload(desk, "#pay-vietqr")
    desk.click("#pay-vietqr")
    qr = desk.locator("#vietqr img")
    expect(qr).to_be_visible()
    assert desk.evaluate("(img) => img.complete && img.naturalWidth > 0", qr.element_handle())
    officer.shot("06-desk-vietqr")
    desk.click("#pay-cash")
    _wait_reload(desk, "#receipt-link")
    receipt = desk.request.get(f"{portal}{desk.locator('#receipt-link').get_attribute('href')}")
    assert receipt.status == 200 and receipt.body()[:4] == b"%PDF"
    thumb = desk.locator("#documents img").first
    expect(thumb).to_be_visible()
    desk.wait_for_function("() => [...document.querySelectorAll('#documents img')].every(i => i.naturalWidth > 0)")
    officer.shot("07-desk-result")
    desk.click("#finish-ticket")
    expect(desk.locator("#no-current")).to_be_visible()
    officer.clean()

    lap("the citizen follows the slip's QR link o")
    # ---- the citizen follows the slip's QR link on a phone
    phone = Tab(contexts(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True), "tracking")
    phone.page.goto(f"{portal}/tra-cuu?code={code}")
    expect(phone.page.locator("#code")).to_have_value(code)
    phone.page.fill("#last4", PHONE[-4:])
    phone.page.click("#lookup-submit")
    expect(phone.page.locator("#result-code")).to_have_text(code)
    expect(phone.page.locator("#public-timeline li").first).to_contain_text("Đã tiếp nhận")
    phone.shot("08-tracking")

    lap("the specialist processes and resolves it")
    # ---- the specialist processes and resolves it; the result is ready with a pager
    specialist = Tab(contexts(Role.SPECIALIST, viewport={"width": 1366, "height": 900}), "dossier")
    page = specialist.page
    page.goto(f"{portal}/ho-so/{code}")
    _wait_reload(page, "#action-resolve, #action-start_processing")  # once the payment event resumed the clock
    for action in ("start_processing", "resolve"):
        if action == "start_processing" and not page.locator("#action-start_processing").count():
            continue  # already processing (a No-appointment dossier goes straight on)
        page.click(f"#action-{action} summary")
        page.click(f"#do-{action}")
        expect(page.locator("#flash")).to_be_visible()
    page.click("#action-result_ready summary")
    page.fill("#result_ready-pager_number", "15")
    page.click("#do-result_ready")
    expect(page.locator("#status")).to_have_text("Có kết quả, chờ trả")
    expect(page.locator("#documents img").first).to_be_visible()
    specialist.shot("09-dossier")
    specialist.clean()

    ready = board.page.locator(f'#results-ready li[data-number="{number}"]')  # shown under the ticket's number
    expect(ready).to_have_count(1, timeout=8000)
    board.shot("10-board-result")

    lap("the citizen sees the result is ready and")
    # ---- the citizen sees the result is ready and rates the service
    phone.page.goto(f"{portal}/tra-cuu?code={code}")
    phone.page.fill("#last4", PHONE[-4:])
    phone.page.click("#lookup-submit")
    expect(phone.page.locator("#result-ready")).to_be_visible()
    phone.page.check("#level-very_satisfied")
    phone.page.fill("#comment", "Cán bộ hướng dẫn tận tình.")
    phone.page.click("#rating-submit")
    expect(phone.page.locator("#notice")).to_contain_text("Cảm ơn")
    phone.shot("11-tracking-rated")
    phone.clean()

    lap("the officer hands the result back at the")
    # ---- the officer hands the result back at the counter; it leaves the board
    desk.goto(f"{portal}/ho-so/{code}")
    desk.click("#action-return summary")
    desk.click("#do-return")
    expect(desk.locator("#status")).to_have_text("Đã trả kết quả")
    expect(ready).to_have_count(0, timeout=8000)
    desk.goto(f"{portal}/ho-so")
    expect(desk.locator("#inbox")).to_contain_text(code)
    officer.shot("12-inbox")
    officer.clean()
    board.clean()

    lap("the province's dashboard: charts and an ")
    # ---- the province's dashboard: charts and an export with progress
    admin = Tab(contexts(Role.PROVINCE_ADMIN, unit_code="91", accept_downloads=True), "dashboard")
    admin.page.goto(f"{portal}/thong-ke")
    expect(admin.page.locator("#kpis")).to_be_visible()
    assert admin.page.locator("svg.chart").count() >= 5
    with admin.page.expect_download() as download:
        admin.page.click("#export-csv")
    csv_path = tmp_path / "chi-so.csv"
    download.value.save_as(csv_path)
    assert "Tổng số hồ sơ" in csv_path.read_text(encoding="utf-8-sig")
    expect(admin.page.locator("#export-text")).to_contain_text("Đã tải xong")
    admin.shot("13-dashboard")
    admin.clean()

    assert time.monotonic() - started < 75, "the story should stay quick"


def test_security_basics(site: Site, contexts: Callable[..., BrowserContext]) -> None:
    """Headers on every page; a POST without the CSRF token is refused; cookies are strict."""
    context = contexts()
    tab = Tab(context, "security")
    response = tab.page.goto(f"{site.portal}/tra-cuu")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    csrf = next(c for c in context.cookies() if c["name"] == "motcua_csrf")
    assert csrf["httpOnly"] and csrf["sameSite"] == "Strict"
    forged = tab.page.request.post(
        f"{site.portal}/kiosk/{OFFICE}/lay-so",
        form={"field_code": "ho_tich", "csrf_token": "forged-token-000000000000"},
    )
    assert forged.status == 403
    tab.page.goto(f"{site.portal}/dang-nhap")
    tab.page.click("#login-form button[type=submit]")
    token = next(c for c in context.cookies() if c["name"] == "motcua_token")
    assert token["httpOnly"] and token["sameSite"] == "Strict"
    tab.clean()


def test_a_persons_data_requests_at_the_counter(
    site: Site, contexts: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    """Consents per purpose, the export file, a deletion request refused while the procedure is
    open (with the reason), and the decision in the unit's list for the inspector."""
    person = f"0892030{int(time.time() * 1000) % 10**5:05d}"
    officer_token = site.token(Role.RECEPTION_OFFICER)
    body = {
        "office_id": OFFICE,
        "procedure_code": PROCEDURE,
        "applicant": {"full_name": "Đặng Thị Lan", "id_number": person, "phone": "0987111222"},
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Giấy khai sinh", "so_trang": 1, "so_ban": 1},
    }
    created = httpx.post(f"{site.urls['intake']}/dossiers", json=body,
                         headers={"Authorization": f"Bearer {officer_token}"}, timeout=15)
    assert created.status_code == 201, created.text
    code = created.json()["code"]

    officer = Tab(contexts(Role.RECEPTION_OFFICER, accept_downloads=True), "privacy")
    page = officer.page
    page.goto(f"{site.portal}/ho-so")
    page.click("#nav-privacy")
    page.fill("#id_number", "12345")  # the browser holds a short number back; the page says why if it gets one
    expect(page.locator("#id_number")).to_have_js_property("validity.valid", False)
    page.fill("#id_number", person)
    page.click("#person-lookup")
    expect(page.locator("#person-masked")).to_have_text(f"{person[:3]}*******{person[-2:]}")
    expect(page.locator("#consent-survey")).to_contain_text("Chưa hỏi")
    page.click("#consent-survey-toggle")
    expect(page.locator("#privacy-notice")).to_contain_text("Khảo sát mức độ hài lòng — Đồng ý")
    expect(page.locator("#consent-survey")).to_contain_text("Đồng ý")
    officer.shot("14-privacy-consents")

    page.fill("#export-reference", "YC-2026/015")
    with page.expect_download() as download:
        page.click("#export-submit")
    name = download.value.suggested_filename
    assert name.startswith("du-lieu-ca-nhan-") and name.endswith("-YC-2026-015.json") and person not in name
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    export = json.loads(saved.read_text(encoding="utf-8"))
    assert export["applicant"]["id_number"] == person and [d["code"] for d in export["dossiers"]] == [code]
    assert [c["purpose"] for c in export["consents"]["current"] if c["granted"]] == ["survey"]

    page.fill("#deletion-reason", "Không muốn cơ quan lưu thông tin")
    page.click("#deletion-submit")  # not confirmed: the browser asks for the signed form first
    expect(page.locator("#deletion-decision")).to_have_count(0)
    page.check("#deletion-confirm")
    page.click("#deletion-submit")
    expect(page.locator("#decision-outcome")).to_have_text("Từ chối xoá")
    expect(page.locator("#decision-dossiers")).to_contain_text(code)
    expect(page.locator("#decision-dossiers")).to_contain_text("Thủ tục đang giải quyết")
    expect(page.locator("#decision-consents")).to_contain_text("Khảo sát mức độ hài lòng")  # optional consents end
    officer.shot("15-privacy-deletion-refused")
    officer.clean()

    inspector = Tab(contexts(Role.INSPECTOR), "privacy-inspector")
    inspector.page.goto(f"{site.portal}/du-lieu-ca-nhan")
    expect(inspector.page.locator("#person-form")).to_have_count(0)  # inspectors read, they do not act
    expect(inspector.page.locator("#deletion-decisions")).to_contain_text("Từ chối xoá")
    assert person not in inspector.page.content()
    inspector.clean()
