"""The web chat in a real headless Chromium against the whole stack: demo shop, action server, Rasa, widget server.

Needs Debian's `chromium` (/usr/bin/chromium; `make system-deps` installs it) and the pinned `playwright`
Python package. Without Chromium the test fails: CI installs it, so a skip would only hide a broken setup.
"""

from __future__ import annotations

import re
import sys
import threading
from decimal import Decimal
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from actions import customer_token
from channels.sessions import random_enough
from tests.conftest import ShopApi
from tests.support.processes import REPO, Service, free_port
from tests.support.stack import start_stack

SECRET = "browser-customer-token-secret-0123456789"
CUSTOMER = "C1001"  # seeded: one returned order with an issued refund, one shipped, one delivered
RESULTS = REPO / "results"
ERROR_TEXT = "We can't reach the assistant right now. Please try again in a minute."
BOT = ".lc-row-bot:not(.lc-error-row)"
REPLY_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webchat-stack")
    running = start_stack(tmp, env={"CUSTOMER_TOKEN_SECRET": SECRET}, rasa_args=("--cors", "*"))
    port = free_port()
    widget = Service(
        "webchat",
        [sys.executable, "-m", "webchat"],
        {"WEBCHAT_PORT": str(port), "RASA_PUBLIC_URL": running.rasa_url},
        tmp / "webchat.log",
    )
    try:
        widget.wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
    except Exception:
        running.stop()
        raise
    running.web_url = f"http://127.0.0.1:{port}"
    yield running
    widget.stop()
    running.stop()


@pytest.fixture(scope="module")
def shop(stack):
    return ShopApi(stack.shop_url)


@pytest.fixture(scope="module")
def token():
    return customer_token.issue(CUSTOMER, secret=SECRET)


class ShopPage:
    """A signed-in shopper's page on a shop's own origin, embedding the widget from the web chat server.

    The way a real shop does it: its server renders the shopper's signed token into the embed's attribute.
    (Chromium's local network access rules block fetches to 127.0.0.1 from a page a test fulfils itself,
    so the page comes from a real loopback server.)
    """

    def __init__(self, web_url: str, token: str):
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>My account · Larkspur Home</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{web_url}/widget.css"></head>
<body><main><h1>My account</h1>
<div id="support-chat" data-larkspur-chat data-customer-token="{html_escape(token)}"></div></main>
<script src="{web_url}/config.js"></script><script src="{web_url}/widget.js"></script></body></html>
""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(html) if self.path == "/" else 0))
                self.end_headers()
                if self.path == "/":
                    self.wfile.write(html)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def shop_page(stack, token):
    page = ShopPage(stack.web_url, token)
    yield page.url
    page.stop()


@pytest.fixture(scope="module")
def context(browser):
    """One browser profile: localStorage survives reloads and is shared by its tabs."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(REPLY_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context, shop_page):
    tab = context.new_page()
    tab.goto(shop_page)
    return tab


def bot_texts(page) -> list:
    return page.locator(BOT).all_inner_texts()


def reply_to(page, act) -> str:
    """Do `act` (send a message), wait until the assistant answered; returns the new bot messages' text."""
    before = page.locator(BOT).count()
    act()
    page.wait_for_function(
        """([selector, before]) => !document.querySelector('.lc-root').classList.contains('lc-waiting')
             && (document.querySelectorAll(selector).length > before || document.querySelector('.lc-error-row'))""",
        arg=[BOT, before],
        timeout=REPLY_TIMEOUT_MS,
    )
    assert page.locator(".lc-error-row").count() == 0, f"the widget shows an error: {page.inner_text('.lc-log')}"
    return "\n".join(bot_texts(page)[before:])


def type_and_send(page, text: str) -> str:
    def act():
        page.get_by_label("Your message").focus()
        page.keyboard.type(text)
        page.keyboard.press("Enter")

    return reply_to(page, act)


def sender_id(page) -> str:
    return page.evaluate("() => localStorage.getItem('larkspur-chat:sender')")


def test_the_page_is_an_accessible_chat(page):
    assert page.locator("[role=log][aria-live=polite]").count() == 1
    field = page.get_by_label("Your message")
    assert field.evaluate("e => e.tagName") == "INPUT"
    assert page.get_by_role("button", name="Send").count() == 1
    assert page.get_by_role("button", name="New conversation").count() == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sender_id(page)) and random_enough(sender_id(page))
    # keyboard: Tab reaches the controls and the focused one shows a visible outline
    field.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Send"
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"


