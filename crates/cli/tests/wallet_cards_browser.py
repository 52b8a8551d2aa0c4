"""Drives the wallet's bank card pages (`/cards`, `/cards/topup`) and agreements (`/agreements`) in headless
Chromium, as a user adding a card, topping up, and signing then ending a merchant's agreement would, for crates/cli/tests/wallet_cards.rs.

Usage: wallet_cards_browser.py SPEC_JSON, SPEC {"base", "phone", "pin", "card", "contract", "screens"?}. A phone-sized
window (390x844) preferring Chinese. The Rust test plays the SMS gateway and the bank, answering on stdin:
  we print  "SMS <phone>"          it answers with the login code
  we print  "BANK_CODE <phone>"    it answers with the bank's binding code
  we print  "RESULT <text>"        the top-up's result page
  we print  "BALANCE <amount>"     the balance on the home page afterwards
  we print  "AGREEMENT <state>"    the agreement's state as the merchant should now see it; it answers "OK"
  we print  "DONE"                 at the end
"""

import json
import sys

import browser_common
from browser_common import ask, browser, fits, say, text, wait_for
from selenium.webdriver.common.by import By



def screen(driver, name):
    browser_common.screen(driver, name, "cards")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    driver = browser()
    try:
        driver.get(spec["base"] + "/cards")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        # Back on /cards: no card yet, the form to add one.
        wait_for(driver, "#no-cards")
        fits(driver)
        screen(driver, "empty")
        driver.find_element(By.ID, "card-no").send_keys(spec["card"])
        driver.find_element(By.ID, "pin").send_keys(spec["pin"])
        driver.find_element(By.ID, "bind-card").click()
        code = wait_for(driver, "#code")
        assert spec["card"][-4:] in text(driver, "#bind-code"), text(driver, "#bind-code")
        screen(driver, "code")
        code.send_keys(ask("BANK_CODE", spec["phone"]))
        driver.find_element(By.ID, "confirm-card").click()
        wait_for(driver, "#card-bound")
        screen(driver, "bound")
        driver.find_element(By.ID, "topup").click()
        wait_for(driver, "#amount").send_keys("100.00")
        assert spec["card"][-4:] in driver.find_element(By.ID, "card").text
        driver.find_element(By.ID, "pin").send_keys(spec["pin"])
        fits(driver)
        screen(driver, "topup")
        driver.find_element(By.ID, "submit").click()
        result = wait_for(driver, "#result")
        assert result.get_attribute("data-state") == "succeeded", result.text
        fits(driver)
        screen(driver, "result")
        say("RESULT", text(driver, "#result-text"))
        driver.get(spec["base"] + "/cards")
        wait_for(driver, ".bound-card")
        screen(driver, "list")
        driver.find_element(By.ID, "withdraw").click()
        wait_for(driver, "#amount")
        screen(driver, "withdraw")
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
        driver.get(spec["base"] + "/")
        say("BALANCE", text(driver, "#balance"))
        # The merchant's proposal: sign it with the PIN, then end it after the confirming step.
        driver.get(spec["base"] + "/agreements")
        card = wait_for(driver, "#agreement-" + spec["contract"])
        assert card.get_attribute("data-state") == "PROPOSED" and "¥5.00" in card.text and "¥20.00" in card.text, card.text
        fits(driver)
        screen(driver, "agreements")
        card.find_element(By.CSS_SELECTOR, "input.pin").send_keys(spec["pin"])
        card.find_element(By.CSS_SELECTOR, "button.sign").click()
        wait_for(driver, "#done")
        screen(driver, "signed")
        assert ask("AGREEMENT", "SIGNED") == "OK"
        driver.get(spec["base"] + "/agreements")
        wait_for(driver, "#agreement-" + spec["contract"] + " a.terminate").click()
        wait_for(driver, "#terminate-yes")
        screen(driver, "terminate")
        driver.find_element(By.ID, "terminate-yes").click()
        wait_for(driver, "#done")
        assert ask("AGREEMENT", "TERMINATED") == "OK"
        driver.get(spec["base"] + "/agreements?lang=en")
        wait_for(driver, "#agreement-" + spec["contract"])
        fits(driver)
        screen(driver, "agreements-en")
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
