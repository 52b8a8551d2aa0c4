"""Drives the wallet's scan page (`/scan`) in headless Chromium, as a customer paying a merchant's QR code
would, for crates/cli/tests/wallet_scan.rs: paste the first code_url and pay it; pick a photo (a PNG this
server draws) of the second and pay it; pick a photo of a code that leads to another site and read why
it is refused.

Usage: wallet_scan_browser.py SPEC_JSON, SPEC {"base", "phone", "first", "second", "screens"?}. The Rust
test plays the SMS gateway, answering on stdin:
  we print  "SMS <phone>"       it answers with the login code
  we print  "RESULT <amount>"   from each receipt
  we print  "DONE"              at the end
"""

import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def screen(driver, name):
    browser_common.screen(driver, name, "scan")


def photo_of(base, content, folder):
    """A picture of a QR code holding `content`, as a phone's photo library would hand it over."""
    path = os.path.join(folder, f"qr-{abs(hash(content))}.png")
    with urllib.request.urlopen(base + "/qr.png?scale=6&text=" + urllib.parse.quote(content, safe="")) as r, open(path, "wb") as f:
        f.write(r.read())
    return path


def pay_and_read_receipt(driver, shot):
    pay = wait_for(driver, "#pay")
    assert driver.current_url.split("?")[0].endswith("/cashier/scan"), driver.current_url
    assert text(driver, "#merchant") == "扫码小店", text(driver, "#merchant")
    if shot:
        screen(driver, shot)
    pay.click()
    wait_for(driver, "#success-mark")
    say("RESULT", text(driver, "#amount"))


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    base = spec["base"]
    folder = tempfile.mkdtemp()
    driver = browser()
    try:
        driver.get(base + "/")
        wait_for(driver, "#phone").send_keys(spec["phone"])
        driver.find_element(By.ID, "send-code").click()
        wait_for(driver, "#code").send_keys(ask("SMS", spec["phone"]))
        driver.find_element(By.ID, "login").click()
        wait_for(driver, "#scan").click()

        # Pasted text.
        field = wait_for(driver, "#scan-text")
        assert driver.find_element(By.CSS_SELECTOR, "label[for=scan-text]").text, "the field has a label"
        fits(driver)
        screen(driver, "form")
        field.send_keys(spec["first"])
        driver.find_element(By.ID, "scan-go").click()
        pay_and_read_receipt(driver, "confirm")
        screen(driver, "receipt")

        # A photo: the page shows the picker only where its script runs.
        driver.get(base + "/scan")
        picker = wait_for(driver, "#scan-photo")
        assert driver.find_element(By.ID, "photo-card").is_displayed()
        picker.send_keys(photo_of(base, spec["second"], folder))
        pay_and_read_receipt(driver, None)
        no_console_errors(driver)
        same_host_only(driver, base)

        # A photo of a code that leads elsewhere: not followed, and the page says why.
        driver.get(base + "/scan")
        wait_for(driver, "#scan-photo").send_keys(photo_of(base, "https://pay.evil.example/collect/1", folder))
        WebDriverWait(driver, 15).until(lambda d: "其他网站" in d.find_element(By.ID, "photo-status").text)
        assert driver.current_url.endswith("/scan"), driver.current_url
        screen(driver, "refused")
    finally:
        driver.quit()
    say("DONE")


if __name__ == "__main__":
    main()
