"""The help article's journey in a real browser (Debian's Chromium driven by Playwright).

Every page of the journey is checked as a person meets it: one h1 and a title, no console
error or CSP violation, nothing scrolling sideways at 1280 px or 375 px wide and, in the
SQLite run of each test, axe-core finding no serious or critical violation and a screenshot
at both widths (in test-artifacts/screenshots/, or SCREENSHOT_DIR).
"""

import json
import os
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from heysummit_tc.models import User

from helpers import FIGURES, PASSWORD, Gunicorn, Worker, fixture_bytes, mail_env, wait_for
from orders import refund, success

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
WIDTHS = {"desktop": 1280, "mobile": 375}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}));
}"""
CHECKED = {}


# What scrolls sideways: the page itself (how far), and any box inside it, code aside.
SIDEWAYS = """() => {
  const page = document.documentElement.scrollWidth > window.innerWidth
    ? document.documentElement.scrollWidth : 0;
  const boxes = [...document.querySelectorAll("body *")].filter((element) => {
    if (element.closest("pre, code, textarea, select, input")) { return false; }
    const overflow = getComputedStyle(element).overflowX;
    return (overflow === "auto" || overflow === "scroll")
      && element.scrollWidth > element.clientWidth + 1;
  }).map((element) => element.tagName.toLowerCase() + "." + element.className);
  return {page, boxes};
}"""

# Words of links, buttons, ids, codes and emails that the layout breaks across lines (a
# word whose pieces sit on different lines), at most ten.
MID_WORD = """() => {
  const targets = "a, button, code, .mono:not(div), time, label";
  const email = /\\S+@\\S+\\.\\S+/;
  const broken = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("pre, textarea, option, .visually-hidden, .instructions")) {
      continue;
    }
    const inTarget = parent.closest(targets);
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      if (!inTarget && !email.test(match[0])) { continue; }
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (lines.size > 1) { broken.add(match[0]); }
    }
  }
  return [...broken].slice(0, 10);
}"""
# Tap targets smaller than 24 x 24 CSS px (WCAG 2.2, 2.5.8), at most ten. Exempt as WCAG
# has it: a link inside a sentence of a paragraph, and a checkbox or radio whose label (a
# target of its own) is large enough.
SMALL_TARGETS = """() => {
  const small = [];
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const element of document.querySelectorAll(controls)) {
    const box = element.getBoundingClientRect();
    if (!box.width || !box.height || element.closest(".visually-hidden, .skip")) { continue; }
    if (box.width >= 24 && box.height >= 24) { continue; }
    const sentence = element.parentElement.closest("p");
    if (element.tagName === "A" && sentence
        && sentence.textContent.trim().length > element.textContent.trim().length + 2) {
      continue;
    }
    const labels = [...(element.labels || [])].map((label) => label.getBoundingClientRect());
    if (labels.some((label) => label.width >= 24 && label.height >= 24)) { continue; }
    const name = (element.textContent || element.getAttribute("aria-label")
                  || element.name || "").trim().slice(0, 30);
    small.push(`${element.tagName.toLowerCase()} "${name}" `
               + `${Math.round(box.width)}x${Math.round(box.height)}`);
  }
  return small.slice(0, 10);
}"""


@cache
def axe_source():
    return AXE.read_text()


def _missing(what):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if not AXE.exists():
        _missing(f"{AXE} is missing (npm install)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
    if CHECKED:
        FIGURES.append("pages checked in the browser (axe violations, any impact): " + "; ".join(
            f"{name}: {', '.join(found) or 'none'}" for name, found in CHECKED.items()))


@pytest.fixture(scope="session")
def _gunicorn(database_url, tmp_path_factory):
    """One gunicorn per database and test process for the browser tests: starting and
    stopping one cost 4 s a test. It keeps nothing between tests that the database does not
    (each test starts from empty tables)."""
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with Gunicorn(database_url, workers=2, env={"SESSION_COOKIE_SECURE": "0"},
                  log_path=log_path) as running:
        yield running
    assert b"Traceback" not in log_path.read_bytes()


@pytest.fixture
def server(app, _gunicorn):
    """The browser tests' gunicorn, serving this test's (empty) tables."""
    return _gunicorn


@pytest.fixture(autouse=True)
def audit_once(backend, monkeypatch):
    """axe and the screenshots judge what the browser renders, the same pages on either
    database: they run in each test's SQLite run. Everything else is checked on both."""
    monkeypatch.setattr(Visitor, "audits", backend == "sqlite")


