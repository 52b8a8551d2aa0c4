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
import sys

import browser_common
from browser_common import ask, browser, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait



def screen(driver, name):
    browser_common.screen(driver, name, "wallet")


def digits(driver):
    return text(driver, "#paycode-digits").replace(" ", "")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
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
