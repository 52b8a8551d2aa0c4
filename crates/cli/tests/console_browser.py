"""Drives the merchant console (`/console`) in headless Chromium, as a cashier at the till would, for
crates/cli/tests/console.rs.

Usage: console_browser.py SPEC_JSON, SPEC {"base", "phone", "password", "manager_phone", "manager_password",
"screens"?}. A phone-sized window
(390x844) preferring Chinese. The Rust test pays and answers on stdin:
  we print  "SMS <phone>"           it answers with the console login code
  we print  "PAY"                   it makes a payment of ¥12.50 (v3 order, wallet API) and answers "OK <out_trade_no>"
  we print  "SHOWN <amount> <ms>"   the payment on the open page, and how long after the answer it showed
  we print  "SPOKEN <words>"        what the page said aloud (speech switched on)
  we print  "DONE"                  at the end
"""

import json
import sys
import time

import browser_common
from browser_common import ask, browser, no_console_errors, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait



def screen(driver, name):
    browser_common.screen(driver, name, "console")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    driver = browser()
    try:
        driver.get(spec["base"] + "/console")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        screen(driver, "login")
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        screen(driver, "code")
        driver.find_element(By.ID, "login").click()
        password = wait_for(driver, "#password")
        screen(driver, "password")
        password.send_keys(spec["password"])
        driver.find_element(By.ID, "unlock").click()
        assert text(driver, "#takings-sum") == "¥0.00", text(driver, "#takings-sum")
        assert driver.find_element(By.ID, "no-payments").is_displayed()
        # A cashier's console has no orders tab.
        assert not driver.find_elements(By.CSS_SELECTOR, "a[href='/console/orders']")
        # Speech on (the label switches it), and what the page says recorded instead of played.
        driver.find_element(By.CSS_SELECTOR, "label[for=speak]").click()
        assert driver.find_element(By.ID, "speak").is_selected()
        driver.execute_script("window.__spoken = []; window.speechSynthesis.speak = function (u) { window.__spoken.push(u.text); };")
        screen(driver, "home")
        # Let the event stream open before the payment is made.
        time.sleep(1)
        answer = ask("PAY")
        assert answer.startswith("OK "), answer
        no = answer.split()[1]
        paid = time.monotonic()
        WebDriverWait(driver, 2, poll_frequency=0.05).until(lambda d: any(e.text.strip() == no for e in d.find_elements(By.CSS_SELECTOR, "#payments .pay-no")))
        ms = int((time.monotonic() - paid) * 1000)
        assert text(driver, "#takings-sum") == "¥12.50", text(driver, "#takings-sum")
        assert text(driver, "#takings-count") == "共 1 笔", text(driver, "#takings-count")
        assert not driver.find_element(By.ID, "no-payments").is_displayed()
        say("SHOWN", text(driver, "#payments .pay-amount"), ms)
        screen(driver, "paid")
        spoken = driver.execute_script("return window.__spoken;")
        say("SPOKEN", " ".join(spoken))
        # The choice is remembered: after a reload the switch is still on.
        driver.refresh()
        WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "speak").is_selected())
        no_console_errors(driver)
        # The manager: logs in on the same browser after the cashier logs out, finds the payment.
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, "#phone").send_keys(spec["manager_phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["manager_phone"]))
        driver.find_element(By.ID, "login").click()
        wait_for(driver, "#password").send_keys(spec["manager_password"])
        driver.find_element(By.ID, "unlock").click()
        assert text(driver, "#takings-sum") == "¥12.50"
        driver.find_element(By.CSS_SELECTOR, "a[href='/console/orders']").click()
        wait_for(driver, "#no").send_keys(no)
        driver.find_element(By.ID, "search").click()
        # The list before the search has the same rows: read the one the search answered.
        WebDriverWait(driver, 15).until(lambda d: "no=" in d.current_url)
        assert text(driver, "#orders .pay-amount") == "¥12.50"
        say("FOUND", text(driver, "#orders .pay-state"))
        screen(driver, "orders")
        driver.find_element(By.CSS_SELECTOR, "a[href='/console/staff']").click()
        wait_for(driver, "#staff-add")
        screen(driver, "staff")
        no_console_errors(driver)
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
