"""Drives the operator console (`/operator`) in headless Chromium, as the platform's operator would, for
crates/cli/tests/operator.rs.

Usage: operator_browser.py SPEC_JSON, SPEC {"base", "token", "mchid", "good_mchid", "out_trade_no", "card_tail",
"card_no", "phone", "screens"?}. A phone-sized window (390x844) preferring Chinese. Nothing is asked of the Rust
test; the script reports what it found:
  we print  "FOUND NOTIFICATIONS <attempts>"  the failing merchant's notification, and its attempts
  we print  "FOUND CLONE <card tail>"         the clone alarm, and the card's last four digits it shows
  we print  "LEDGER <verdict>"                the ledger check run from the page
  we print  "DONE"                            at the end
"""

import json
import sys

import browser_common
from browser_common import browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def screen(driver, name):
    browser_common.screen(driver, name, "operator")


def check_page(driver, spec):
    """What every page of the console keeps to: this server only, no script errors, the phone's width,
    and no full phone or card number anywhere."""
    same_host_only(driver, spec["base"])
    no_console_errors(driver)
    fits(driver)
    source = driver.page_source
    assert spec["phone"] not in source and spec["card_no"] not in source, driver.current_url


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    base = spec["base"]
    driver = browser()
    try:
        # A page of the console without a session: the login, which comes back to it.
        driver.get(base + "/operator/merchants")
        assert "/operator/login" in driver.current_url, driver.current_url
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        screen(driver, "login")
        # A token typed wrong first: refused, and the page says how many tries are left.
        wait_for(driver, "#token").send_keys("not-the-admin-token")
        driver.find_element(By.ID, "login").click()
        error = text(driver, "#error")
        assert "还可以再试 4 次" in error, error
        screen(driver, "wrong-token")
        # The refusal is a 401, which the browser logs: that one only.
        logged = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert all("401" in e.get("message", "") for e in logged), logged
        wait_for(driver, "#token").send_keys(spec["token"])
        driver.find_element(By.ID, "login").click()
        WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/operator/merchants"))
        check_page(driver, spec)

        # The merchants: the failing one says so, and leads to its notifications.
        merchant = wait_for(driver, f"li.merchant[data-mchid='{spec['mchid']}']")
        assert "失败通知商户" in merchant.text, merchant.text
        assert "¥12.34（1 笔）" in merchant.find_element(By.CSS_SELECTOR, ".takings").text
        good = wait_for(driver, f"li.merchant[data-mchid='{spec['good_mchid']}']")
        assert not good.find_elements(By.CSS_SELECTOR, "a.failing"), "a merchant whose receiver takes everything has nothing failing"
        screen(driver, "merchants")
        merchant.find_element(By.CSS_SELECTOR, "a.failing").click()
        WebDriverWait(driver, 10).until(lambda d: "/operator/notifications?mchid=" in d.current_url)
        rows = driver.find_elements(By.CSS_SELECTOR, "#failing li.notification")
        assert len(rows) == 1 and rows[0].get_attribute("data-mchid") == spec["mchid"], [r.text for r in rows]
        row = rows[0]
        assert row.find_element(By.CSS_SELECTOR, ".reference").text == spec["out_trade_no"], row.text
        assert "HTTP 500" in row.find_element(By.CSS_SELECTOR, ".last-error").text, row.text
        assert "北京时间" in row.find_element(By.CSS_SELECTOR, ".next-retry").text, row.text
        check_page(driver, spec)
        say("FOUND NOTIFICATIONS", row.find_element(By.CSS_SELECTOR, ".attempts").text)
        screen(driver, "notifications")
        # The filter of the other merchant finds nothing failing.
        field = driver.find_element(By.ID, "mchid")
        field.clear()
        field.send_keys(spec["good_mchid"])
        driver.find_element(By.ID, "filter").click()
        wait_for(driver, "#no-failing")

        # Transit: the clone alarm, with the card masked, the time and the gate.
        driver.find_element(By.CSS_SELECTOR, "nav.ops a[href='/operator/transit']").click()
        alarm = wait_for(driver, "li.alarm[data-kind='CLONE']")
        card = alarm.find_element(By.CSS_SELECTOR, ".card-tail").text
        assert card == "尾号 " + spec["card_tail"], card
        assert "东门" in alarm.find_element(By.CSS_SELECTOR, ".gate").text, alarm.text
        assert "北京时间" in alarm.find_element(By.CSS_SELECTOR, ".time").text, alarm.text
        assert len(driver.find_elements(By.CSS_SELECTOR, "li.terminal")) == 2
        check_page(driver, spec)
        say("FOUND CLONE", card.split()[-1])
        screen(driver, "transit")

        # Users, masked.
        driver.find_element(By.CSS_SELECTOR, "nav.ops a[href='/operator/users']").click()
        phones = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "li.user .phone")]
        masked = spec["phone"][:3] + "****" + spec["phone"][-4:]
        assert masked in phones, phones
        check_page(driver, spec)
        screen(driver, "users")

        # The ledger check, run from the page.
        driver.find_element(By.CSS_SELECTOR, "nav.ops a[href='/operator/ledger']").click()
        wait_for(driver, "#never")
        driver.find_element(By.ID, "run-check").click()
        verdict = text(driver, "#verdict")
        check_page(driver, spec)
        say("LEDGER", verdict.split()[-1])
        screen(driver, "ledger")

        # The sandbox clock, moved forward a day.
        driver.find_element(By.CSS_SELECTOR, "nav.ops a[href='/operator/clock']").click()
        before = wait_for(driver, "#business-now time").get_attribute("datetime")
        wait_for(driver, "#amount").send_keys("1")
        driver.find_element(By.CSS_SELECTOR, "#unit option[value='d']").click()
        driver.find_element(By.ID, "advance").click()
        assert "86400" in text(driver, "#moved"), text(driver, "#moved")
        after = wait_for(driver, "#business-now time").get_attribute("datetime")
        assert after[:10] > before[:10], (before, after)
        check_page(driver, spec)
        screen(driver, "clock")

        # In English, on a desktop too.
        driver.find_element(By.ID, "lang-switch").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
        assert "Business clock" in driver.page_source
        driver.find_element(By.CSS_SELECTOR, "nav.ops a[href='/operator/transit']").click()
        assert "Clone: one ride code used at two gates" in text(driver, "li.alarm[data-kind='CLONE'] h2")
        screen(driver, "transit-en")

        # Logout: the console asks for the token again.
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, "#token")
        driver.get(base + "/operator/users")
        assert "/operator/login" in driver.current_url, driver.current_url
        no_console_errors(driver)
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
