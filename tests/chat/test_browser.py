"""The chat page in Debian's Chromium against a live Daphne server.

Two people in two browser contexts: the channel comes up secure, messages
go both ways exactly once with their delivery ticks, history survives a
reload, a server restart is survived by reconnecting, a tampered key set is
refused, and the page raises no CSP violation. Screenshots of the page
(desktop and phone width) go to docs/img/.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser_session import force_login

pytestmark = [pytest.mark.live, pytest.mark.browser]

#: Where the screenshots go: docs/img/ when SECUREMSG_SCREENSHOTS=1 (to refresh the
#: README's pictures), otherwise the test's temp dir, so a test run leaves the tree clean.
DOCS_IMG_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"
SECURE = "#status[data-state=secure]"


class ChatPage:
    """One signed-in person's chat page."""

    def __init__(self, context: Any, server: Any, user: Any) -> None:
        force_login(context, user, server.url)
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        self.server = server
        self.page.goto(f"{server.url}/chat/")

    def wait_secure(self, timeout: float = 20_000) -> None:
        self.page.wait_for_selector(SECURE, timeout=timeout)

    def open_conversation(self, username: str) -> None:
        self.page.click(f"#conversations [data-user={username}]")

    def send(self, text: str) -> None:
        self.page.fill("#body", text)
        self.page.press("#body", "Enter")

    def bodies(self) -> list[str]:
        return [
            t.strip()
            for t in self.page.locator("#messages .message .message-body").all_inner_texts()
        ]

    def wait_for_body(self, text: str, timeout: float = 20_000) -> None:
        self.page.locator("#messages .message .message-body", has_text=text).first.wait_for(
            timeout=timeout
        )

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


@pytest.fixture
def people(live_vault, daphne, chromium, user_factory):
    """alice and bob, each signed in with their own browser context."""
    alice_user, bob_user = user_factory("alice"), user_factory("bob")
    contexts = [chromium.new_context(), chromium.new_context()]
    try:
        yield ChatPage(contexts[0], daphne, alice_user), ChatPage(contexts[1], daphne, bob_user)
    finally:
        for context in contexts:
            context.close()


def test_two_people_chat_securely(people):
    alice, bob = people
    alice.wait_secure()
    bob.wait_secure()
    fingerprint = alice.page.inner_text("#fingerprint")
    assert re.fullmatch(r"([0-9a-f]{4}[ :]?){16}", fingerprint.strip()), fingerprint

    alice.open_conversation("bob")
    alice.send("hello bob, this is alice")
    bob.open_conversation("alice")
    bob.wait_for_body("hello bob, this is alice")
    bob.send("hi alice")
    alice.wait_for_body("hi alice")

    # Delivery ticks: alice's message reaches "delivered" once bob's client confirms it.
    alice.page.wait_for_selector("#messages .message[data-state=delivered]", timeout=20_000)
    # Exactly once on each side.
    assert alice.bodies().count("hello bob, this is alice") == 1
    assert bob.bodies().count("hello bob, this is alice") == 1
    assert bob.bodies().count("hi alice") == 1

    # A reload shows the history.
    bob.page.reload()
    bob.wait_secure()
    bob.open_conversation("alice")
    bob.wait_for_body("hello bob, this is alice")
    assert bob.bodies().count("hello bob, this is alice") == 1

    assert not alice.csp_violations() and not bob.csp_violations()
    for person in people:
        assert not [line for line in person.console if "pageerror" in line], person.console


def test_reconnect_after_server_restart_delivers_queued_messages(people, daphne):
    alice, bob = people
    alice.wait_secure()
    bob.wait_secure()
    alice.open_conversation("bob")
    bob.open_conversation("alice")
    daphne.stop(kill=True)
    alice.page.wait_for_selector(
        "#status[data-state=reconnecting], #status[data-state=connecting]", timeout=20_000
    )
    # Written while the server is down: queued, then sent after the re-handshake.
    alice.send("sent while the server was down")
    daphne.start()
    alice.wait_secure(timeout=40_000)
    bob.wait_secure(timeout=40_000)
    bob.wait_for_body("sent while the server was down", timeout=30_000)
    assert bob.bodies().count("sent while the server was down") == 1
    alice.page.wait_for_selector("#messages .message[data-state=delivered]", timeout=20_000)