class Visitor:
    """A person at the browser: checks every page they land on."""

    audits = True

    def __init__(self, browser, base_url, **context_options):
        self.context = browser.new_context(base_url=base_url, accept_downloads=True,
                                           viewport={"width": 1280, "height": 900},
                                           **context_options)
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda message: message.type == "error"
                     and self.problems.append(message.text))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def check(self, name, status=None, axe=True):
        """Assert what every page owes its reader, and photograph it at both widths.

        ``status``: the error status this page is meant to answer with (a form with errors
        is a 400), which the browser reports on its console.
        """
        page = self.page
        page.wait_for_load_state("load")
        if status:
            expected = f"the server responded with a status of {status}"
            self.problems = [problem for problem in self.problems if expected not in problem]
        assert page.locator("h1").count() == 1, f"{name}: one h1 per page"
        assert page.title().strip(), f"{name}: a page title"
        assert not self.problems, f"{name}: console errors {self.problems}"
        if axe and self.audits:
            page.evaluate(axe_source())
            violations = page.evaluate(AXE_RUN)
            CHECKED[name] = [f"{v['id']} ({v['impact']})" for v in violations]
            serious = [v for v in violations if v["impact"] in ("serious", "critical")]
            assert not serious, f"{name}: {json.dumps(serious, indent=1)}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            sideways = page.evaluate(SIDEWAYS)
            assert sideways == {"page": 0, "boxes": []}, f"{name} at {width} px: {sideways}"
            if width >= 1280:
                broken = page.evaluate(MID_WORD)
                assert not broken, f"{name} at {width} px: broken mid-word: {broken}"
            else:
                small = page.evaluate(SMALL_TARGETS)
                assert not small, f"{name} at {width} px: tap targets under 24 px: {small}"
            if self.audits:
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    def nav(self, name):
        """Follow a link of the event navigation, as the help article names it."""
        self.page.get_by_role("navigation", name="Event").get_by_role(
            "link", name=name, exact=True).click()

    def enter(self, email, event="Remote Work Summit"):
        """Sign in and open the event's dashboard from the list of events."""
        self.sign_in(email)
        self.page.get_by_role("link", name=event).click()

    def sign_in(self, email, password=PASSWORD):
        self.page.goto("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"/events/$"))

    def close(self):
        self.context.close()


@pytest.fixture
def people(make_user, make_event, make_ticket):
    organiser = make_user("ada@example.com")
    editor = make_user("ed@example.com")
    event_id = make_event("Remote Work Summit", "GBP", organiser=organiser, editors=[editor])
    make_ticket(event_id, "All-Access Pass", None, [("97.00", "GBP"), ("197.00", "GBP")])
    make_ticket(event_id, "VIP Day Pass", "upsell-3", [("147.00", "GBP")])
    return event_id


def test_the_help_articles_journey(browser, server, people, session, backend):
    visitor = Visitor(browser, server.url)
    page = visitor.page
    visitor.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                      origin=server.url)
    page.goto("/login")
    visitor.check("01-sign-in")
    visitor.sign_in("ada@example.com")
    visitor.check("02-events")
    page.get_by_role("link", name="Remote Work Summit").click()
    visitor.check("03-dashboard")

    # Event Setup > Integrations > ThriveCart Checkout > Configure
    visitor.nav("Event Setup › Integrations")
    visitor.check("04-integrations")
    expect(page.get_by_text("Not configured")).to_be_visible()
    page.get_by_role("link", name="ThriveCart Checkout").click()
    visitor.check("05-thrivecart-not-configured")
    page.get_by_role("link", name="Configure").first.click()
    visitor.check("06-configure")
    secret = page.get_by_label("Secret Word")
    assert secret.get_attribute("type") == "password"
    secret.fill("K7Q2M9X4TZ1B")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Secret Word saved.")).to_be_visible()
    expect(page.get_by_text("Secret Word saved (ends in")).to_be_visible()
    visitor.check("07-thrivecart-configured")

    # The copy button puts the webhook URL on the clipboard.
    url = page.get_by_label("Webhook URL").input_value()
    assert url == f"{server.url}/api/webhooks/thrivecart/"
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url

    # Revenue > Tickets: a wrong External ID explains itself, then product-2 saves.
    visitor.nav("Revenue › Tickets")
    visitor.check("08-tickets")
    assert page.get_by_text("No ticket has an External ID yet").count() == 0  # upsell-3 is
    page.get_by_role("link", name="All-Access Pass").click()
    visitor.check("09-ticket")
    external_id = page.get_by_label("External ID")
    external_id.fill("product 2")
    page.get_by_role("button", name="Save ticket").click()
    error = page.locator("#external_id-error")
    assert "product-2, upsell-2, downsell-2 or bump-2" in error.inner_text()
    assert external_id.get_attribute("aria-invalid") == "true"
    assert "external_id-error" in external_id.get_attribute("aria-describedby")
    visitor.check("10-ticket-external-id-error", status=400)
    external_id.fill("product-2")
    page.get_by_role("button", name="Save ticket").click()
    expect(page.get_by_text("Ticket “All-Access Pass” saved.")).to_be_visible()

    # ThriveCart posts an order; the organiser finds the buyer and the delivery.
    status, _ = server.post("/api/webhooks/thrivecart/",
                            fixture_bytes("order-success-multi.form"))
    assert status == 200
    visitor.nav("Attendees")
    expect(page.get_by_text("katherine.johnson@example.com")).to_be_visible()
    visitor.check("11-attendees")
    times = page.locator("td time").first
    assert "UTC" in times.get_attribute("title")
    visitor.nav("Event Setup › Integrations")
    page.get_by_role("link", name="ThriveCart Checkout").click()
    page.get_by_role("link", name=re.compile(r"Open delivery \d+")).first.click()
    visitor.check("12-delivery")
    expect(page.get_by_text("All-Access Pass").first).to_be_visible()
    page.get_by_role("link", name="Replay…").click()
    expect(page.get_by_text("This order's purchases are paid already")).to_be_visible()
    visitor.check("12b-replay-confirm")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_text("Replayed: processed, 0 purchases changed.")).to_be_visible()
    expect(page.get_by_text("Attempt 2")).to_be_visible()

    # Send a test purchase, as the article asks before going live.
    visitor.nav("Event Setup › Integrations")
    page.get_by_role("link", name="ThriveCart Checkout").click()
    page.get_by_role("link", name="send a test purchase").click()
    visitor.check("13-test-purchase")
    page.get_by_label("Ticket").select_option(label="VIP Day Pass (upsell-3)")
    page.get_by_label("Buyer email").fill("tester@example.com")
    page.get_by_role("button", name="Send test purchase").click()
    expect(page.get_by_text("Test purchase sent: paid.")).to_be_visible()
    visitor.check("14-test-purchase-delivery")

    # Download the CSV.
    visitor.nav("Attendees")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("email,first_name,last_name,country,ticket,external_id,status")
    assert any(line.startswith("tester@example.com,") and ",yes," in line for line in lines)
    assert any(line.startswith("katherine.johnson@example.com,Katherine,Johnson,GB,All-Access")
               for line in lines)

    # Before launch: the test orders go, after a confirmation that counts them.
    page.get_by_role("link", name="Delete test orders…").click()
    expect(page.get_by_role("heading", name="Delete test orders?")).to_be_visible()
    visitor.check("43-delete-test-orders")
    page.get_by_role("button", name="Delete test orders").click()
    expect(page.get_by_text(re.compile(r"^Deleted \d+ test purchases?"))).to_be_visible()
    expect(page.get_by_text("tester@example.com")).to_have_count(0)
    visitor.close()


