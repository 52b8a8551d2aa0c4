"""Opens the collection-code stand in the merchant console (`/console/stand`) in headless Chromium, for
crates/cli/tests/console_stand.rs: a cashier logs in, follows the stand's tab, and the page's script
(`/static/stand.js`) draws the stand on a canvas and saves it as a PNG.

Usage: console_stand_browser.py SPEC_JSON, SPEC {"base", "phone", "password", "screens"?}.
  we print  "SMS <phone>"      it answers with the console login code
  we print  "NAME <name>"      the shop's name on the stand
  we print  "PNG <length>"     the length of the canvas's PNG data URL
  we print  "DONE"             at the end
"""

import json
import sys

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    base = spec["base"]
    driver = browser()
    try:
        driver.get(base + "/console")
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        wait_for(driver, "#password").send_keys(spec["password"])
        driver.find_element(By.ID, "unlock").click()
        wait_for(driver, "#takings")
        driver.find_element(By.CSS_SELECTOR, "nav.tabs a[href='/console/stand']").click()
        wait_for(driver, "#stand")
        # The button shows once the code's image is loaded.
        WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "stand-png").is_displayed())
        assert driver.execute_script("return document.getElementById('stand-qr').naturalWidth") > 0
        assert driver.find_elements(By.CSS_SELECTOR, "#stand-qr[alt]")
        say("NAME", text(driver, "#stand-name"))
        fits(driver)
        browser_common.screen(driver, "stand", "console")
        driver.find_element(By.ID, "stand-png").click()
        WebDriverWait(driver, 15).until(lambda d: d.execute_script("return window.__standPng || 0") > 0)
        say("PNG", driver.execute_script("return window.__standPng"))
        assert not driver.find_element(By.ID, "stand-png-error").is_displayed()
        same_host_only(driver, base)
        no_console_errors(driver)
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
