"""The dashboard in a real headless Chromium (SPEC §13): it lists identities, follows
what happens without a reload, and its buttons really change the simulator."""
from __future__ import annotations

import os
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest
from botocore.exceptions import ClientError

WAIT = 15  # seconds an explicit wait may take before the test fails (a bound, not a sleep)
FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"


def _wait(browser, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT, poll_frequency=0.05).until(condition, message)


def _css(browser, selector: str):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def _status(browser, identity: str) -> str | None:
    """The MAIL FROM status the identities table shows, read in one script (the table may
    be swapped for a fresh one at any moment)."""
    return browser.execute_script(
        "const badge = document.querySelector(arguments[0]); return badge ? badge.dataset.status : null;",
        f'tr[data-identity="{identity}"] .mail-from-status')


def _text(browser, selector: str) -> str:
    return browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText).join(' ');", selector)


def _click(browser, selector: str) -> None:
    """Click the first match, again if a live update replaced it in between."""
    from selenium.common.exceptions import StaleElementReferenceException

    def clicked(b) -> bool:
        try:
            _css(b, selector)[0].click()
            return True
        except (StaleElementReferenceException, IndexError):
            return False

    _wait(browser, clicked, f"could not click {selector}")


def open_dashboard(browser, live, path: str = "/_sim/dashboard") -> None:
    """Open the page and wait until its event stream is connected; mark the window so a
    reload would show (the marker would be gone)."""
    browser.get(live.url + path)
    _wait(browser, lambda b: _css(b, "#live.on"), "the event stream never connected")
    browser.execute_script("window.__notReloaded = true;")


def assert_not_reloaded(browser) -> None:
    assert browser.execute_script("return window.__notReloaded === true;"), "the page was reloaded"


def send(sesv2, sender: str, subject: str = "hello"):
    return sesv2.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["someone@example.net"]},
                            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": "hi"}}}})


def set_mail_from(sesv2, identity: str, domain: str, behavior: str = "USE_DEFAULT_VALUE") -> None:
    sesv2.create_email_identity(EmailIdentity=identity)
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity=identity, MailFromDomain=domain,
                                                 BehaviorOnMxFailure=behavior)


def test_a_browser_opening_the_root_url_gets_the_dashboard_listing_identities(browser, live, sesv2):
    set_mail_from(sesv2, "example.com", "mail.example.com")
    sesv2.create_email_identity(EmailIdentity="ops@example.org")
    browser.get(live.url + "/")
    _wait(browser, lambda b: _css(b, "#live.on"), "the event stream never connected")
    assert browser.current_url.endswith("/_sim/dashboard")
    rows = {row.get_attribute("data-identity") for row in _css(browser, "tr[data-identity]")}
    assert rows == {"example.com", "ops@example.org"}
    assert _status(browser, "example.com") == "PENDING"


def test_publishing_the_mx_through_the_api_turns_the_row_to_success_without_a_reload(browser, live, sesv2, control):
    set_mail_from(sesv2, "example.com", "mail.example.com")
    open_dashboard(browser, live)
    assert _status(browser, "example.com") == "PENDING"
    control.add_mx("mail.example.com")
    control.ok("POST", "/_sim/checks/run", {})
    _wait(browser, lambda b: _status(b, "example.com") == "SUCCESS", "the row never turned SUCCESS")
    assert_not_reloaded(browser)
    assert "PENDING → SUCCESS" in _text(browser, "#event-log li")


def test_the_publish_button_makes_the_embedded_dns_server_answer(browser, live, sesv2):
    set_mail_from(sesv2, "example.com", "mail.example.com")
    open_dashboard(browser, live, "/_sim/dashboard?identity=example.com")
    _click(browser, 'tr[data-record="MAIL FROM"] button[data-publish]')
    _wait(browser, lambda b: _css(b, 'tr[data-record="MAIL FROM"].published'), "the MX never showed as published")
    query = dns.message.make_query("mail.example.com", dns.rdatatype.MX)
    answer = dns.query.udp(query, "127.0.0.1", port=live.dns_server.port, timeout=5)
    exchanges = [str(rr.exchange).rstrip(".") for rrset in answer.answer for rr in rrset]
    assert exchanges == [FEEDBACK]
    # ... and the next check (run from the page) sees it.
    _click(browser, "button[data-run-checks='example.com']")
    _wait(browser, lambda b: _status(b, "example.com") == "SUCCESS", "the check from the page did not succeed")
    assert_not_reloaded(browser)


