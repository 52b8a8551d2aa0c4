"""Drives the cashier and collection pages in headless Chromium, as a user would, for crates/cli/tests/cashier.rs.

Usage: cashier_browser.py SPEC_JSON. SPEC is {"scenarios": [{"name", "url", "phone", ...}]}; each scenario runs in a
browser of its own (a fresh profile: no session carried over). The Rust test answers on stdin:
  we print  "SMS <phone>"                      after asking the page for a login code; it answers with the code
  we print  "RESULT <name> <transaction_id> <amount>"  from the result page
  we print  "DONE"                             at the end
Selenium is given chromedriver and chromium by path, so that Selenium Manager never looks for them online.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("SAOMA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SAOMA_CHROMEDRIVER", "/usr/bin/chromedriver")
GREEN = "rgba(7, 193, 96, 1)"


def say(*words):
    print(*words, flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=480,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    return driver


def wait_for(driver, css, seconds=15):
    return WebDriverWait(driver, seconds).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def text(driver, css):
    return wait_for(driver, css).text.strip()


def log_in(driver, phone):
    wait_for(driver, "#phone").send_keys(phone)
    driver.find_element(By.ID, "send-code").click()
    code_field = wait_for(driver, "#code")
    say("SMS", phone)
    code = sys.stdin.readline().strip()
    assert len(code) == 6, f"no SMS code from the test: {code!r}"
    code_field.send_keys(code)
    driver.find_element(By.ID, "login").click()
    # Back on the payment page, logged in: the pay button is there.
    wait_for(driver, "#pay")
    assert phone[-4:] in text(driver, "#payer"), text(driver, "#payer")


def check_rendering(driver):
    """The page's own style and images load under its Content-Security-Policy (no script, nothing external)."""
    pay = driver.find_element(By.ID, "pay")
    assert pay.value_of_css_property("background-color") == GREEN, pay.value_of_css_property("background-color")
    for img in driver.find_elements(By.CSS_SELECTOR, ".qr img"):
        width = driver.execute_script("return arguments[0].naturalWidth", img)
        assert width and width > 0, f"QR image did not load: {img.get_attribute('src')}"


def result(driver, name):
    tid = text(driver, "#transaction-id")
    amount = text(driver, "#amount")
    assert "支付成功" in text(driver, "#result h1")
    assert driver.current_url.split("?")[0].endswith("/cashier/result"), driver.current_url
    say("RESULT", name, tid, amount)


def h5(driver, s):
    driver.get(s["url"])
    assert text(driver, "#amount") == s["amount"], text(driver, "#amount")
    assert text(driver, "#description") == s["description"], text(driver, "#description")
    log_in(driver, s["phone"])
    check_rendering(driver)
    # Within the password-free limit: no PIN asked.
    assert not driver.find_elements(By.ID, "pin")
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"])
    if "back" in s:
        # The h5_url carried a redirect_url: the receipt leads back to the merchant's page.
        driver.find_element(By.ID, "done").click()
        WebDriverWait(driver, 15).until(lambda d: d.current_url == s["back"])


def pin(driver, s):
    driver.get(s["url"])
    log_in(driver, s["phone"])
    # Above the password-free limit the page asks for the PIN before the first try.
    field = wait_for(driver, "#pin")
    field.send_keys(s["wrong_pin"])
    driver.find_element(By.ID, "pay").click()
    error = text(driver, "#error")
    assert "Wrong PIN" in error and "4 tries left" in error, error
    wait_for(driver, "#pin").send_keys(s["pin"])
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"])


def collect(driver, s):
    driver.get(s["url"])
    assert text(driver, "#merchant") == s["merchant"], text(driver, "#merchant")
    log_in(driver, s["phone"])
    check_rendering(driver)
    # A mistyped amount is refused in plain words, and nothing is paid.
    wait_for(driver, "#amount-input").send_keys("12.345")
    driver.find_element(By.ID, "pay").click()
    assert "at most two decimals" in text(driver, "#error"), text(driver, "#error")
    field = wait_for(driver, "#amount-input")
    field.clear()
    field.send_keys(s["amount"])
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"])


def main():
    spec = json.loads(sys.argv[1])
    for s in spec["scenarios"]:
        driver = browser()
        try:
            {"h5": h5, "pin": pin, "collect": collect}[s["kind"]](driver, s)
        except Exception:
            sys.stderr.write(f"scenario {s['name']} failed at {driver.current_url}\n{driver.page_source}\n")
            raise
        finally:
            driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
