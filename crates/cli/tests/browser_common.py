"""What every browser script of the tests shares (cashier_browser.py, wallet_browser.py, wallet_me_browser.py,
wallet_cards_browser.py, console_browser.py): headless Chromium as a 390x844 phone preferring Chinese, the line
protocol with the Rust test (support::run_browser), waiting for elements, and screenshots.

Selenium is given chromedriver and chromium by path, so that Selenium Manager never looks for them online.
"""

import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("SAOMA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SAOMA_CHROMEDRIVER", "/usr/bin/chromedriver")
# Where screenshots go (the spec's "screens"), or None: set by each script's main.
SCREENS = None


def say(*words):
    print(*words, flush=True)


def ask(*words):
    """Says a line to the Rust test and returns its one-line answer."""
    say(*words)
    return sys.stdin.readline().strip()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=390,844", "--lang=zh-CN"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    # A phone's viewport exactly (Chromium keeps windows at least 500 px wide).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    return driver


def wait_for(driver, css, seconds=15):
    return WebDriverWait(driver, seconds).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def text(driver, css):
    return wait_for(driver, css).text.strip()


def screen(driver, name, prefix):
    """Saves the whole page as PREFIX-NAME.png (390 px wide, as a phone, at least 844 tall) and
    PREFIX-NAME-desktop.png (1280 px wide, at least 800 tall), when asked to (docs/screens, made by
    scripts/screens)."""
    if not SCREENS:
        return
    for width, height, mobile, suffix in ((390, 844, True, ""), (1280, 800, False, "-desktop")):
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": max(height, full), "deviceScaleFactor": 1, "mobile": mobile})
        driver.get_screenshot_as_file(os.path.join(SCREENS, f"{prefix}-{name}{suffix}.png"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})


def no_console_errors(driver):
    """Nothing the page did was refused (its script under the Content-Security-Policy, its fetches)."""
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def same_host_only(driver, base):
    """Every resource the page loaded came from this server: nothing fetched from another host."""
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert all(u.startswith(base) or u.startswith("data:") for u in urls), urls


def fits(driver):
    """Nothing wider than the phone's screen."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, width
