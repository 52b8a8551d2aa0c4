"""Drives the cashier and collection pages in headless Chromium, as a user would, for crates/cli/tests/cashier.rs.

Usage: cashier_browser.py SPEC_JSON. SPEC is {"scenarios": [{"name", "url", "phone", ...}], "screens": DIR?}; each
scenario runs in a browser of its own (a fresh profile: no session carried over), a phone-sized window (390x844) whose
browser prefers Chinese (zh-CN), as most of the cashier's users' do. With "screens", the pages are saved there as
cashier-*.png (docs/screens in the repository). The Rust test answers on stdin:
  we print  "SMS <phone>"                      after asking the page for a login code; it answers with the code
  we print  "RESULT <name> <transaction_id> <amount>"  from the result page
  we print  "DONE"                             at the end
Selenium is given chromedriver and chromium by path, so that Selenium Manager never looks for them online.
"""

import json
import sys

import browser_common
from browser_common import browser, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

GREEN = "rgba(7, 193, 96, 1)"




def chinese(driver):
    lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
    assert lang == "zh-CN", lang


def send_code(driver, phone):
    """The phone step; answers the code step's field."""
    wait_for(driver, "#phone").send_keys(phone)
    driver.find_element(By.ID, "send-code").click()
    code_field = wait_for(driver, "#code")
    chinese(driver)
    assert "验证码已发送" in driver.page_source
    return code_field


def sms(phone):
    say("SMS", phone)
    code = sys.stdin.readline().strip()
    assert len(code) == 6, f"no SMS code from the test: {code!r}"
    return code


def log_in(driver, phone, shot=None):
    code_field = send_code(driver, phone)
    code = sms(phone)
    code_field.send_keys(code)
    if shot:
        screen(driver, shot)
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


def result(driver, name, shot=None):
    tid = text(driver, "#transaction-id")
    amount = text(driver, "#amount")
    assert "支付成功" in text(driver, "#result h1")
    assert driver.current_url.split("?")[0].endswith("/cashier/result"), driver.current_url
    # The success mark, drawn (green, round), and the 完成 button.
    mark = driver.find_element(By.ID, "success-mark")
    assert mark.text == "✓" and mark.is_displayed() and mark.value_of_css_property("background-color") == GREEN, mark.text
    assert text(driver, "#done") == "完成", text(driver, "#done")
    for label in ("商户", "支付时间", "交易单号", "商户单号"):
        assert label in text(driver, "#result dl"), text(driver, "#result dl")
    if shot:
        screen(driver, shot)
    say("RESULT", name, tid, amount)


def h5(driver, s):
    driver.get(s["url"])
    chinese(driver)
    assert text(driver, "#amount") == s["amount"], text(driver, "#amount")
    assert text(driver, "#description") == s["description"], text(driver, "#description")
    assert "登录后付款" in driver.page_source
    screen(driver, "order")
    log_in(driver, s["phone"], shot="login")
    check_rendering(driver)
    # Within the password-free limit: no PIN asked.
    assert not driver.find_elements(By.ID, "pin")
    assert text(driver, "#pay") == "确认支付 " + s["amount"], text(driver, "#pay")
    screen(driver, "confirm")
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"], shot="receipt")
    if "back" in s:
        # The h5_url carried a redirect_url: 完成 leads back to the merchant's page.
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
    assert "支付密码错误" in error and "还可以再试 4 次" in error, error
    screen(driver, "pin")
    wait_for(driver, "#pin").send_keys(s["pin"])
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"])


def collect(driver, s):
    driver.get(s["url"])
    chinese(driver)
    assert text(driver, "#merchant") == s["merchant"], text(driver, "#merchant")
    # The switch to English and back: each page in the language chosen, remembered by the forms after it.
    driver.find_element(By.ID, "lang-switch").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert text(driver, "main h1") == "Pay the merchant", text(driver, "main h1")
    driver.find_element(By.ID, "lang-switch").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN")
    log_in(driver, s["phone"])
    check_rendering(driver)
    screen(driver, "collect")
    # A mistyped amount is refused in plain words, and nothing is paid.
    wait_for(driver, "#amount-input").send_keys("12.345")
    driver.find_element(By.ID, "pay").click()
    assert "最多两位小数" in text(driver, "#error"), text(driver, "#error")
    field = wait_for(driver, "#amount-input")
    field.clear()
    field.send_keys(s["amount"])
    driver.find_element(By.ID, "pay").click()
    result(driver, s["name"])


def register(driver, s):
    """A phone without a wallet: the code, the offer to open one, the order page saying 余额不足 and how to top up;
    then the collection code refuses a payment from the empty wallet (the failure page)."""
    driver.get(s["url"])
    code = send_code(driver, s["phone"])
    code.send_keys(sms(s["phone"]))
    driver.find_element(By.ID, "login").click()
    offer = text(driver, "#register-offer")
    assert "开通钱包" in offer and "还没有 saoma 钱包" in offer, offer
    screen(driver, "register")
    driver.find_element(By.ID, "register").click()
    # Back on the order, logged in to the new, empty wallet.
    assert s["phone"][-4:] in text(driver, "#payer"), text(driver, "#payer")
    assert text(driver, "#balance") == "¥0.00", text(driver, "#balance")
    error = text(driver, "#error")
    assert "余额不足" in error and "充值" in error and s["amount"] in error, error
    assert not driver.find_elements(By.ID, "pay")
    chinese(driver)
    screen(driver, "not-enough")
    driver.get(s["collect"])
    wait_for(driver, "#amount-input").send_keys("5")
    driver.find_element(By.ID, "pay").click()
    assert "支付失败" in text(driver, "#result h1"), text(driver, "#result h1")
    assert "余额不足" in text(driver, "#error") and "本次未扣款" in driver.page_source, text(driver, "#error")
    screen(driver, "failure")
    say("REGISTERED", s["phone"])


def screen(driver, name):
    browser_common.screen(driver, name, "cashier")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    for s in spec["scenarios"]:
        driver = browser()
        try:
            {"h5": h5, "pin": pin, "collect": collect, "register": register}[s["kind"]](driver, s)
        except Exception:
            sys.stderr.write(f"scenario {s['name']} failed at {driver.current_url}\n{driver.page_source}\n")
            raise
        finally:
            driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
