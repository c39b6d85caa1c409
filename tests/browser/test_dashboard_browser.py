"""The operator dashboard (dashboard/) in a real browser: Playwright drives Debian's
chromium against ONE `make run` stack (testing/e2e.py running_stack) for this module.

Chromium is installed with apt-get when /usr/bin/chromium is missing (root, as CI runs);
the module skips, saying why, only when it cannot be installed. Each test saves a
screenshot in its tmp_path (and in $DASHBOARD_SCREENSHOTS, e.g. docs/screenshots, when
set); axe-core runs on every page a test visits and fails on a serious or critical
violation."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from testing.e2e import ADMIN_EMAIL, ADMIN_PASSWORD, NODE_SECRET, SERVER_NAME, running_stack

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'

SPEC_V1 = {"aggregate_types": {"order": {"events": {
    "created": {"schema": {"type": "object", "properties": {"customer": {"type": "string"}}},
                "handler": [{"set": {"target": "", "value": "$.data"}}]}}}},
    "agent_types": ["user"]}
SPEC_V2 = {"aggregate_types": {"order": {"events": {
    "created": {"schema": {"type": "object", "properties": {"customer": {"type": "string"}}},
                "handler": [{"set": {"target": "", "value": "$.data"}},
                            {"set": {"target": "status", "value": XSS}}]},
    "closed": {"schema": {"type": "object"},
               "handler": [{"set": {"target": "status", "value": "closed"}}]}}}},
    "agent_types": ["user"]}
SPEC_BAD = {"aggregate_types": {"order": {"events": {
    "created": {"schema": {"type": "objectx"}, "handler": [{"bogus": {}}]}}}},
    "agent_types": ["user"]}


def _chromium_or_skip() -> None:
    if os.path.exists(CHROMIUM):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is missing and cannot be installed here (needs apt-get as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env,
                       timeout=600, stdout=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"chromium could not be installed with apt-get: {exc}")
    if not os.path.exists(CHROMIUM):
        pytest.skip("apt-get installed no /usr/bin/chromium")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    _chromium_or_skip()
    from local import dashboard
    if dashboard.ensure_built(print) is None:
        pytest.fail("the dashboard could not be built (npm missing?)")
    from nacl.signing import SigningKey
    tmp = tmp_path_factory.mktemp("dashboard")
    viewer = SigningKey.generate()
    import hashlib
    viewer_address = (hashlib.blake2b(viewer.verify_key.encode(), digest_size=16).hexdigest()
                      + "@" + SERVER_NAME)
    admins = tmp / "admins.toml"
    admins.write_text(f'[server.admins]\n"{viewer_address}" = ["view_metrics"]\n')
    with running_stack(tmp, SERVER_CONFIG_FILE=str(admins)) as running:
        registered = running.call("POST", "/internal/devices", headers={"X-Node-Secret": NODE_SECRET},
                                  body={"public_key": viewer.verify_key.encode().hex()})
        assert registered.status_code in (200, 201), registered.text
        running.admin_key_file = tmp / "admin_device.key"
        running.admin_key_file.write_text(running.device_key.encode().hex() + "\n")
        running.viewer_address = viewer_address
        running.viewer_key_file = tmp / "viewer_device.key"
        running.viewer_key_file.write_text(viewer.encode().hex() + "\n")
        yield running


@pytest.fixture(scope="module")
def browser(stack):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A page with what the tests check on every page: axe, screenshots, no script run."""

    def __init__(self, page, url, out: Path):
        self.page, self.url, self.out = page, url, out
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: "Content Security Policy" in m.text and self.errors.append(m.text))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def go(self, path=""):
        self.page.goto(self.url + "/dashboard/" + path)

    def nav(self, name):
        self.page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True).click()
        self.page.get_by_role("heading", level=1).first.wait_for()

    def axe(self):
        """axe-core, evaluated over CDP (the page's CSP allows no injected script tag)."""
        self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
        result = self.page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
        }""")
        assert result == [], result

    def shot(self, name):
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        docs = os.environ.get("DASHBOARD_SCREENSHOTS")
        if docs:
            target = Path(docs) if os.path.isabs(docs) else ROOT / docs
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / f"{name}.png")

    def no_script_ran(self):
        assert self.page.evaluate("window.__xss") is None
        assert not self.errors, self.errors

    def login_operator(self):
        self.go()
        self.page.get_by_label("Email").fill(ADMIN_EMAIL)
        self.page.get_by_label("Password").fill(ADMIN_PASSWORD)
        self.page.get_by_role("button", name="Log in", exact=True).click()
        self.page.get_by_role("button", name="Log out").wait_for()

    def login_device(self, key_file: Path):
        self.go()
        self.page.get_by_label("Device key file").set_input_files(str(key_file))
        self.page.get_by_text("Key loaded from").wait_for()
        self.page.get_by_role("button", name="Sign challenge and log in").click()
        self.page.get_by_role("button", name="Log out").wait_for()


@pytest.fixture
def ui(browser, stack, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    wrapped = Page(page, stack.url, tmp_path)
    yield wrapped
    page.screenshot(path=str(tmp_path / "last.png"), full_page=True)  # how the test left it
    context.close()


def test_the_dashboard_is_served_with_strict_headers(stack):
    index = requests.get(stack.url + "/dashboard/", timeout=10)
    assert index.status_code == 200 and 'id="root"' in index.text
    csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in index.text.replace(" ", "")
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    assert index.headers["Cache-Control"] == "no-store"
    asset = next(part.split('"')[0] for part in index.text.split('src="')[1:])
    served = requests.get(stack.url + asset, timeout=10)
    assert served.status_code == 200 and "immutable" in served.headers["Cache-Control"]
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(stack.url + "/dashboard/instances/x", timeout=10).text == index.text
    for bad in ("/dashboard/%2e%2e/app.py", "/dashboard/.env", "/dashboard/assets/nope.js"):
        assert requests.get(stack.url + bad, timeout=10).status_code == 404, bad
    assert "/dashboard" not in requests.get(stack.url + "/openapi.json", timeout=10).json()["paths"]


def test_operator_creates_an_instance_deploys_specs_and_a_key(ui, stack):
    page = ui.page
    ui.login_operator()
    ui.shot("instances-empty")
    page.get_by_label("Name", exact=True).fill("acme " + XSS)
    page.get_by_role("button", name="Create instance").click()
    page.get_by_role("status").get_by_text("Created").wait_for()
    page.get_by_role("link", name="acme " + XSS).first.click()  # the name, as text
    page.get_by_role("heading", name="Plan and usage").wait_for()
    page.get_by_text("No spec deployed in prod.").wait_for()
    ui.axe()

    editor = page.get_by_label("Spec (JSON")
    import json
    editor.fill(json.dumps(SPEC_BAD))
    page.get_by_role("button", name="Deploy to prod").click()
    alert = page.get_by_role("alert").filter(has_text="INVALID_SPEC")
    alert.wait_for()
    assert alert.get_by_text("$.aggregate_types.order.events.created.schema.type", exact=True).is_visible()
    assert alert.get_by_text("$.aggregate_types.order.events.created.handler[0].bogus", exact=True).is_visible()
    ui.shot("spec-invalid")

    editor.fill(json.dumps(SPEC_V1))
    page.get_by_role("button", name="Deploy to prod").click()
    page.get_by_role("status").get_by_text("Deployed version 1").wait_for()
    page.get_by_test_id("spec-version").get_by_text("1", exact=True).wait_for()
    editor.fill(json.dumps(SPEC_V2))
    page.get_by_role("button", name="Show diff against deployed").click()
    page.get_by_role("region", name="Draft against deployed").get_by_text('+       "closed": {').wait_for()
    page.get_by_role("button", name="Deploy to prod").click()
    page.get_by_role("status").get_by_text("Deployed version 2").wait_for()
    page.get_by_test_id("spec-version").get_by_text("2", exact=True).wait_for()
    tree = page.get_by_test_id("spec-tree")
    assert tree.get_by_text('"closed"').count() >= 1 or tree.get_by_text("closed").count() >= 1
    assert tree.get_by_text(json.dumps(XSS)).count() == 1  # the spec's text, as text
    assert tree.locator("script, img").count() == 0  # never as markup
    diff = page.get_by_role("region", name="Diff v1 to v2")
    assert diff.get_by_text(f'+             "value": {json.dumps(XSS)}').count() == 1
    ui.no_script_ran()
    ui.axe()
    ui.shot("spec")

    page.get_by_role("tab", name="API keys").click()
    page.get_by_text("No API key yet.").wait_for()
    page.get_by_label("Name", exact=True).fill("Production Backend")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-key")
    shown.get_by_text("it is shown once and never again").wait_for()
    key = shown.locator("code.keytext").inner_text()
    assert key.startswith("j17_0_prod_") and len(key) == len("j17_0_prod_") + 32
    assert shown.get_by_role("button", name="Copy").is_visible()
    ui.axe()
    ui.shot("keys")
    page.get_by_role("button", name="I have stored it").click()
    page.reload()
    page.get_by_role("tab", name="API keys").click()
    page.get_by_role("cell", name="Production Backend").wait_for()
    assert key not in page.content()  # shown once: the list has its prefix only
    page.get_by_role("button", name="Rotate", exact=True).click()
    page.get_by_role("group", name="Confirm Rotate").get_by_text("keeps working 3600 s").wait_for()
    page.get_by_role("button", name="Yes, rotate").click()
    page.get_by_test_id("new-key").get_by_text("the old key works until").wait_for()
    assert page.get_by_test_id("new-key").locator("code.keytext").inner_text() != key
    page.get_by_role("button", name="I have stored it").click()
    page.get_by_role("row").filter(has_text="Production Backend").nth(1).wait_for()
    page.get_by_label("Revocation time for Production Backend").first.fill("2030-01-01T00:00")
    page.get_by_role("button", name="Schedule revocation").first.click()
    page.get_by_role("cell", name="2030-01-01", exact=False).first.wait_for()
    page.get_by_role("button", name="Revoke", exact=True).first.click()
    page.get_by_role("group", name="Confirm Revoke").get_by_text("stops working at once").wait_for()
    page.get_by_role("button", name="Yes, revoke").click()
    page.get_by_text("revoked", exact=True).first.wait_for()
    ui.no_script_ran()

    page.get_by_role("tab", name="Operations").click()
    page.get_by_text("No jobs here.").wait_for()
    page.get_by_label("List").select_option(label="Backups")
    page.get_by_text("No backups here.").wait_for()
    page.get_by_role("button", name="Start a backup").click()
    page.locator(".job").get_by_text("completed").wait_for(timeout=30_000)  # live progress
    page.get_by_role("cell", name="completed").first.wait_for()
    page.get_by_role("button", name="Delete").first.click()
    page.get_by_role("group", name="Confirm Delete").get_by_text("for good").wait_for()
    ui.axe()
    ui.shot("operations")


def test_device_login_config_change_is_in_the_audit_log(ui, stack):
    page = ui.page
    ui.login_device(stack.admin_key_file)
    token = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["admin_token"]
    blocked = stack.call("POST", "/admin/v1/federation/block", token=token,
                         body={"domain": "evil.example.org", "reason": XSS})
    assert blocked.status_code == 200, blocked.text

    ui.nav("Config")
    field = page.get_by_label("new tier limit")
    field.fill("5000")
    page.get_by_text("must be between 1 and 1000").wait_for()  # inline, before any request
    assert page.get_by_role("button", name="Save changes").is_disabled()
    assert page.get_by_text("requires restart").count() >= 1
    field.fill("77")  # in bounds, but above the established tier's limit (60)
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("alert").get_by_text("INVALID_CONFIG").wait_for()
    page.get_by_text("must not exceed progressive_trust.established_tier_limit").first.wait_for()
    ui.shot("config-invalid")
    field.fill("42")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("status").get_by_text("progressive_trust.new_tier_limit").wait_for()
    ui.axe()
    ui.shot("config")

    ui.nav("Audit log")
    page.get_by_label("action").fill("config_updated")
    page.get_by_role("button", name="Apply filters").click()
    row = page.get_by_role("row").filter(has_text="config_updated")
    row.first.wait_for()
    assert "new_tier_limit" in row.first.inner_text()
    page.get_by_label("action").fill("federation_blocked")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role("row").filter(has_text="evil.example.org").first.wait_for()
    assert page.get_by_role("cell").get_by_text(XSS.replace('"', '\\"'), exact=False).count() >= 1
    assert page.locator("main script, main img").count() == 0  # as text, never as markup
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert "federation_blocked" in Path(download.value.path()).read_text()
    ui.no_script_ran()
    ui.axe()
    ui.shot("audit")

    ui.nav("Health")
    page.locator(".status").first.wait_for()
    ui.axe()
    ui.shot("health")
    ui.nav("Moderation")
    page.get_by_role("cell", name="evil.example.org").wait_for()
    verify = page.get_by_role("region", name="Verify a device")
    verify.get_by_label("Device address").fill(stack.viewer_address)
    verify.get_by_label("Reason").fill("known operator")
    verify.get_by_role("button", name="Verify").click()
    verify.get_by_role("status").get_by_text('"trust_tier": "Verified"').wait_for()
    ui.shot("moderation")
    ui.no_script_ran()
    ui.axe()
    token_in_page = page.evaluate("JSON.parse(sessionStorage.getItem('adminplane.session')).token")
    assert stack.call("GET", "/admin/v1/config", token=token_in_page).status_code == 200
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Operator login").wait_for()
    assert page.evaluate("sessionStorage.getItem('adminplane.session')") is None
    assert stack.call("GET", "/admin/v1/config", token=token_in_page).status_code == 401  # revoked
    ui.shot("login")


def test_a_timeseries_chart_draws_pushed_points(ui, stack):
    now = int(time.time())
    samples = [{"name": "messages_sent", "kind": "counter", "value": v, "timestamp": now - 3000 + i * 600}
               for i, v in enumerate((5, 9, 4, 12, 7))]
    pushed = stack.call("POST", "/internal/metrics", headers={"X-Node-Secret": NODE_SECRET},
                        body={"samples": samples})
    assert pushed.status_code == 202, pushed.text
    page = ui.page
    ui.login_operator()
    # a token a minute from its expiry is refreshed (same session, new token), reload or not
    first = page.evaluate("""() => { const s = JSON.parse(sessionStorage.getItem('adminplane.session'));
        s.expiresAt = Math.floor(Date.now() / 1000) + 30;
        sessionStorage.setItem('adminplane.session', JSON.stringify(s)); return s.token; }""")
    page.reload()
    page.wait_for_function("t => JSON.parse(sessionStorage.getItem('adminplane.session')).token !== t",
                           arg=first, timeout=10_000)
    ui.nav("Metrics")
    chart = page.locator('section[data-metric="messages_sent"]')
    chart.locator("canvas").wait_for()
    assert int(chart.locator(".plot").get_attribute("data-points")) >= 2
    assert "total 37" in chart.inner_text()
    chart.get_by_label("messages_sent period").select_option("24h")
    chart.get_by_label("messages_sent interval").select_option("1h")
    chart.locator("canvas").wait_for()
    page.locator('section[data-metric="cpu_usage_percent"]').get_by_text("No data points").wait_for()
    ui.axe()
    ui.shot("metrics")


def test_a_viewer_sees_no_edit_controls_on_a_phone(browser, stack, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    ui = Page(context.new_page(), stack.url, tmp_path)
    ui.page.set_default_timeout(15_000)
    page = ui.page
    try:
        ui.login_device(stack.viewer_key_file)
        page.get_by_role("button", name="Menu").click()
        links = page.get_by_role("navigation", name="Pages").get_by_role("link").all_inner_texts()
        assert links == ["Config", "Metrics", "Health", "Alerts"], links
        page.get_by_role("link", name="Config").click()
        page.get_by_text("Read only: changing").wait_for()
        assert page.get_by_role("button", name="Save changes").count() == 0
        assert page.get_by_label("new tier limit").is_disabled()
        assert page.evaluate("document.querySelector('main').scrollWidth") <= 390  # fits
        ui.axe()
        ui.shot("viewer-config-phone")
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("link", name="Alerts").click()
        page.get_by_text("No active alert.").wait_for()
        ui.axe()
        page.goto(stack.url + "/dashboard/instances")
        page.get_by_role("heading", name="Not available").wait_for()
        page.get_by_text("This page needs the view_instances permission").wait_for()
        assert page.get_by_role("button", name="Create instance").count() == 0
        ui.axe()
        ui.no_script_ran()
    finally:
        context.close()