def test_advancing_the_clock_from_the_page_fails_a_pending_identity_after_72_hours(browser, live, sesv2):
    set_mail_from(sesv2, "example.com", "mail.example.com")
    open_dashboard(browser, live)
    _click(browser, "button[data-advance='86400']")
    _wait(browser, lambda b: "1 d" in _text(b, "#clock-offset"), "the clock did not move a day")
    assert _status(browser, "example.com") == "PENDING"
    _click(browser, "button[data-advance='259200']")
    _wait(browser, lambda b: _status(b, "example.com") == "FAILED", "PENDING never became FAILED")
    assert_not_reloaded(browser)


def test_the_outbox_shows_a_rejected_and_an_accepted_message(browser, live, sesv2):
    set_mail_from(sesv2, "strict.example", "mail.strict.example", "REJECT_MESSAGE")
    sesv2.create_email_identity(EmailIdentity="easy.example")
    open_dashboard(browser, live)
    with pytest.raises(ClientError) as refused:
        send(sesv2, "app@strict.example", "refused")
    assert refused.value.response["Error"]["Code"] == "MailFromDomainNotVerifiedException"
    accepted = send(sesv2, "app@easy.example", "accepted")["MessageId"]
    _wait(browser, lambda b: len(_css(b, "tr[data-message]")) == 2, "the outbox never showed both sends")
    rejected_row = _text(browser, 'tr[data-decision="rejected"]')
    accepted_row = _text(browser, f'tr[data-message="{accepted}"][data-decision="default"]')
    assert "mail.strict.example" in rejected_row and "PENDING" in rejected_row
    assert f"{accepted}@amazonses.com" in accepted_row
    assert_not_reloaded(browser)


def test_the_page_has_no_console_errors_after_using_every_panel(browser, live, sesv2):
    set_mail_from(sesv2, "example.com", "mail.example.com")
    open_dashboard(browser, live)
    _click(browser, "a.select-identity")
    _wait(browser, lambda b: _css(b, '[data-detail="example.com"]'), "selecting an identity showed nothing")
    from selenium.webdriver.support.ui import Select

    Select(_css(browser, "select[data-fault]")[0]).select_by_value("servfail")  # nothing refreshes it before
    _wait(browser, lambda b: _css(b, '[data-clear-fault="mail.example.com"]'), "the fault never showed")
    _click(browser, "button[data-run-checks='example.com']")
    _wait(browser, lambda b: _status(b, "example.com") == "TEMPORARY_FAILURE", "servfail did not count as TRANSIENT")
    _click(browser, '[data-clear-fault="mail.example.com"]')
    _wait(browser, lambda b: not _css(b, '[data-clear-fault="mail.example.com"]'), "the fault was not cleared")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _screenshot_dir(tmp_path) -> Path:
    """docs/ when MAILFROM_SIM_SCREENSHOTS=docs (to refresh the README's pictures), else a temp dir."""
    if os.environ.get("MAILFROM_SIM_SCREENSHOTS") == "docs":
        return Path(__file__).resolve().parents[2] / "docs"
    return tmp_path