def test_an_unlinked_item_is_added_to_a_ticket_by_the_editor_and_applied_at_once(
    browser, server, people, connect
):
    """The failure step 3 of the article most often causes, found and fixed in the pages:
    the pass keeps its own External ID, and the buyer gets it without waiting for anyone."""
    connect(people)
    for order_id, key in (("UNL-1", "downsell-5"), ("UNL-2", "bump-9")):
        status, _ = server.post("/api/webhooks/thrivecart/",
                                success(order_id=order_id, key=key, currency="GBP",
                                        email="grace.hopper@example.com"))
        assert status == 200
    organiser = Visitor(browser, server.url)
    page = organiser.page
    organiser.enter("ada@example.com")
    attention = page.get_by_role("region", name="Needs attention")
    expect(attention.get_by_role("link", name="Unlinked item: 2")).to_be_visible()
    organiser.check("17-dashboard-needs-attention")
    attention.get_by_role("link", name="Unlinked item: 2").click()
    row = page.locator("table.log tbody tr").last
    expect(row).to_contain_text("1 unlinked: downsell-5")
    assert row.get_attribute("class") == "tone-warning"
    organiser.check("18-log-needs-attention")

    editor = Visitor(browser, server.url)
    editor.sign_in("ed@example.com")
    editor.page.get_by_role("link", name="Remote Work Summit").click()
    editor.nav("Revenue › Tickets")
    editor.page.get_by_role("link", name="Link them to a ticket").click()
    editor.check("19-unlinked-items")
    inbox_row = editor.page.locator("tr", has_text="downsell-5")
    expect(inbox_row.locator("td[data-label=\"Name in ThriveCart\"]")).to_have_text("Ticket")
    inbox_row.get_by_label("Ticket that downsell-5 unlocks").select_option(
        label="VIP Day Pass (has upsell-3)")
    inbox_row.get_by_role("button", name="Add to ticket").click()
    expect(editor.page.get_by_text("downsell-5 now unlocks “VIP Day Pass”. Re-ran 1 earlier "
                                   "delivery of it: 1 paid.")).to_be_visible()
    # A workbook bump is not a ticket: ignored, it leaves the inbox and can come back.
    editor.page.locator("tr", has_text="bump-9").get_by_role("button",
                                                             name="Ignore bump-9").click()
    ignored = editor.page.get_by_role("region", name="Ignored")
    expect(ignored).to_contain_text("bump-9")
    expect(editor.page.get_by_text("Nothing to link")).to_be_visible()
    editor.check("20-unlinked-linked")
    editor.nav("Revenue › Tickets")
    expect(editor.page.locator("tr", has_text="VIP Day Pass")).to_contain_text(
        "upsell-3, downsell-5")
    editor.close()

    # An affiliate's commission is not acted on: the log hides it until asked.
    status, _ = server.post("/api/webhooks/thrivecart/", success(
        order_id="AFF-1", key="downsell-5", currency="GBP").replace(
        b"event=order.success", b"event=affiliate.commission_earned"))
    assert status == 200
    organiser.nav("Deliveries")
    row = page.locator("table.log tbody tr", has_text="UNL-1").first
    expect(row).to_contain_text("1 paid")
    assert row.get_attribute("class") == "tone-good"
    expect(row).to_contain_text("by ed@example.com")
    expect(page.locator("table.log")).not_to_contain_text("affiliate.commission_earned")
    organiser.check("21-log-after-rerun")
    page.get_by_label("Show ignored events").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.log tbody tr").first).to_contain_text(
        "affiliate.commission_earned")
    page.goto(f"/events/{people}/")
    expect(page.get_by_text("Last order received")).to_contain_text("order.success")
    organiser.nav("Attendees")
    expect(page.get_by_text("grace.hopper@example.com")).to_be_visible()
    page.get_by_role("link", name="ada@example.com").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    organiser.check("22-account")
    organiser.close()


