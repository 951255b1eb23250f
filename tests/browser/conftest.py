"""A real headless Debian Chromium, driven by Selenium through /usr/bin/chromedriver.

Skipped, with the reason, when chromium or chromium-driver is not installed
(`.ci/run` installs both, so CI never skips). Selenium Manager is never asked
to download anything: the driver and browser paths are given explicitly.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CHROMIUM = os.environ.get("MAILFROM_SIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MAILFROM_SIM_CHROMEDRIVER", "/usr/bin/chromedriver")


def _missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: apt-get install chromium chromium-driver (.ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="session")
def chrome():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mailfrom-sim-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--no-first-run", "--window-size=1440,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chrome, live):
    """The shared browser on a blank page, its console log emptied, for one test."""
    chrome.get("about:blank")
    chrome.get_log("browser")
    yield chrome
    errors = [entry for entry in chrome.get_log("browser") if entry["level"] == "SEVERE"]
    chrome.get("about:blank")  # a page left open would keep following (and reading) later tests
    assert errors == [], f"console errors: {errors}"