def test_a_whole_conversation(page, stack, shop, token):
    # greeting, typed with the keyboard and sent with Enter; the token travels in the metadata
    with page.expect_request(re.compile(r"/webhooks/rest/webhook$")) as sent:
        greeting = type_and_send(page, "hi")
    body = sent.value.post_data_json
    assert body["message"] == "hi" and body["sender"] == sender_id(page)
    assert body["metadata"] == {"customer_token": token}
    assert "Larkspur Home" in greeting
    assert page.locator(".lc-row-user").last.inner_text().endswith("hi")
    assert page.get_by_label("Your message").evaluate("e => e === document.activeElement && e.value === ''")
    assert page.locator(".lc-typing").is_hidden()

    # the bot's quick replies: "what can you do?" offers buttons; clicking one sends its payload
    help_text = type_and_send(page, "what can you do?")
    assert "Here's what I can do" in help_text
    help_buttons = page.locator(BOT).filter(has_text="Here's what I can do").last.locator(".lc-quick")
    assert "Where is my order?" in help_buttons.all_inner_texts()
    with page.expect_request(re.compile(r"/webhooks/rest/webhook$")) as sent:
        question = reply_to(page, lambda: page.get_by_role("button", name="Where is my order?").click())
    assert sent.value.post_data_json["message"] == "/check_order_status"
    assert page.locator(".lc-row-user").last.inner_text().endswith("Where is my order?")
    assert all(help_buttons.nth(i).is_disabled() for i in range(help_buttons.count())), "old buttons stay enabled"
    assert page.evaluate("() => document.activeElement.classList.contains('lc-input')")

    # verified by the token, the shopper is offered their own orders; pick a shipped one
    assert "Which order is it about?" in question
    shipped = {
        o["id"] for o in shop.get("/v1/orders", params={"customer_id": CUSTOMER, "status": "shipped"}).json()["orders"]
    }
    offered = page.locator(BOT).last.locator(".lc-quick")
    titles = offered.all_inner_texts()
    order_id = next(t.split(" ")[0] for t in titles if t.split(" ")[0] in shipped)
    choice = next(t for t in titles if t.startswith(order_id + " "))
    with page.expect_request(re.compile(r"/webhooks/rest/webhook$")) as sent:
        status = reply_to(page, lambda: page.get_by_role("button", name=choice, exact=True).click())
    assert sent.value.post_data_json["message"] == f'/inform{{"order_id":"{order_id}"}}'
    assert page.locator(".lc-row-user").last.inner_text().endswith(choice)

    # the answer matches the demo shop: status, carrier, tracking number and a safe tracking link
    order = shop.get(f"/v1/orders/{order_id}").json()
    shipment = order["shipment"]
    assert order["status"] == "shipped" and f"Order {order_id}" in status and "shipped" in status
    assert shipment["carrier"] in status and shipment["tracking_number"] in status
    link = page.locator(BOT).last.locator("a", has_text=shipment["tracking_url"])
    assert link.get_attribute("href") == shipment["tracking_url"]
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"

    # a typed follow-up: the refund of the returned order, against the payments API
    returned = shop.get("/v1/orders", params={"customer_id": CUSTOMER, "status": "returned"}).json()["orders"][0]
    refund = shop.get("/v1/payments", params={"order_id": returned["id"]}).json()["refunds"][0]
    answer = type_and_send(page, "and where is my refund?")
    assert f"order {returned['id']}" in answer and f"€{Decimal(refund['amount']):,.2f}" in answer

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "webchat-conversation.png"), full_page=True)


def test_the_conversation_survives_a_reload(page, stack):
    before_texts = page.locator(".lc-bubble").all_inner_texts()
    before_sender = sender_id(page)
    assert len(before_texts) >= 8
    page.reload()
    page.wait_for_selector(".lc-bubble")
    assert page.locator(".lc-bubble").all_inner_texts() == before_texts
    assert sender_id(page) == before_sender
    quick = page.locator(".lc-quick")
    assert quick.count() >= 5 and all(quick.nth(i).is_disabled() for i in range(quick.count()))
    # the same conversation goes on in Rasa: one tracker holds the messages from before and after the reload
    assert "anything else" in type_and_send(page, "thanks!").lower()
    tracker = requests.get(f"{stack.rasa_url}/conversations/rest:{before_sender}/tracker", timeout=10).json()
    said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert said[0] == "hi" and said[-1] == "thanks!" and "/check_order_status" in said


