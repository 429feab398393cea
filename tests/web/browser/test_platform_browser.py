"""The platform in a real browser: each role's view and nothing more, register a system, scan it
and watch it finish, accept a finding, download a report, hostile text escaped everywhere,
English, a phone, the keyboard.  See conftest.py for the server, the lab and the guards."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from browser_support import LAB_PREFIX, login

pytestmark = pytest.mark.timeout(300)

EVIL = "<script>alert('xss')</script><img src=x onerror=alert(2)>"
IP = re.compile(r"\b127\.\d+\.\d+\.\d+\b")
SCHOOL_SYSTEM = "Camera an ninh trường THPT Nguyễn Du"
WARD_SYSTEM = "Camera giao thông và trật tự phường An Bình"


@pytest.fixture(scope="module")
def ids(server):
    """Organisation and system ids of the seeded province, by key / name."""
    from camaudit.store import orgs, systems

    keys = {"province": "UBND tỉnh Demo", "school": "Trường THPT Nguyễn Du", "ward": "UBND phường An Bình"}
    with server.platform.system() as db:
        by_name = {o["name"]: o["id"] for o in orgs.visible(db)}
        names = {key: by_name[name] for key, name in keys.items()}
        sys_ids = {s["name"]: s["id"] for s in systems.list(db, None)}
    return {"org": names, "system": sys_ids}


def shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def status_of(page, path: str) -> int:
    resp = page.goto(path)
    assert resp is not None
    return resp.status


# role -> (start page pattern, texts that must show, texts that must not, paths that must be 404)
def expectations(ids):
    o, s = ids["org"], ids["system"]
    school, ward = s[SCHOOL_SYSTEM], s[WARD_SYSTEM]
    agency_school = (rf"/orgs/{o['school']}$", [SCHOOL_SYSTEM], [WARD_SYSTEM, "Tổng quan toàn tỉnh"],
                     [f"/orgs/{o['ward']}", f"/systems/{ward}", f"/orgs/{o['province']}"])
    overview = (r"/overview$", ["Tổng quan toàn tỉnh", "Trường THPT Nguyễn Du", "UBND phường An Bình"], [], [])
    aggregates = (r"/stats", ["Thống kê camera", "Hãng sản xuất"], [SCHOOL_SYSTEM, WARD_SYSTEM],
                  ["/overview", f"/orgs/{o['school']}", f"/systems/{school}", f"/systems/{ward}"])
    return {
        "canbo": agency_school,
        "hieutruong": agency_school,
        "phuong": (rf"/orgs/{o['ward']}$", [WARD_SYSTEM], [SCHOOL_SYSTEM],
                   [f"/orgs/{o['school']}", f"/systems/{school}"]),
        "thamdinh": overview,
        "lanhdao": overview,
        "quantri": overview,
        "congan": aggregates,
        "thitruong": aggregates,
        "isp": (rf"/orgs/{o['province']}$", [], ["Tổng quan toàn tỉnh"], []),
    }


USERS = ["canbo", "hieutruong", "phuong", "thamdinh", "lanhdao", "quantri", "congan", "thitruong", "isp"]


@pytest.mark.parametrize("username", USERS)
def test_each_role_sees_its_view_and_nothing_else(page, server, ids, screenshots, dialogs, username):
    start, must, must_not, hidden = expectations(ids)[username]
    login(page, server, username)
    assert re.search(start, page.url.split("?")[0]), f"{username} landed on {page.url}"
    body = page.content()
    for text in must:
        assert text in body, f"{username} does not see {text!r}"
    for text in must_not:
        assert text not in body, f"{username} sees {text!r}"
    shot(page, screenshots, f"start-{username}")
    for path in hidden:
        assert status_of(page, server.url + path) == 404, f"{username} reached {path}"
    if username in ("congan", "thitruong"):  # aggregates only: never an address, in any grouping
        for by in ("vendor", "model", "firmware", "commune"):
            page.goto(f"{server.url}/stats?by={by}")
            text = page.content()
            assert not IP.search(text), f"an address on the {by} statistics page"
            assert "rtsp://" not in text and "password" not in text.lower()
    if username == "lanhdao":  # a viewer: no button that changes anything
        page.goto(f"{server.url}/systems/{ids['system'][SCHOOL_SYSTEM]}")
        assert page.get_by_role("button", name="Quét hệ thống này ngay").count() == 0
        page.goto(f"{server.url}/orgs/{ids['org']['school']}")
        assert page.get_by_role("link", name="Đăng ký hệ thống camera").count() == 0
    assert not dialogs


def test_register_system_hostile_text_escaped_everywhere(page, server, ids, screenshots, dialogs):
    school = ids["org"]["school"]
    login(page, server, "canbo")
    page.goto(f"{server.url}/orgs/{school}")
    page.get_by_role("link", name="Đăng ký hệ thống camera").click()
    labels = ["Tên", "Mục đích sử dụng", "Địa điểm", "Đơn vị quản lý", "Văn bản cho phép rà quét"]
    for label in labels:  # the hint inside a label is part of its accessible name: match the start
        page.get_by_label(re.compile("^" + re.escape(label) + r"(\s|$)")).fill(f"{label} {EVIL}")
    page.get_by_label("Dải địa chỉ").fill(EVIL)  # not an address: refused with a clear message
    page.get_by_label("Số lượng camera").fill("4")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    assert page.locator(".errors").count() >= 1, "a hostile range was not refused"
    assert page.get_by_label("Dải địa chỉ").input_value() == EVIL, "the typed text was lost"
    assert page.get_by_label(re.compile("^Tên")).first.input_value() == f"Tên {EVIL}"
    page.get_by_label("Dải địa chỉ").fill(f"{LAB_PREFIX}.100-{LAB_PREFIX}.120")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url(re.compile(r"/systems/\d+"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Tên {EVIL}"
    shot(page, screenshots, "system-registered")
    for label in labels[1:]:
        assert f"{label} {EVIL}" in page.locator("main").inner_text()
    page.goto(f"{server.url}/orgs/{school}")
    assert f"Tên {EVIL}" in page.locator("main").inner_text()
    # the overview filter echoes its query
    login(page, server, "thamdinh")
    page.goto(f"{server.url}/overview?q=" + EVIL.replace("<", "%3C").replace(">", "%3E").replace("'", "%27"))
    assert page.get_by_label("Tên có chứa").input_value() == EVIL
    page.goto(f"{server.url}/orgs/{school}")
    assert f"Tên {EVIL}" in page.locator("main").inner_text()
    assert not dialogs, f"a script ran: {dialogs}"


def test_scan_live_progress_accept_finding_download_report(page, server, ids, screenshots, dialogs):
    system_id = ids["system"][SCHOOL_SYSTEM]
    login(page, server, "hieutruong")
    page.goto(f"{server.url}/systems/{system_id}")
    shot(page, screenshots, "system")
    polls: list[str] = []
    page.on("response", lambda r: polls.append(r.url) if r.url.endswith("/progress") else None)
    page.get_by_role("button", name="Quét hệ thống này ngay").click()
    page.wait_for_url(re.compile(r"/scans/[\w-]+$"))
    # live: the page polls the progress endpoint and reloads itself when the scan ends
    page.get_by_test_id("scan-status").filter(has_text="Hoàn thành").wait_for(timeout=180_000)
    assert polls, "the page did not poll the scan's progress"
    shot(page, screenshots, "scan-finished")
    with page.expect_download() as dl:
        page.get_by_test_id("report-pdf").click()
    pdf = dl.value.path().read_bytes()
    assert pdf.startswith(b"%PDF"), "the report is not a PDF"
    for fmt, magic in (("xlsx", b"PK"), ("html", b"<!")):
        resp = page.request.get(page.url + f"/report.{fmt}")
        assert resp.status == 200 and resp.body().lstrip()[:2] == magic, fmt
    # findings of the scan, and accepting one
    page.goto(f"{server.url}/systems/{system_id}")
    findings = page.locator("main a[href^='/findings/']")
    assert findings.count() >= 2, "the scan of the lab found fewer than two findings"
    first = findings.nth(0).get_attribute("href")
    second = findings.nth(1).get_attribute("href")
    page.goto(server.url + first)
    shot(page, screenshots, "finding")
    page.get_by_label("Lý do", exact=True).first.fill(f"Camera thay thế trong quý tới {EVIL}")
    until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    page.get_by_label("Chấp nhận đến ngày").fill(until)
    page.get_by_role("button", name="Chấp nhận", exact=True).click()
    page.wait_for_url(re.compile(r"done=accepted"))
    assert page.get_by_test_id("finding-status").inner_text() == "Đã chấp nhận rủi ro"
    assert f"Camera thay thế trong quý tới {EVIL}" in page.locator("main").inner_text()
    page.goto(server.url + second)
    page.locator("#fp-reason").fill(f"Thiết bị thử nghiệm {EVIL}")
    page.get_by_role("button", name="Đánh dấu là cảnh báo sai").click()
    page.wait_for_url(re.compile(r"done=fp"))
    assert page.get_by_test_id("finding-status").inner_text() == "Cảnh báo sai"
    # the steering body sees the assessment in the overview
    login(page, server, "thamdinh")
    page.goto(f"{server.url}/overview")
    row = page.locator("[data-testid=overview] tr", has_text="Trường THPT Nguyễn Du")
    assert row.count() == 1 and re.search(r"\d{2}/\d{2}/\d{4}", row.inner_text()), "no last assessment shown"
    assert page.locator("svg.chart").count() >= 1
    shot(page, screenshots, "overview-steering")
    assert not dialogs


def _scan_and_wait(page, server, system_id: int) -> str:
    page.goto(f"{server.url}/systems/{system_id}")
    page.get_by_role("button", name="Quét hệ thống này ngay").click()
    page.wait_for_url(re.compile(r"/scans/[\w-]+$"))
    page.get_by_test_id("scan-status").filter(has_text="Hoàn thành").wait_for(timeout=180_000)
    return page.url.rsplit("/", 1)[1]


def _fits_a_phone(page, screenshots, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate("""Array.from(document.querySelectorAll('body *')).filter(
        e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.id || ''))""")
    assert overflow <= 1, f"{name}: the page is {overflow}px wider than a phone: {wide}"
    shot(page, screenshots, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_schedule_delta_attestation_and_tokens(page, server, ids, screenshots, dialogs, tmp_path):
    system_id = ids["system"][SCHOOL_SYSTEM]  # the lab's devices are in its range
    login(page, server, "canbo")
    # a schedule from a preset: shown with its next runs, then deleted
    page.goto(f"{server.url}/systems/{system_id}")
    page.get_by_test_id("manage-schedules").click()
    page.wait_for_url(re.compile(r"/schedules$"))
    page.get_by_label("Quy tắc lặp lại tự nhập (RRULE)").check()
    page.get_by_label(re.compile("^Quy tắc lặp lại ")).fill(f"FREQ=SOMETIMES{EVIL}")
    page.get_by_role("button", name="Lưu lịch quét").click()
    assert page.locator(".errors").count() >= 1 and "Quy tắc lặp lại không hợp lệ" in page.locator(".errors").inner_text()
    page.get_by_label("Thứ Hai đầu tiên của tháng, 02:00").check()
    page.get_by_role("button", name="Lưu lịch quét").click()
    page.wait_for_url(re.compile(r"done=schedule"))
    table = page.get_by_test_id("schedules")
    assert "Thứ Hai đầu tiên của tháng" in table.inner_text() and "BYDAY=1MO" in table.inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4} 02:00", table.inner_text()), "no next run in Vietnam's time"
    shot(page, screenshots, "schedules")
    _fits_a_phone(page, screenshots, "schedules")
    rows = page.get_by_test_id("schedules").locator("tbody tr")
    n = rows.count()
    rows.nth(n - 1).get_by_role("button", name="Xóa").click()  # the newest (the list is in order of creation)
    page.wait_for_url(re.compile(r"done=schedule_deleted"))
    rows = page.get_by_test_id("schedules").locator("tbody tr")
    assert (rows.count() == n - 1 if n > 1 else "Chưa có lịch quét nào." in rows.first.inner_text())
    # two scans, then the delta between them from the scan page
    _scan_and_wait(page, server, system_id)
    later = _scan_and_wait(page, server, system_id)
    page.get_by_test_id("compare").click()
    page.wait_for_url(re.compile(r"/delta\?scan="))
    summary = page.get_by_test_id("delta-summary").inner_text()
    assert "Vẫn còn tồn tại" in summary and "Phát hiện mới" in summary
    persisting = page.get_by_test_id("delta-persisting").locator("tbody tr")
    assert persisting.count() >= 1 and "Không có." not in persisting.first.inner_text(), \
        "the same lab scanned twice shows no finding still open"
    assert page.locator("#f-scan").input_value() == later
    shot(page, screenshots, "delta")
    _fits_a_phone(page, screenshots, "delta")
    # an attestation with its evidence on a device of the system
    page.goto(f"{server.url}/systems/{system_id}")
    page.locator("[data-testid=devices] a[href^='/devices/']").first.click()
    page.wait_for_url(re.compile(r"/devices/\d+$"))
    evidence = tmp_path / "bien-ban-khoi-phuc.pdf"
    evidence.write_bytes(b"%PDF-1.4 bien ban kiem tra tu khoi phuc")
    page.get_by_label("Điều khoản").select_option("qcvn11-2026-bca:recovery/overall")
    page.get_by_label("Kết luận").select_option("pass")
    page.get_by_label(re.compile("^Tệp bằng chứng")).set_input_files(str(evidence))
    page.get_by_label(re.compile("^Ghi chú")).fill(f"Đã thử ngắt điện {EVIL}")
    page.get_by_role("button", name="Ghi nhận", exact=True).click()
    page.wait_for_url(re.compile(r"done=attestation"))
    listed = page.get_by_test_id("attestations").inner_text()
    assert "Tự khôi phục hoạt động sau sự cố" in listed and "bien-ban-khoi-phuc.pdf" in listed
    assert f"Đã thử ngắt điện {EVIL}" in listed
    shot(page, screenshots, "device-attestation")
    _fits_a_phone(page, screenshots, "device-attestation")
    # an API token: only the permissions held are offered; shown once; works; revoked
    page.get_by_role("link", name="Mã truy cập API").click()
    page.wait_for_url(re.compile(r"/tokens$"))
    assert page.locator("input[name=scopes][value='user:admin']").count() == 0
    page.get_by_label(re.compile("^Tên")).fill(f"Máy chủ giám sát {EVIL}")
    page.locator("input[name=scopes][value='scan:read']").check()
    page.get_by_role("button", name="Tạo mã").click()
    raw = page.get_by_test_id("token-value").input_value()
    assert raw.startswith("cam_")
    api = f"{server.url}/api/v1/systems/{system_id}/scans"
    assert page.request.get(api, headers={"Authorization": f"Bearer {raw}"}).status == 200
    assert page.request.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status == 404
    shot(page, screenshots, "tokens")
    _fits_a_phone(page, screenshots, "tokens")
    page.goto(f"{server.url}/tokens")
    assert raw not in page.content(), "the token was shown a second time"
    row = page.get_by_test_id("tokens").locator("tr", has_text="Máy chủ giám sát")
    row.get_by_role("button", name="Thu hồi").click()
    page.wait_for_url(re.compile(r"done=token_revoked"))
    assert "Đã thu hồi" in page.get_by_test_id("tokens").locator("tr", has_text="Máy chủ giám sát").inner_text()
    assert page.request.get(api, headers={"Authorization": f"Bearer {raw}"}).status == 401
    assert not dialogs, f"a script ran: {dialogs}"


def test_english_phone_keyboard_and_headers(page, server, screenshots):
    resp = page.goto(f"{server.url}/login?lang=en")
    assert resp is not None
    assert "default-src 'self'" in resp.headers.get("content-security-policy", "")
    assert page.get_by_role("heading", name="Log in").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{server.url}/login?lang=vi")
    assert page.get_by_role("heading", name="Đăng nhập").count() == 1
    # keyboard: the first Tab reaches the skip link, which moves to the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # a phone: nothing wider than the screen, menu reachable
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server, "thamdinh")
    page.goto(f"{server.url}/overview")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone"
    assert page.get_by_role("navigation", name="Menu chính").is_visible()
    shot(page, screenshots, "overview-phone")
    page.goto(f"{server.url}/stats?lang=vi")
    shot(page, screenshots, "stats-phone")



def test_the_guard_blocks_requests_not_to_127_0_0_1(page, only_loopback):
    """The guard every browser test runs under: a request elsewhere (here 127.0.0.2, still
    loopback, so nothing leaves the machine even if the guard were broken) is refused and noted."""
    page.set_content('<img src="http://127.0.0.2:9/probe.png" alt="">')
    page.wait_for_timeout(500)
    assert any("127.0.0.2" in url for url in only_loopback), "the guard let a request through"
    only_loopback.clear()
