"""Opens a new wallet from `/` in headless Chromium, sets its payment PIN on Me, and looks at History,
for crates/cli/tests/wallet_me.rs.

Usage: wallet_me_browser.py SPEC_JSON, SPEC {"base", "phone", "pin", "screens"?}. A phone-sized window (390x844)
preferring Chinese. The Rust test answers on stdin:
  we print  "SMS <phone>"        it answers with the login code
  we print  "PIN_SMS <phone>"    it answers with the code texted for setting the PIN
  we print  "PIN_SET"            it tops the wallet up and withdraws (with the PIN), answers "OK"
  we print  "SEEN <what>"        what the pages showed (pin-set, history-empty, the History's amounts)
  we print  "DONE"               at the end
"""

import json
import sys

from selenium.webdriver.common.by import By

import browser_common as wb


def screen(driver, name):
    wb.screen(driver, "me-" + name, "wallet")


def main():
    spec = json.loads(sys.argv[1])
    wb.SCREENS = spec.get("screens")
    driver = wb.browser()
    try:
        driver.get(spec["base"] + "/")
        wb.wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wb.wait_for(driver, "#code").send_keys(wb.ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        # A phone without a wallet: the login offers to open one.
        wb.wait_for(driver, "#register-offer")
        screen(driver, "open")
        driver.find_element(By.ID, "register").click()
        assert wb.text(driver, "#balance") == "¥0.00", wb.text(driver, "#balance")
        # Me: no PIN yet; a code is texted for it, then the new PIN twice.
        driver.find_element(By.CSS_SELECTOR, "nav.tabs a[href='/me']").click()
        assert "未设置" in wb.text(driver, "#pin-state")
        screen(driver, "me")
        driver.find_element(By.ID, "pin-send-code").click()
        wb.wait_for(driver, "#code").send_keys(wb.ask("PIN_SMS", spec["phone"]))
        driver.find_element(By.ID, "new-pin").send_keys(spec["pin"])
        driver.find_element(By.ID, "new-pin-again").send_keys(spec["pin"])
        screen(driver, "set-pin")
        driver.find_element(By.ID, "set-pin").click()
        wb.wait_for(driver, "#pin-done")
        assert "已设置" in wb.text(driver, "#pin-state")
        assert driver.find_elements(By.ID, "old-pin"), "now the form changes the PIN"
        screen(driver, "pin-set")
        driver.find_element(By.ID, "change-pin-open").click()
        assert driver.find_element(By.ID, "old-pin").is_displayed()
        screen(driver, "change-pin")
        wb.say("SEEN", "pin-set")
        # Nothing fits wider than the phone.
        wb.fits(driver)
        driver.find_element(By.CSS_SELECTOR, "nav.tabs a[href='/history']").click()
        wb.wait_for(driver, "#history-empty")
        wb.fits(driver)
        screen(driver, "history-empty")
        wb.say("SEEN", "history-empty")
        # Money moved with the new PIN shows on History, newest first.
        assert wb.ask("PIN_SET") == "OK"
        driver.refresh()
        amounts = [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, "#history .move-amount")]
        wb.fits(driver)
        screen(driver, "history")
        wb.say("SEEN", ",".join(amounts))
        wb.no_console_errors(driver)
    finally:
        driver.quit()
    wb.say("DONE")


if __name__ == "__main__":
    main()
