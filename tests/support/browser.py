"""Debian's Chromium, headless, driven by Playwright's Python API.

Browsers are never downloaded: Playwright gets ``executable_path`` pointing
at the Debian package. The flags keep Chromium from calling home, which
this machine's closed network would refuse anyway.
"""

from __future__ import annotations

import shutil

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