def test_every_module_is_covered_by_subresource_integrity(
    live_vault, daphne, chromium, user_factory
):
    # A module deep in the import graph, changed on the way (a proxy, a CDN):
    # its modulepreload integrity fails and the chat never starts.
    user = user_factory("alice")
    context = chromium.new_context()
    try:

        def tamper(route: Any) -> None:
            response = route.fetch()
            route.fulfill(response=response, body=response.text() + "\n// changed in transit\n")

        context.route(re.compile(r".*/static/js/securemsg/records\.mjs$"), tamper)
        chat = ChatPage(context, daphne, user)
        chat.page.wait_for_function("() => document.readyState === 'complete'", timeout=20_000)
        deadline = 20_000
        while deadline > 0 and not any("integrity" in line for line in chat.console):
            chat.page.wait_for_timeout(250)
            deadline -= 250
        assert any("records.mjs" in line and "integrity" in line for line in chat.console), (
            chat.console
        )
        chat.page.wait_for_timeout(1_000)
        assert chat.page.locator(SECURE).count() == 0
        assert chat.page.locator("#body").is_disabled()
    finally:
        context.close()

    # Untouched, the same page comes up secure (the preloads are the modules it imports).
    context = chromium.new_context()
    try:
        chat = ChatPage(context, daphne, user)
        chat.wait_secure()
        html = chat.page.content()
        assert (
            html.count('rel="modulepreload"') == len(re.findall(r"integrity=\"sha384-", html)) - 1
        )
        assert not any("integrity" in line for line in chat.console), chat.console
    finally:
        context.close()


def test_unendorsed_signing_key_change_is_refused(live_vault, daphne, chromium, user_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from securemsg.protocol import b64u_encode, fingerprint

    user = user_factory("alice")
    context = chromium.new_context()
    try:
        first = ChatPage(context, daphne, user)
        first.wait_secure()  # trust on first use: the real signing key is pinned now
        first.page.close()

        # The test serves a key set whose signing key was swapped for another one
        # with no endorsement from the pinned key, in the page and in keys.json.
        forged = rsa.generate_private_key(65537, 2048).public_key()
        spki = forged.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        real = json.dumps(live_vault, separators=(",", ":"))
        tampered = json.loads(real)
        for key in tampered["keys"]:
            if key["use"] == "sig":
                key["spki"], key["fingerprint"] = b64u_encode(spki), fingerprint(spki)

        def swap_embedded(route: Any) -> None:
            response = route.fetch()
            html = response.text()
            document = json.dumps(tampered).replace("<", "\\u003C").replace(">", "\\u003E")
            html = re.sub(
                r'(<script id="securemsg-keys" type="application/json">)(.*?)(</script>)',
                lambda m: m.group(1) + document + m.group(3),
                html,
                flags=re.S,
            )
            route.fulfill(response=response, body=html)

        def swap_keys_json(route: Any) -> None:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(tampered))

        context.route(re.compile(r".*/chat/$"), swap_embedded)
        context.route(re.compile(r".*/\.well-known/securemsg/keys\.json.*"), swap_keys_json)
        second = ChatPage(context, daphne, user)
        second.page.wait_for_selector("#key-warning:visible", timeout=20_000)
        second.page.wait_for_selector("#status[data-state=failed]", timeout=20_000)
        assert second.page.locator(SECURE).count() == 0
    finally:
        context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", (1280, 800)), ("phone", (390, 844))])
def test_screenshots(live_vault, daphne, chromium, user_factory, name, viewport, tmp_path):
    users = {n: user_factory(n) for n in ("alice", "bob", "carol")}
    width, height = viewport
    contexts = [chromium.new_context(viewport={"width": width, "height": height}) for _ in range(2)]
    try:
        alice = ChatPage(contexts[0], daphne, users["alice"])
        bob = ChatPage(contexts[1], daphne, users["bob"])
        alice.wait_secure()
        bob.wait_secure()
        alice.open_conversation("bob")
        alice.send("Hi Bob! The quarterly report is ready for review.")
        bob.open_conversation("alice")
        bob.wait_for_body("quarterly report")
        bob.send("Thanks, I'll read it this afternoon.")
        alice.wait_for_body("this afternoon")
        alice.page.wait_for_selector("#messages .message[data-state=delivered]", timeout=20_000)
        img_dir = DOCS_IMG_DIR if os.environ.get("SECUREMSG_SCREENSHOTS") == "1" else tmp_path
        img_dir.mkdir(parents=True, exist_ok=True)
        path = img_dir / f"chat-{name}.png"
        alice.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000  # a rendered page, not an empty image
        assert not alice.csp_violations()
    finally:
        for context in contexts:
            context.close()