def test_an_organiser_resolves_what_needs_attention_with_a_note(
    browser, server, people, connect
):
    """A refund of an order that never reaches this app waits; the organiser says how it
    was dealt with, and Needs attention is empty again."""
    connect(people)
    # Two live orders of the VIP Day Pass, one partly refunded: the dashboard's revenue.
    now = datetime.now(UTC)
    for order_id, email in (("LIVE-1", "mary@example.com"), ("LIVE-2", "alan@example.com")):
        body = success(order_id=order_id, key="upsell-3", charged="14700", currency="GBP",
                       email=email, when=now - timedelta(days=2))
        status, _ = server.post("/api/webhooks/thrivecart/", body.replace(
            b"mode=test", b"mode=live").replace(b"mode_int=1", b"mode_int=2"))
        assert status == 200
    for body in (refund(order_id="LIVE-1", amount="4700", currency="GBP", key=("upsell", "3"),
                        when=now),
                 refund(order_id="GONE-1", key=("upsell", "3"))):
        status, _ = server.post("/api/webhooks/thrivecart/", body)
        assert status == 200
    organiser = Visitor(browser, server.url)
    page = organiser.page
    organiser.enter("ada@example.com")
    revenue = page.get_by_role("region", name="Revenue")
    gbp = revenue.locator("tr", has_text="GBP").first
    expect(gbp).to_contain_text("294.00\u00a0GBP")  # gross
    expect(gbp).to_contain_text("247.00\u00a0GBP")  # net
    expect(revenue.get_by_role("img", name=re.compile("Paid and refunded per day, GBP"))
           ).to_be_visible()
    table = revenue.locator("details", has_text="GBP")
    table.get_by_text("The same, as a table").click()
    expect(table.locator("tbody tr").last).to_contain_text("47.00\u00a0GBP")
    organiser.check("39-dashboard-revenue")
    # The orders: one row each, found by the buyer's email; an order's own page.
    organiser.nav("Orders")
    expect(page.locator("table.orders tbody tr")).to_have_count(3)  # GONE-1 waits
    organiser.check("40-orders")
    page.get_by_label("Order id, email or name").fill("mary@example.com")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.orders tbody tr")).to_have_count(1)
    page.get_by_role("link", name="LIVE-1").click()
    expect(page.get_by_role("heading", name="Order LIVE-1")).to_be_visible()
    expect(page.get_by_text("Refunded 47.00 of 147.00\u00a0GBP").first).to_be_visible()
    organiser.check("41-order")
    # Mary buys the pass again in a new order: a purchase of its own beside the first.
    status, _ = server.post("/api/webhooks/thrivecart/", success(
        order_id="LIVE-3", key="upsell-3", charged="14700", currency="GBP",
        email="mary@example.com", when=now).replace(b"mode=test", b"mode=live").replace(
        b"mode_int=1", b"mode_int=2"))
    assert status == 200
    # By hand: the buyer's name, a comp ticket, then a revocation; each in the log.
    page.get_by_role("link", name="mary@example.com").click()
    purchases = page.get_by_role("region", name="Purchases")
    expect(purchases.locator("tbody tr", has_text="VIP Day Pass")).to_have_count(2)
    expect(purchases.locator("tbody tr", has_text="LIVE-3")).to_contain_text("paid")
    page.get_by_label("First name").fill("Mary")
    page.get_by_label("Last name").fill("Somerville")
    page.get_by_role("button", name="Save name and email").click()
    expect(page.get_by_role("heading", name="Mary Somerville")).to_be_visible()
    page.get_by_label("Ticket", exact=True).select_option(label="All-Access Pass")
    page.get_by_role("button", name="Grant ticket").click()
    expect(page.get_by_text("“All-Access Pass” granted to mary@example.com by hand.")
           ).to_be_visible()
    organiser.check("42-attendee-by-hand")
    page.get_by_role("button", name="Revoke All-Access Pass").click()
    expect(page.get_by_text("“All-Access Pass” revoked: no access from now on.")
           ).to_be_visible()
    organiser.nav("Activity")
    expect(page.get_by_text("“All-Access Pass” to mary@example.com")).to_be_visible()
    organiser.nav("Dashboard")
    attention = page.get_by_role("region", name="Needs attention")
    attention.get_by_role("link", name="Waiting for its order: 1").click()
    page.get_by_role("link", name=re.compile("^Open")).first.click()
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text("Say in a few words how it was resolved")).to_be_visible()
    page.get_by_label("How it was resolved").fill("Order placed in another cart; refunded")
    organiser.check("38-resolve-attention", status=400)
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text("no longer needs attention")).to_be_visible()
    expect(page.get_by_text("by ada@example.com: Order placed in another cart")).to_be_visible()
    organiser.nav("Dashboard")
    expect(page.get_by_role("region", name="Needs attention")).to_have_count(0)
    organiser.close()


def test_two_events_on_one_thrivecart_account_say_so_and_keep_to_their_own_items(
    browser, server, people, make_event, make_ticket, connect, session
):
    """One ThriveCart account, two summits: the Secret Word form names the other, the ticket
    form says when it links the same id, and neither inbox lists the other's items."""
    ada = session.scalar(select(User.id).where(User.email == "ada@example.com"))
    other = make_event("Leadership Summit", "GBP", organiser=ada)
    make_ticket(other, "Leadership Pass", "product-7", [("297.00", "GBP")])
    connect(other)
    connect(people)
    status, _ = server.post("/api/webhooks/thrivecart/", success(
        order_id="SHARED-1", key="product-7", currency="GBP", email="sam@example.com"))
    assert status == 200
    organiser = Visitor(browser, server.url)
    page = organiser.page
    organiser.enter("ada@example.com")
    page.goto(f"/events/{people}/setup/integrations/thrivecart/configure")
    expect(page.get_by_text("This Secret Word is also saved in “Leadership Summit”")
           ).to_be_visible()
    organiser.check("44-shared-account")
    organiser.nav("Revenue › Tickets")
    expect(page.get_by_text("no ticket links")).to_have_count(0)  # product-7 is theirs
    page.get_by_role("link", name="VIP Day Pass").click()
    page.get_by_label("External ID").fill("upsell-3, product-7")
    page.get_by_role("button", name="Save ticket").click()
    expect(page.get_by_text("one order of it grants a ticket in both")).to_be_visible()
    expect(page.locator("#shared-links")).to_contain_text("“Leadership Summit”")
    organiser.check("45-ticket-shared-id")
    organiser.close()


def test_a_buyer_follows_the_link_in_their_email_to_their_tickets(
    browser, app, database_url, tmp_path, smtp_server, people, connect
):
    """The access email end to end: gunicorn, the worker, real SMTP, the buyer's browser."""
    connect(people)
    jobs = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    server = Gunicorn(database_url, workers=2, log_path=tmp_path / "gunicorn.log")
    mail = {**mail_env(smtp_server), "PUBLIC_BASE_URL": server.url}
    server.env = {"SESSION_COOKIE_SECURE": "0", "JOBS_URL": jobs, **mail}
    with server, Worker(database_url, jobs, mail, log_path=tmp_path / "worker.log"):
        organiser = Visitor(browser, server.url)
        organiser.sign_in("ada@example.com")
        organiser.page.goto(f"/events/{people}/setup/access-email")
        organiser.page.get_by_label("Subject").fill("Your {tickets} for {event}")
        organiser.page.get_by_role("button", name="Preview").click()
        expect(organiser.page.get_by_text("Your All-Access Pass, VIP Day Pass for Remote "
                                          "Work Summit")).to_be_visible()
        organiser.check("23-access-email-preview")
        organiser.page.get_by_role("button", name="Save").click()
        expect(organiser.page.get_by_text("Access email saved")).to_be_visible()
        organiser.close()

        status, _ = server.post("/api/webhooks/thrivecart/", success(
            order_id="MAIL-1", key="upsell-3", currency="GBP", email="grace@example.com"))
        assert status == 200
        [message] = wait_for(lambda: smtp_server.messages)
        assert message["Subject"] == "[TEST] Your VIP Day Pass for Remote Work Summit"
        markup = message.get_body(("html",)).get_content()
        link = re.search(r'<a href="([^"]+)">Open your tickets</a>', markup).group(1)
        assert link.startswith(f"{server.url}/access/")

        buyer = Visitor(browser, server.url)
        page = buyer.page
        page.goto(link)
        buyer.check("24a-access-open")  # what a mail scanner's GET gets: nothing used
        page.get_by_role("button", name="Open my tickets").click()
        expect(page.get_by_role("heading", name="Your tickets for Remote Work Summit")
               ).to_be_visible()
        expect(page.get_by_text("VIP Day Pass")).to_be_visible()
        expect(page.get_by_text("access now")).to_be_visible()
        buyer.check("24-access-page")
        page.reload()  # the same browser opens it again
        expect(page.get_by_text("VIP Day Pass")).to_be_visible()
        buyer.close()
        # Another browser cannot: it is offered a fresh link, sent to the buyer's address.
        buyer = Visitor(browser, server.url)
        page = buyer.page
        page.goto(link)
        expect(page.get_by_text("This link was used already.")).to_be_visible()
        buyer.check("25-access-fresh-link", status=410)
        page.get_by_role("button", name="Email me a fresh link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        buyer.check("26-access-fresh-link-sent")
        wait_for(lambda: len(smtp_server.messages) == 2)
        buyer.close()


def test_an_organiser_erases_a_buyer_after_a_confirmation_that_says_what_goes(
    browser, server, people, connect, session
):
    """Attribution on the attendee page, then the erasure and its confirmation."""
    from sqlalchemy import select

    from heysummit_tc.models import Attendee

    connect(people)
    body = success(order_id="ERASE-1", key="upsell-3", currency="GBP",
                   email="grace@example.com")
    body += b"&affiliate=partner-42&passthrough%5Butm_campaign%5D=launch"
    assert server.post("/api/webhooks/thrivecart/", body)[0] == 200
    attendee_id = session.scalar(select(Attendee.id).where(
        Attendee.email == "grace@example.com"))
    visitor = Visitor(browser, server.url)
    page = visitor.page
    visitor.sign_in("ada@example.com")
    page.goto(f"/events/{people}/attendees/{attendee_id}/")
    expect(page.get_by_text("Affiliate: partner-42")).to_be_visible()
    expect(page.get_by_text("UTM campaign: launch")).to_be_visible()
    visitor.check("35-attendee-attribution")
    page.get_by_role("link", name="Erase personal data…").click()
    expect(page.get_by_role("heading", name="Erase Ada Lovelace?")).to_be_visible()
    expect(page.get_by_text("1 delivery that carried them")).to_be_visible()
    visitor.check("36-erase-confirmation")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.get_by_role("link", name="Erase personal data…").click()
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_text("Personal data erased: attendee")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Erased buyer #{attendee_id}")).to_be_visible()
    expect(page.get_by_role("button", name="Resend access email")).to_be_disabled()
    visitor.check("37-attendee-erased")
    page.goto(f"/events/{people}/attendees/")
    expect(page.get_by_role("link", name=f"erased buyer #{attendee_id}")).to_be_visible()
    assert "grace@example.com" not in page.content()
    visitor.close()


def test_a_team_is_built_in_the_pages_and_every_change_is_in_the_activity_log(
    browser, server, people, connect
):
    """The organiser adds an editor by email; the editor sets a password from the link and
    links a ticket by pasting its ThriveCart URL; the organiser reads it all in Activity."""
    connect(people)
    organiser = Visitor(browser, server.url)
    page = organiser.page
    organiser.sign_in("ada@example.com")
    page.goto(f"/events/{people}/")
    organiser.nav("Team")
    organiser.check("27-team")
    page.get_by_label("Email", exact=True).fill("grace@example.com")
    page.get_by_label("Role", exact=True).select_option("ticket_editor")
    page.get_by_role("button", name="Add to the team").click()
    expect(page.get_by_text("grace@example.com has an account now")).to_be_visible()
    organiser.check("28-team-invite")
    link = page.get_by_label("Set-password link").input_value()

    editor = Visitor(browser, server.url)
    editor.page.goto(link)
    editor.check("29-set-password")
    editor.page.get_by_label("New password").fill("a much longer passphrase")
    editor.page.get_by_role("button", name="Set password").click()
    expect(editor.page.get_by_text("Password set. Sign in with it now.")).to_be_visible()
    editor.sign_in("grace@example.com", "a much longer passphrase")
    editor.page.get_by_role("link", name="Remote Work Summit").click()
    editor.nav("Revenue › Tickets")
    editor.page.get_by_role("link", name="All-Access Pass").click()
    editor.page.wait_for_load_state("load")  # the script that previews the id has run
    external_id = editor.page.get_by_label("External ID")
    external_id.fill("https://thrivecart.com/app/#/products/edit/12")
    expect(editor.page.locator("#external_id-preview")).to_have_text("product-12")
    editor.page.get_by_label("Item type").select_option("bump")
    expect(editor.page.locator("#external_id-preview")).to_have_text("bump-12")
    editor.check("30-ticket-url-preview")
    editor.page.get_by_role("button", name="Save ticket").click()
    expect(editor.page.get_by_text("Ticket “All-Access Pass” saved.")).to_be_visible()
    assert external_id.input_value() == "bump-12"
    editor.page.get_by_role("link", name="grace@example.com").click()
    editor.check("31-account-editor")
    editor.close()

    # Disconnect asks first and says what it does; then the activity log tells it all.
    page.goto(f"/events/{people}/setup/integrations/thrivecart/configure")
    page.get_by_role("link", name="Disconnect ThriveCart…").click()
    expect(page.get_by_role("heading", name="Disconnect ThriveCart?")).to_be_visible()
    organiser.check("32-disconnect-confirm")
    page.get_by_role("link", name="Keep it connected").click()
    organiser.nav("Activity")
    expect(page.get_by_text("“All-Access Pass”: External ID: none → bump-12")).to_be_visible()
    row = page.locator("tr", has_text="External ID: none → bump-12")
    expect(row).to_contain_text("grace@example.com")
    expect(page.get_by_text("grace@example.com as ticket editor (new account)")).to_be_visible()
    organiser.check("33-activity")
    page.goto(f"/events/{people}/")
    page.get_by_role("link", name="Edit event").click()
    page.get_by_label("Timezone").fill("Asia/Tokyo")
    page.get_by_label("Starts").fill("2027-03-01T09:00")
    page.get_by_label("Joining instructions").fill("Zoom: https://zoom.example/j/1")
    organiser.check("34-event-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Event “Remote Work Summit” saved.")).to_be_visible()
    # Every time of the event's pages is in its timezone now, UTC on hover.
    organiser.nav("Activity")
    stamp = page.locator("time").first
    expect(stamp).to_contain_text("JST")
    assert stamp.get_attribute("title").endswith(" UTC")
    expect(page.get_by_text("timezone: UTC → Asia/Tokyo; start: none → 2027-03-01 09:00 JST"
                            )).to_be_visible()
    organiser.close()


