"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.browser import launch_chromium
from tests.support.daphne_server import DaphneServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

# --backend=sqlite|postgres-redis, the real Redis/PostgreSQL fixtures (tests/support/services.py);
# server keys made once per session (tests/support/keypool.py).
pytest_plugins = ["tests.support.services", "tests.support.keypool"]

#: A password that passes every validator; tests scan for it where secrets must not appear.
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(scope="session", autouse=True)
def asgi_application_loaded() -> None:
    """Import the ASGI application once, before any test.

    Its first import runs ``django.setup()`` (``get_asgi_application``), whose
    logging setup replaces the root logger's handlers, caplog's among them: a
    test that was the first in its process to open a socket saw no log
    records, so its log assertions failed, or passed for want of records.
    Imported inside an event loop, as the tests' own imports are, so the
    audit key is loaded lazily, as it is under the tests.
    """
    import asyncio

    async def load() -> None:
        import securemsg.asgi  # noqa: F401

    asyncio.run(load())


@pytest.fixture
def password() -> str:
    """The password every factory-made user has."""
    return PASSWORD


@pytest.fixture
def user_factory(db: None) -> Callable[..., Any]:
    """Create users: ``user_factory("alice", is_staff=True)``."""
    from accounts.models import User

    def make(username: str = "alice", password: str = PASSWORD, **fields: Any) -> User:
        return User.objects.create_user(username=username, password=password, **fields)

    return make


@pytest.fixture(autouse=True)
def audit_sinks(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test gets its own audit file and a master key for the audit (MAC) key.

    ``securemsg.audit.record`` needs both (docs/audit.md, "Keyed chain" and
    "Second sink"); without this, tests would write to the repository's
    ``data/``. Test packages that build their own key vault override
    ``KEYVAULT_MASTER_KEY_FILE`` after this fixture ran.
    """
    from keyvault.kms.local import LocalBackend

    base = tmp_path_factory.mktemp("audit-sinks")
    keyring = base / "master-keyring.json"
    LocalBackend(keyring).create()
    settings.KEYVAULT_MASTER_KEY_FILE = str(keyring)
    settings.SECUREMSG_AUDIT_FILE = str(base / "audit.jsonl")
    return base / "audit.jsonl"


@pytest.fixture(autouse=True)
def staff_otp_off_unless_marked(
    request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staff two-factor is off for tests not marked ``otp`` (tests/accounts/test_staff_otp.py).

    Admin tests elsewhere use ``force_login``; the environment variable covers
    the live servers that tests start.
    """
    if request.node.get_closest_marker("otp") is None:
        settings.SECUREMSG_STAFF_OTP_REQUIRED = False
        monkeypatch.setenv("SECUREMSG_STAFF_OTP_REQUIRED", "0")


# --- Live servers and the browser ----------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last.

    Playwright's sync API keeps an event loop running in the main thread for
    as long as the (session-wide) browser lives; asyncio tests that ran after
    it could not start their own loop.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def live_env(
    transactional_db: None, tmp_path_factory: pytest.TempPathFactory, settings: Any
) -> dict[str, str]:
    """Environment for a server process that shares this test's database and key vault.

    ``transactional_db`` commits every row, so the server sees what the test
    created, and the tables are flushed afterwards. The test process and the
    server use the same master keyring file (RSA-2048 keys, for speed).
    """
    import keyvault
    from keyvault.kms.local import LocalBackend

    db = settings.DATABASES["default"]
    data_dir = tmp_path_factory.mktemp("server-data")
    keyring = data_dir / "master-keyring.json"
    # Created now: every audit event needs the audit key, which the master key wraps.
    LocalBackend(keyring).create()
    settings.KEYVAULT_MASTER_KEY_FILE = str(keyring)
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    keyvault.reset_caches()
    env = {
        "SECUREMSG_ENV": "dev",
        "SECUREMSG_DATA_DIR": str(data_dir),
        "SECRET_KEY": settings.SECRET_KEY,
        "SECUREMSG_MASTER_KEY_FILE": str(keyring),
        "SECUREMSG_KEY_ALGORITHM": "RSA-2048",
        # The same second sink as the test process, so both write one file.
        "SECUREMSG_AUDIT_FILE": str(settings.SECUREMSG_AUDIT_FILE),
    }
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    return env


@pytest.fixture
def live_vault(live_env: dict[str, str]) -> dict[str, Any]:
    """Initialise the key vault shared with live servers; return its keys.json document."""
    from django.core.management import call_command

    import keyvault

    call_command("keyvault", "init", verbosity=0)
    return keyvault.keys_document()


@pytest.fixture
def daphne(live_env: dict[str, str], tmp_path: Path) -> Iterator[DaphneServer]:
    """A real Daphne server on a free localhost port, stopped after the test."""
    server = DaphneServer(env=live_env, log_path=tmp_path / "daphne.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Playwright]:
    """Playwright's sync API (one per test session; every browser is launched from it)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API drives an event loop in this thread; Django's ORM
    # calls in the same test are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def chromium(playwright_api: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (one per test session)."""
    browser = launch_chromium(playwright_api)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def browser_context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (cookies, storage) for one test."""
    context = chromium.new_context()
    try:
        yield context
    finally:
        context.close()