def test_readable_on_a_phone(context, stack, shop_page):
    phone = context.new_page()
    phone.set_viewport_size({"width": 360, "height": 740})
    for url in (stack.web_url + "/", shop_page):  # the demo page, then the shop's page with the history
        phone.goto(url)
        phone.wait_for_selector(".lc-panel")
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 360, f"horizontal scroll on {url}"
        log_fits = "() => { const l = document.querySelector('.lc-log'); return l.scrollWidth <= l.clientWidth; }"
        assert phone.evaluate(log_fits)
        box = phone.locator(".lc-panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert phone.locator(".lc-bubble").count() >= 8  # the same conversation, from localStorage
    phone.get_by_label("Your message").scroll_into_view_if_needed()
    phone.screenshot(path=str(RESULTS / "webchat-phone.png"))
    phone.close()


def test_errors_are_shown_with_a_retry(browser, stack):
    ctx = browser.new_context()
    ctx.set_default_timeout(REPLY_TIMEOUT_MS)
    tab = ctx.new_page()
    tab.goto(stack.web_url + "/")
    webhook = re.compile(r"/webhooks/rest/webhook$")

    # server down: the request fails outright
    tab.route(webhook, lambda route: route.abort("connectionrefused"))
    tab.get_by_label("Your message").fill("hello")
    tab.get_by_label("Your message").press("Enter")
    error = tab.locator(".lc-error-row")
    error.wait_for()
    assert ERROR_TEXT in error.inner_text() and error.locator("[role=alert]").count() == 1
    assert tab.locator(".lc-typing").is_hidden()

    # retry once the assistant is back: the same message goes through, the error disappears
    tab.unroute(webhook)
    reply = reply_to(tab, lambda: tab.get_by_role("button", name="Try again").click())
    assert "Larkspur Home" in reply
    assert tab.locator(".lc-row-user").count() == 1  # retried, not duplicated

    # a non-200 answer
    tab.route(webhook, lambda route: route.fulfill(status=500, body="boom"))
    tab.get_by_label("Your message").fill("what can you do?")
    tab.get_by_label("Your message").press("Enter")
    tab.locator(".lc-error-row").wait_for()
    tab.unroute(webhook)

    # no answer at all: the typing indicator shows while waiting, then the fetch times out
    hang = tab.evaluate("""() => { const d = document.createElement('div'); d.id = 'slow-chat';
        document.querySelector('main').appendChild(d);
        LarkspurChat.mount(d, {timeoutMs: 1500, storageKey: 'slow-chat'}); return true; }""")
    assert hang
    tab.route(webhook, lambda route: None)  # never answered
    slow = tab.locator("#slow-chat")
    slow.get_by_label("Your message").fill("anyone there?")
    slow.get_by_label("Your message").press("Enter")
    assert slow.locator(".lc-typing").is_visible()
    slow.locator(".lc-error-row").wait_for(timeout=10_000)
    assert ERROR_TEXT in slow.locator(".lc-error-row").inner_text()
    assert slow.locator(".lc-typing").is_hidden()
    tab.unroute(webhook)
    ctx.close()


def test_a_new_conversation_and_a_stopped_assistant(page, stack):
    old = sender_id(page)
    page.get_by_role("button", name="New conversation").click()
    assert page.locator(".lc-bubble").count() == 0
    assert sender_id(page) != old
    assert page.evaluate("() => localStorage.getItem('larkspur-chat:history')") is None
    assert page.evaluate("() => document.activeElement.classList.contains('lc-input')")

    stack.rasa.stop()  # the real thing: the Rasa server is gone
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{stack.rasa_url}/status", timeout=2)
    page.get_by_label("Your message").fill("hello?")
    page.get_by_label("Your message").press("Enter")
    page.locator(".lc-error-row").wait_for(timeout=30_000)
    assert ERROR_TEXT in page.locator(".lc-error-row").inner_text()
    assert page.get_by_role("button", name="Try again").is_visible()
    assert page.locator(".lc-typing").is_hidden()


def test_bot_text_is_rendered_safely(browser, stack):
    """Bot text is text: markup stays visible, only http(s) URLs become links, **bold** and newlines work."""
    ctx = browser.new_context()
    tab = ctx.new_page()
    tab.goto(stack.web_url + "/")
    reply = [
        {
            "recipient_id": "x",
            "text": '<img src=x onerror="window.pwned=1"> **Bold** line\n'
            "second javascript:alert(1) and https://example.com/a?b=1&c=2.",
        },
        {"recipient_id": "x", "image": "javascript:alert(1)"},
        {"recipient_id": "x", "text": "Pick one", "buttons": [{"title": "<b>A</b>", "payload": "/affirm"}]},
    ]
    tab.route(
        re.compile(r"/webhooks/rest/webhook$"),
        lambda route: route.fulfill(status=200, content_type="application/json", json=reply),
    )
    tab.get_by_label("Your message").fill("test")
    tab.get_by_label("Your message").press("Enter")
    tab.get_by_role("button", name="<b>A</b>").wait_for()
    bubble = tab.locator(BOT).first
    assert bubble.locator("img").count() == 0 and tab.evaluate("() => window.pwned") is None
    assert '<img src=x onerror="window.pwned=1">' in bubble.inner_text()
    assert bubble.locator("strong").inner_text() == "Bold" and bubble.locator("br").count() == 1
    links = bubble.locator("a")
    assert links.count() == 1 and links.get_attribute("href") == "https://example.com/a?b=1&c=2"
    assert tab.locator(".lc-image").count() == 0  # a javascript: image is dropped
    ctx.close()