def test_a_ticket_editor_sees_tickets_and_nothing_organiser_only(browser, server, people):
    visitor = Visitor(browser, server.url)
    page = visitor.page
    visitor.enter("ed@example.com")
    navigation = page.get_by_role("navigation", name="Event")
    expect(navigation.get_by_role("link", name="Revenue › Tickets")).to_be_visible()
    assert navigation.get_by_role("link", name="Event Setup › Integrations").count() == 0
    assert navigation.get_by_role("link", name="Attendees").count() == 0
    navigation.get_by_role("link", name="Revenue › Tickets").click()
    visitor.check("15-tickets-as-ticket-editor")
    response = page.goto(f"/events/{people}/setup/integrations/thrivecart/")
    assert response.status == 403
    visitor.check("16-forbidden", status=403)
    visitor.close()


def test_keyboard_alone_completes_the_configure_and_ticket_forms(browser, server, people,
                                                                 session):
    visitor = Visitor(browser, server.url)
    page = visitor.page
    visitor.sign_in("ada@example.com")

    def tab_to(element_id, limit=40):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.id") == \
                    element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    page.goto(f"/events/{people}/setup/integrations/thrivecart/configure")
    page.locator("body").focus()
    tab_to("secret_word")
    page.keyboard.type("K7Q2M9X4TZ1B")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/thrivecart/$"))
    expect(page.get_by_text("Secret Word saved.")).to_be_visible()

    visitor.nav("Revenue › Tickets")
    page.get_by_role("link", name="All-Access Pass").click()
    page.locator("body").focus()
    tab_to("external_id")
    page.keyboard.type("bump_2")
    page.keyboard.press("Enter")
    expect(page.get_by_text("saved.")).to_be_visible()
    assert page.get_by_label("External ID").input_value() == "bump-2"
    visitor.close()


def test_pages_work_without_javascript(browser, server, people):
    visitor = Visitor(browser, server.url, java_script_enabled=False)
    page = visitor.page
    visitor.sign_in("ada@example.com")
    page.goto(f"/events/{people}/setup/integrations/thrivecart/configure")
    page.get_by_label("Secret Word").fill("K7Q2M9X4TZ1B")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Secret Word saved.")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_hidden()  # needs a script
    assert page.get_by_label("Webhook URL").input_value().endswith("/api/webhooks/thrivecart/")
    visitor.close()


def test_the_accessibility_check_does_catch_violations(browser, server):
    """The harness itself: a page with an unlabelled field must fail axe."""
    visitor = Visitor(browser, server.url)
    visitor.page.goto("/login")
    visitor.page.evaluate("document.querySelector('label[for=email]').remove()")
    visitor.page.evaluate(axe_source())
    found = {violation["id"] for violation in visitor.page.evaluate(AXE_RUN)}
    assert "label" in found
    visitor.close()
