"""The issue's first flow, whole, in two headless Chromium windows, for crates/cli/tests/journey.rs: a new
customer opens a wallet by phone and SMS code, sets her payment PIN, binds a bank card and tops up, shows
her payment code; the shop's cashier (the Rust test) charges it; the payment is in her history and, within
2 s, on the cashier's console, open on another screen all along.

Usage: journey_browser.py SPEC_JSON, SPEC {"base", "phone", "pin", "card", "staff_phone", "staff_password",
"screens"?}. The Rust test plays the SMS gateway, the bank and the till, answering on stdin:
  we print  "SMS <purpose> <phone>"  it answers with the newest code of that purpose (login, set_pin, console,
                                     card_bind)
  we print  "CODE <digits>"          the payment code on the phone; it charges ¥12.50 and answers "OK <out_trade_no>"
  we print  "SHOWN <ms>"             how long after the charge's answer the console showed it
  we print  "HISTORY <amount>"       the newest movement in the wallet's history
  we print  "DONE"                   at the end
"""

import json
import sys
import time

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def screen(driver, name):
    browser_common.screen(driver, name, "journey")


def console_login(console, spec):
    console.get(spec["base"] + "/console")
    wait_for(console, "#phone").send_keys(spec["staff_phone"])
    console.find_element(By.ID, "send-code").click()
    wait_for(console, "#code").send_keys(ask("SMS", "console", spec["staff_phone"]))
    console.find_element(By.ID, "login").click()
    wait_for(console, "#password").send_keys(spec["staff_password"])
    console.find_element(By.ID, "unlock").click()
    assert text(console, "#takings-sum") == "¥0.00", text(console, "#takings-sum")


def open_wallet(wallet, spec):
    wallet.get(spec["base"] + "/")
    wait_for(wallet, "#phone").send_keys(spec["phone"])
    wallet.find_element(By.ID, "send-code").click()
    wait_for(wallet, "#code").send_keys(ask("SMS", "login", spec["phone"]))
    wallet.find_element(By.ID, "login").click()
    wait_for(wallet, "#register-offer")
    wallet.find_element(By.ID, "register").click()
    assert text(wallet, "#balance") == "¥0.00", text(wallet, "#balance")
    # The payment PIN, on Me: a code texted for it, then the PIN twice.
    wallet.find_element(By.CSS_SELECTOR, "nav.tabs a[href='/me']").click()
    wallet.find_element(By.ID, "pin-send-code").click()
    wait_for(wallet, "#code").send_keys(ask("SMS", "set_pin", spec["phone"]))
    wallet.find_element(By.ID, "new-pin").send_keys(spec["pin"])
    wallet.find_element(By.ID, "new-pin-again").send_keys(spec["pin"])
    wallet.find_element(By.ID, "set-pin").click()
    wait_for(wallet, "#pin-done")


def top_up(wallet, spec):
    wallet.get(spec["base"] + "/cards")
    wait_for(wallet, "#card-no").send_keys(spec["card"])
    wallet.find_element(By.ID, "pin").send_keys(spec["pin"])
    wallet.find_element(By.ID, "bind-card").click()
    wait_for(wallet, "#code").send_keys(ask("SMS", "card_bind", spec["phone"]))
    wallet.find_element(By.ID, "confirm-card").click()
    wait_for(wallet, "#card-bound")
    wallet.find_element(By.ID, "topup").click()
    wait_for(wallet, "#amount").send_keys("100.00")
    wallet.find_element(By.ID, "pin").send_keys(spec["pin"])
    wallet.find_element(By.ID, "submit").click()
    result = wait_for(wallet, "#result")
    assert result.get_attribute("data-state") == "succeeded", result.text
    wallet.get(spec["base"] + "/")
    assert text(wallet, "#balance") == "¥100.00", text(wallet, "#balance")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    console, wallet = browser(), browser()
    try:
        console_login(console, spec)
        open_wallet(wallet, spec)
        top_up(wallet, spec)
        wallet.find_element(By.ID, "show-code").click()
        digits = text(wallet, "#paycode-digits").replace(" ", "")
        screen(wallet, "paycode")
        answer = ask("CODE", digits)
        assert answer.startswith("OK "), answer
        no = answer.split()[1]
        charged = time.monotonic()
        # The console, open on the cashier's screen since before the payment: within 2 s, no reload.
        WebDriverWait(console, 2, poll_frequency=0.05).until(
            lambda d: any(e.text.strip() == no for e in d.find_elements(By.CSS_SELECTOR, "#payments .pay-no")))
        say("SHOWN", int((time.monotonic() - charged) * 1000))
        assert text(console, "#takings-sum") == "¥12.50", text(console, "#takings-sum")
        screen(console, "console")
        # The wallet's history: the payment, newest first, after the top-up.
        wallet.get(spec["base"] + "/history")
        amounts = [e.text.strip() for e in wallet.find_elements(By.CSS_SELECTOR, "#history .move-amount")]
        fits(wallet)
        screen(wallet, "history")
        say("HISTORY", ",".join(amounts))
        for d in (wallet, console):
            no_console_errors(d)
            same_host_only(d, spec["base"])
    finally:
        wallet.quit()
        console.quit()
    say("DONE")


if __name__ == "__main__":
    main()
