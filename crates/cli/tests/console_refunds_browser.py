"""Drives a refund from the merchant console (`/console/orders/...`) in headless Chromium, for
crates/cli/tests/console_refunds.rs: the manager finds the paid order, opens it, refunds part of it with
their password, sees it among the order's refunds and on the takings; then the cashier opens the order
(no refund form) and posts one anyway (refused).

Usage: console_refunds_browser.py SPEC_JSON, SPEC {"base", "no", "manager_phone", "manager_password",
"cashier_phone", "cashier_password", "screens"?}. A phone-sized window (390x844) preferring Chinese.
  we print  "SMS <phone>"                        it answers with the console login code
  we print  "REFUNDED"                           it answers "<count> <fen>": the order's refunds in the database
  we print  "REFUND_SHOWN <refund> <left>"       the refund in the order's list, and what is left to refund
  we print  "TAKINGS <text>"                     the day's refunds on the takings
  we print  "CASHIER_REFUSED managers-only"      a cashier's posted refund was answered with the managers-only page
  we print  "DONE"                               at the end
"""

import json
import sys

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def screen(driver, name):
    browser_common.screen(driver, name, "console-refund")


def log_in(driver, base, phone, password):
    driver.get(base + "/console")
    wait_for(driver, "#phone").send_keys(phone)
    driver.find_element(By.ID, "send-code").click()
    wait_for(driver, "#code").send_keys(ask("SMS", phone))
    driver.find_element(By.ID, "login").click()
    wait_for(driver, "#password").send_keys(password)
    driver.find_element(By.ID, "unlock").click()
    wait_for(driver, "#takings")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    base, no = spec["base"], spec["no"]
    driver = browser()
    try:
        log_in(driver, base, spec["manager_phone"], spec["manager_password"])
        # The order, found from the search and opened from its result.
        driver.find_element(By.CSS_SELECTOR, "a[href='/console/orders']").click()
        wait_for(driver, "#no").send_keys(no)
        driver.find_element(By.ID, "search").click()
        WebDriverWait(driver, 15).until(lambda d: "no=" in d.current_url)
        driver.find_element(By.CSS_SELECTOR, "#orders a.pay-link").click()
        wait_for(driver, "#refund-form")
        assert text(driver, "#order-total") == "¥12.50", text(driver, "#order-total")
        assert text(driver, "#order-state") == "支付成功", text(driver, "#order-state")
        assert "****" in text(driver, "#order-payer")
        # Every field of the form has its label, for screen readers.
        for field in ("refund-amount", "refund-reason", "refund-password"):
            assert driver.find_elements(By.CSS_SELECTOR, f"label[for='{field}']"), field
        fits(driver)
        screen(driver, "order")
        # A wrong password first: refused, said, nothing refunded.
        driver.find_element(By.ID, "refund-amount").send_keys("5.00")
        driver.find_element(By.ID, "refund-reason").send_keys("少找零")
        driver.find_element(By.ID, "refund-password").send_keys("not-my-password")
        driver.find_element(By.ID, "refund").click()
        error = text(driver, "#error")
        assert "还可以再试 4 次" in error, error
        assert ask("REFUNDED") == "0 0"
        # The browser logs the 401 of that answer: expected, and the only error so far.
        severe = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert all("/refund" in m and "401" in m for m in severe), severe
        screen(driver, "wrong-password")
        # The amount and reason are kept; the password is typed again.
        assert driver.find_element(By.ID, "refund-amount").get_attribute("value") == "5.00"
        driver.find_element(By.ID, "refund-password").send_keys(spec["manager_password"])
        driver.find_element(By.ID, "refund").click()
        done = text(driver, "#refunded-now")
        assert done.startswith("已退款 ¥5.00"), done
        refund = text(driver, "#refunds li .pay-amount")
        say("REFUND_SHOWN", refund, text(driver, "#order-refundable"))
        assert ask("REFUNDED") == "1 500"
        screen(driver, "done")
        # A reload of the answer does not refund again (the answer was a redirect to a GET).
        driver.refresh()
        wait_for(driver, "#refunds li")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#refunds li")) == 1
        assert ask("REFUNDED") == "1 500"
        # The takings of the day show it.
        driver.find_element(By.CSS_SELECTOR, "a[href='/console']").click()
        refunds = wait_for(driver, "#takings-refunds")
        WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "takings-refunds").is_displayed())
        say("TAKINGS", refunds.text.strip())
        screen(driver, "takings")
        same_host_only(driver, base)
        no_console_errors(driver)

        # The cashier: the order's page has no refund form, and a form posted anyway is refused.
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, "#phone")
        log_in(driver, base, spec["cashier_phone"], spec["cashier_password"])
        driver.get(base + "/console/orders/" + no)
        wait_for(driver, "#order")
        assert not driver.find_elements(By.ID, "refund-form")
        assert not driver.find_elements(By.CSS_SELECTOR, "input[name=token]")
        screen(driver, "cashier")
        driver.execute_script(
            """
            var f = document.createElement("form");
            f.method = "post";
            f.action = "/console/orders/" + arguments[0] + "/refund";
            [["token", "console-AAAAAAAAAAAAAAAAAAAAAAAA"], ["amount", "5.00"], ["reason", ""], ["password", arguments[1]]].forEach(function (kv) {
              var i = document.createElement("input");
              i.type = "hidden"; i.name = kv[0]; i.value = kv[1];
              f.appendChild(i);
            });
            document.body.appendChild(f);
            f.submit();
            """,
            no,
            spec["cashier_password"],
        )
        wait_for(driver, "#managers-only")
        say("CASHIER_REFUSED", "managers-only")
        assert ask("REFUNDED") == "1 500"
        screen(driver, "cashier-refused")
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