def test_screenshots_of_a_demo_state(browser, live, sesv2, control, tmp_path):
    """A realistic picture for the README: identities in every state, sends, records."""
    set_mail_from(sesv2, "example.com", "mail.example.com", "REJECT_MESSAGE")
    set_mail_from(sesv2, "shop.example", "bounce.shop.example")
    set_mail_from(sesv2, "news.example", "mail.news.example", "REJECT_MESSAGE")
    set_mail_from(sesv2, "legacy.example", "mail.legacy.example")
    sesv2.create_email_identity(EmailIdentity="alerts@ops.example")
    for domain in ("mail.example.com", "mail.news.example"):
        control.add_mx(domain)
    control.ok("POST", "/_sim/dns/records", {"name": "mail.example.com", "type": "TXT",
                                             "value": "v=spf1 include:amazonses.com ~all"})
    control.ok("POST", "/_sim/checks/run", {})  # example.com and news.example: SUCCESS
    control.ok("POST", "/_sim/clock/advance", {"seconds": 259200})  # the others: FAILED after 72 h
    sesv2.put_email_identity_mail_from_attributes(  # restarted after FAILED: PENDING again
        EmailIdentity="shop.example", MailFromDomain="bounce.shop.example", BehaviorOnMxFailure="USE_DEFAULT_VALUE")
    control.ok("PUT", "/_sim/dns/faults/mail.news.example", {"fault": "servfail"})
    control.ok("POST", "/_sim/checks/run", {"identity": "news.example"})  # TEMPORARY_FAILURE
    send(sesv2, "billing@example.com", "Your invoice")
    send(sesv2, "orders@shop.example", "Order shipped")
    with pytest.raises(ClientError):
        send(sesv2, "digest@news.example", "Weekly digest")
    send(sesv2, "alerts@ops.example", "Disk almost full")
    open_dashboard(browser, live, "/_sim/dashboard?identity=example.com")
    target = _screenshot_dir(tmp_path)
    target.mkdir(exist_ok=True)
    browser.set_window_size(1440, 2400)  # the whole page, outbox included
    assert browser.save_screenshot(str(target / "dashboard.png"))
    detail = _css(browser, '[data-fragment="detail"]')[0]
    assert detail.screenshot(str(target / "identity.png"))
    for name in ("dashboard.png", "identity.png"):
        assert (target / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    browser.set_window_size(1440, 1000)


TOKEN = "dashboard-token-123"


@pytest.fixture
def guarded(chrome):
    """A simulator started with --control-token, and the browser on a blank page."""
    from tests.helpers import SimulatorProcess

    process = SimulatorProcess("--db", ":memory:", "--control-token", TOKEN).start()
    chrome.get("about:blank")
    chrome.get_log("browser")
    yield process
    chrome.get("about:blank")
    process.stop()


def test_with_a_control_token_the_dashboard_asks_for_it_once(chrome, guarded):
    from selenium.webdriver.common.keys import Keys

    chrome.get(guarded.url + "/_sim/dashboard")
    _wait(chrome, lambda b: _css(b, "form#sign-in"), "no sign-in form")
    assert not _css(chrome, '[data-fragment="identities"]')  # nothing of the simulator shown before it
    field = _css(chrome, "input#token")[0]
    field.send_keys("not-the-token", Keys.ENTER)
    _wait(chrome, lambda b: "not this simulator's --control-token" in _text(b, "#sign-in-error"),
          "a wrong token showed no error")
    field.clear()
    field.send_keys(TOKEN, Keys.ENTER)
    _wait(chrome, lambda b: _css(b, "#live.on"), "after signing in, the dashboard's event stream never connected")
    _click(chrome, "button[data-advance='3600']")  # a button's /_sim call goes through with the session
    _wait(chrome, lambda b: "1 h" in _text(b, "#clock-offset"), "the clock did not move an hour")
    chrome.get(guarded.url + "/_sim/dashboard")  # asked once: a new visit goes straight in
    _wait(chrome, lambda b: _css(b, "#live.on"), "the second visit did not go straight to the dashboard")
    severe = [e["message"] for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    assert all("401" in message for message in severe), severe  # only the page and the wrong token's answers
    assert len(severe) <= 2, severe


def test_the_dashboard_goes_live_again_after_every_stream_slot_was_taken(chrome):
    """A browser gives up on an event stream answered 503; the page tries again by itself,
    and once a slot is free (a left stream frees its own at its next keep-alive) it is live."""
    import http.client

    from simulator.runtime import Options, Runtime
    from tests.helpers import SimControl

    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", sse_streams=2, scheduler=False)).start()
    held = []
    try:
        for _ in range(2):  # every slot taken
            connection = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=30)
            connection.request("GET", "/_sim/events")
            response = connection.getresponse()
            assert response.status == 200
            response.read1(64)
            held.append(connection)
        chrome.get(runtime.url + "/_sim/dashboard")
        _wait(chrome, lambda b: "reconnecting" in _text(b, "#live"), "the page did not show it is not live")
        for connection in held:
            connection.close()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(chrome, 40, poll_frequency=0.1).until(lambda b: _css(b, "#live.on"),
                                                            "the page never went live again")
        SimControl(runtime.url).ok("POST", "/_sim/dns/records", {"name": "back.example.com", "type": "TXT",
                                                                "value": "live again"})
        _wait(chrome, lambda b: "back.example.com" in _text(b, '[data-fragment="zone"]'),
              "a change after reconnecting did not show")
    finally:
        for connection in held:
            connection.close()
        chrome.get("about:blank")
        chrome.get_log("browser")  # the 503s it logged are this test's own doing
        runtime.stop()
