"""Debian's Chromium, headless, driven by Playwright's Python API.

Browsers are never downloaded: Playwright gets ``executable_path`` pointing
at the Debian package. The flags keep Chromium from calling home, which
this machine's closed network would refuse anyway.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def chromium_path() -> str:
    """Path of Debian's ``chromium`` binary; raises if the package is missing."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(path):
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium)")
    return path


def launch_chromium(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    """Launch Debian's Chromium, headless, with :data:`CHROMIUM_ARGS` plus ``extra_args``."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )
