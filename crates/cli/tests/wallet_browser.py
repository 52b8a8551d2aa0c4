"""Drives the wallet app (`/`, `/code`) in headless Chromium, as a user at a shop's till would, for
crates/cli/tests/wallet_pages.rs.

Usage: wallet_browser.py SPEC_JSON, SPEC {"base", "phone", "pin", "balance", "screens"?}. A phone-sized window (390x844)
preferring Chinese. The Rust test plays the cashier and answers on stdin:
  we print  "SMS <phone>"           it answers with the login code
  we print  "CODE <digits>"         the payment code on the screen; it charges it and answers "OK <amount>"
  we print  "CODE_PIN <digits>"     likewise, for a charge above the password-free limit (the order waits USERPAYING)
  we print  "PAID <amount>"         from the page that confirmed the PIN
  we print  "DONE"                  at the end
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("SAOMA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SAOMA_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENS = None


def say(*words):
    print(*words, flush=True)


def ask(*words):
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
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    return driver


def wait_for(driver, css, seconds=15):
    return WebDriverWait(driver, seconds).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def text(driver, css):
    return wait_for(driver, css).text.strip()


def screen(driver, name, prefix="wallet"):
    """Saves the whole page as PREFIX-NAME.png (390 px wide, as a phone, at least 844 tall) and
    PREFIX-NAME-desktop.png (1280 px wide, at least 800 tall), when asked to (docs/screens, made by
    scripts/screens). The browser tests of other pages (cards, console) use it too."""
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


def digits(driver):
    return text(driver, "#paycode-digits").replace(" ", "")


def main():
    global SCREENS
    spec = json.loads(sys.argv[1])
    SCREENS = spec.get("screens")
    driver = browser()
    try:
        driver.get(spec["base"] + "/")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        screen(driver, "login")
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        # Home: the balance as people read it.
        assert text(driver, "#balance") == spec["balance"], text(driver, "#balance")
        assert spec["phone"][-4:] in text(driver, ".who")
        screen(driver, "home")
        driver.find_element(By.ID, "show-code").click()
        first = digits(driver)
        assert len(first) == 18 and first.isdigit(), first
        # The barcode and the QR code are drawn, and the page's script runs (no CSP refusal).
        assert driver.find_elements(By.CSS_SELECTOR, ".barcode svg path") and driver.find_elements(By.CSS_SELECTOR, ".qr svg path")
        screen(driver, "paycode")
        same_host_only(driver, spec["base"])
        # The cashier scans it: the page notices the code was used and shows a new one by itself.
        assert ask("CODE", first).startswith("OK")
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "paycode-digits") and digits(d) != first)
        second = digits(driver)
        # A charge above the password-free limit: the page turns into the PIN prompt by itself.
        assert ask("CODE_PIN", second).startswith("OK")
        pin = wait_for(driver, "#pin", 15)
        assert "请输入支付密码" in driver.page_source
        screen(driver, "pin")
        pin.send_keys(spec["pin"])
        driver.find_element(By.ID, "confirm").click()
        wait_for(driver, "#paid")
        amount = text(driver, "#paid .amount")
        screen(driver, "paid")
        say("PAID", amount)
        no_console_errors(driver)
        same_host_only(driver, spec["base"])
        driver.get(spec["base"] + "/")
        say("BALANCE", text(driver, "#balance"))
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
