"""Sign-in through a real Daphne server in Debian's Chromium."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from accounts.session_store import stored_key

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_sign_in_and_out_in_the_browser(daphne, browser_context, user_factory, password):
    user_factory("alice")
    page = browser_context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.goto(f"{daphne.url}/")
    assert page.url.endswith("/accounts/login/?next=/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne.url}/")
    assert "Welcome, alice" in page.inner_text("main")
    # The stylesheet loaded under the CSP (a blocked sheet would leave the default body margin).
    assert page.eval_on_selector("body", "el => getComputedStyle(el).margin") == "0px"
    # The server stored the hash of the browser's session cookie, not the cookie.
    (cookie,) = [c["value"] for c in browser_context.cookies() if c["name"] == "sessionid"]
    assert list(Session.objects.values_list("session_key", flat=True)) == [stored_key(cookie)]
    page.click("text=Sign out")
    page.wait_for_url(f"{daphne.url}/accounts/login/")
    assert not Session.objects.filter(session_key=stored_key(cookie)).exists()
    assert not [line for line in console if "Content Security Policy" in line], console


def test_wrong_password_in_the_browser(daphne, browser_context, user_factory):
    user_factory("alice")
    page = browser_context.new_page()
    page.goto(f"{daphne.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not-the-password-1")
    page.click("button[type=submit]")
    assert "did not match" in page.inner_text("main")
