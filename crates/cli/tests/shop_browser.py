"""Drives the shop in headless Chromium for crates/cli/tests/shop.rs: a manager lists a product with stock 1
in the console, two buyers in two browsers open its card and pay at the same moment, one pays and the other is
told it sold out; the manager writes to the winner, who reads it in the wallet.

Usage: shop_browser.py SPEC_JSON, SPEC {"base", "manager_phone", "password", "buyers": [phone, phone],
"screens"?}. Phone-sized windows (390x844) preferring Chinese. Lines to the Rust test:
  we print  "SMS <phone> <purpose>"   it answers with the newest code of that purpose (console, login)
  we print  "STOCK"                   it answers with the product's stock in the database
  we print  "PAID <phone> paid|sold_out"   what each buyer's payment came to
  we print  "READ <text>"             the message the winner read in the wallet
  we print  "DONE"                    at the end
"""

import json
import os
import struct
import sys
import tempfile
import threading
import zlib

import browser_common
from browser_common import ask, browser, fits, no_console_errors, same_host_only, say, text, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

PRODUCT = "最后一瓶水"
MESSAGE = "你好，水已发货，谢谢惠顾！"


def screen(driver, name):
    browser_common.screen(driver, name, "shop")


def png_file():
    """A real 32x32 PNG (a blue square) to upload, written to a temporary file."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x20\x70\xd0" * 32 for _ in range(32))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    f = tempfile.NamedTemporaryFile(suffix=".png", delete=False)
    f.write(png)
    f.close()
    return f.name


def console_login(driver, spec):
    driver.get(spec["base"] + "/console")
    wait_for(driver, "#phone").send_keys(spec["manager_phone"])
    driver.find_element(By.ID, "send-code").click()
    wait_for(driver, "#code").send_keys(ask("SMS", spec["manager_phone"], "console"))
    driver.find_element(By.ID, "login").click()
    wait_for(driver, "#password").send_keys(spec["password"])
    driver.find_element(By.ID, "unlock").click()
    wait_for(driver, "#takings")


def list_product(driver, spec, picture):
    driver.find_element(By.CSS_SELECTOR, "a[href='/console/products']").click()
    wait_for(driver, "#product-add")
    driver.find_element(By.ID, "name").send_keys(PRODUCT)
    driver.find_element(By.ID, "price").send_keys("3.50")
    driver.find_element(By.ID, "stock").send_keys("1")
    driver.find_element(By.ID, "picture").send_keys(picture)
    screen(driver, "console-add")
    driver.find_element(By.ID, "add-product").click()
    assert PRODUCT in text(driver, "#done"), text(driver, "#done")
    # The picture shows (the browser decoded what the server kept).
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("var i = document.querySelector('li.product img.thumb'); return i && i.complete && i.naturalWidth === 32;"))
    fits(driver)
    screen(driver, "console-products")
    link = driver.find_element(By.CSS_SELECTOR, "li.product a.name").get_attribute("href")
    assert link.startswith(spec["base"] + "/shop/"), link
    return link


def buyer_to_cashier(driver, card, phone, shoot):
    """Opens the card, logs in to the wallet from it (back on the card), buys one: the cashier's pay button."""
    driver.get(card)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert text(driver, "#product-name") == PRODUCT
    assert text(driver, "#price") == "¥3.50"
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("var i = document.getElementById('picture'); return i && i.complete && i.naturalWidth === 32;"))
    assert driver.find_element(By.ID, "share-link").get_attribute("value") == card
    if shoot:
        screen(driver, "card-login")
    wait_for(driver, "#phone").send_keys(phone)
    driver.find_element(By.ID, "send-code").click()
    wait_for(driver, "#code").send_keys(ask("SMS", phone, "login"))
    driver.find_element(By.ID, "login").click()
    # Back on the card, logged in: the buy form.
    wait_for(driver, "#buy")
    assert driver.current_url == card, driver.current_url
    fits(driver)
    same_host_only(driver, card.split("/shop/")[0])
    if shoot:
        screen(driver, "card")
    driver.find_element(By.ID, "buy").click()
    wait_for(driver, "#pay")
    assert "/cashier/h5?prepay_id=wx" in driver.current_url, driver.current_url
    assert PRODUCT in text(driver, "#description")
    if shoot:
        screen(driver, "cashier")


