"""Drives the wallet's transit card (`/transit`) in headless Chromium, as a commuter would: log in, open the
card with the PIN, show the ride code, ride, see the charge — for crates/cli/tests/transit_pages.rs.

Usage: transit_pages_browser.py SPEC_JSON, SPEC {"base", "phone", "pin", "scope", "screens"?}. A phone-sized
window (390x844) preferring Chinese. The Rust test plays the SMS gateway and the gate, answering on stdin:
  we print  "SMS <phone>"       it answers with the login code
  we print  "CODE <hex>"        the code read off the page: a gate scans it and uploads; it answers "OK"
  we print  "RIDE <text>"       the ride as the card page lists it afterwards
  we print  "BALANCE <amount>"  the balance on the home page afterwards
  we print  "DONE"              at the end
"""

import json
import sys

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def screen(driver, name):
    browser_common.screen(driver, name, "transit")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    base, scope = spec["base"], str(spec["scope"])
    driver = browser()
    try:
        driver.get(base + "/")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        # Home: the way to the ride code, which goes straight to the one operator's card.
        wait_for(driver, "#transit-link").click()
        wait_for(driver, "#open-card")
        assert driver.current_url.endswith("/transit/" + scope), driver.current_url
        assert "¥" in text(driver, "#deposit")
        fits(driver)
        screen(driver, "open")
        driver.find_element(By.ID, "pin").send_keys(spec["pin"])
        driver.find_element(By.ID, "open").click()
        wait_for(driver, "#done")
        assert wait_for(driver, "#transit-card").get_attribute("data-state") == "ACTIVE"
        fits(driver)
        screen(driver, "card")
        driver.find_element(By.ID, "show-code").click()
        card = wait_for(driver, "#ridecode")
        img = driver.find_element(By.ID, "ridecode-qr")
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
        assert "生成于" in text(driver, "#made-at")
        fits(driver)
        screen(driver, "code")
        code, counter = card.get_attribute("data-code"), card.get_attribute("data-counter")
        assert len(code) == 392, code
        assert ask("CODE", code) == "OK"
        # The script draws a new code by itself 30 s after this one (a new counter, a new image).
        WebDriverWait(driver, 45).until(lambda d: d.find_element(By.ID, "ridecode").get_attribute("data-counter") != counter)
        assert card.get_attribute("data-code") != code
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
        no_console_errors(driver)
        same_host_only(driver, base)
        # The ride and its charge on the card.
        driver.get(base + "/transit/" + scope)
        ride = wait_for(driver, "li.ride")
        assert ride.get_attribute("data-state") == "CHARGED", ride.text
        fits(driver)
        screen(driver, "rides")
        say("RIDE", " ".join(ride.text.split()))
        driver.find_element(By.ID, "refund-link").click()
        wait_for(driver, "#refund-yes")
        screen(driver, "refund")
        driver.get(base + "/history")
        wait_for(driver, "#history")
        screen(driver, "history")
        driver.get(base + "/transit/" + scope + "?lang=en")
        wait_for(driver, "#transit-card")
        fits(driver)
        screen(driver, "card-en")
        driver.get(base + "/?lang=zh")
        say("BALANCE", text(driver, "#balance"))
        no_console_errors(driver)
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