def main():
    spec = json.loads(sys.argv[1])
    browser_common.SCREENS = spec.get("screens")
    picture = png_file()
    manager = browser()
    buyers = [browser(), browser()]
    try:
        console_login(manager, spec)
        card = list_product(manager, spec, picture)
        for i, (driver, phone) in enumerate(zip(buyers, spec["buyers"])):
            buyer_to_cashier(driver, card, phone, shoot=(i == 0))

        # Both pay at the same moment.
        gate = threading.Barrier(2)
        results = {}

        def pay(driver, phone):
            button = driver.find_element(By.ID, "pay")
            gate.wait()
            button.click()
            WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "success-mark") or d.find_elements(By.ID, "sold-out"))
            results[phone] = "paid" if driver.find_elements(By.ID, "success-mark") else "sold_out"

        threads = [threading.Thread(target=pay, args=(d, p)) for d, p in zip(buyers, spec["buyers"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results.values()) == ["paid", "sold_out"], results
        for phone in spec["buyers"]:
            say("PAID", phone, results[phone])
        winner_index = [results[p] for p in spec["buyers"]].index("paid")
        winner, loser = buyers[winner_index], buyers[1 - winner_index]
        winner_phone = spec["buyers"][winner_index]
        # The loser is told plainly, and nothing was charged (the page's 409 is the only error it logged).
        logged = [e for e in loser.get_log("browser") if e.get("level") == "SEVERE"]
        assert all("/cashier/pay" in e["message"] and "409" in e["message"] for e in logged), logged
        assert text(loser, "#sold-out") == "已售罄", text(loser, "#sold-out")
        assert "你没有被扣款" in text(loser, "#error")
        fits(loser)
        screen(loser, "sold-out")
        screen(winner, "paid")
        assert ask("STOCK") == "0"
        # The loser's way back: the shop, where it shows as sold out.
        loser.find_element(By.ID, "back").click()
        assert text(loser, "#products .stock") == "已售罄", text(loser, "#products .stock")
        screen(loser, "shop")

        # The manager finds the paid order in the inbox (the buyer masked) and writes to the winner.
        manager.find_element(By.CSS_SELECTOR, "a[href='/console/inbox']").click()
        order = wait_for(manager, "li.sold-order")
        masked = winner_phone[:3] + "****" + winner_phone[-4:]
        assert order.find_element(By.CSS_SELECTOR, ".buyer").text == masked, order.text
        assert order.find_element(By.CSS_SELECTOR, ".product").text == PRODUCT
        order.find_element(By.TAG_NAME, "textarea").send_keys(MESSAGE)
        order.find_element(By.CSS_SELECTOR, "button.send").click()
        wait_for(manager, "#done")
        assert text(manager, "li.sold-order .said") == MESSAGE
        fits(manager)
        screen(manager, "inbox")

        # The winner: the wallet's home counts it unread; the Messages page shows it.
        winner.get(spec["base"] + "/")
        assert text(winner, "#unread") == "1 条未读", text(winner, "#unread")
        screen(winner, "wallet-home")
        winner.find_element(By.ID, "messages-link").click()
        body = text(winner, "li.message p.body")
        fits(winner)
        screen(winner, "messages")
        say("READ", body)
        winner.get(spec["base"] + "/")
        wait_for(winner, "#messages-link")
        assert not winner.find_elements(By.ID, "unread"), "read once opened"
        for d in [manager] + buyers:
            no_console_errors(d)
    finally:
        for d in [manager] + buyers:
            d.quit()
        os.unlink(picture)
    say("DONE")


if __name__ == "__main__":
    main()
