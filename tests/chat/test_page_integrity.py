"""The chat page names every module of its import graph with a Subresource Integrity hash."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from django.test import Client

from securemsg.chat.views import CHAT_SCRIPT, module_graph

STATIC = Path(__file__).resolve().parents[2] / "static"


def _sri(path: str) -> str:
    digest = hashlib.sha384((STATIC / path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def test_the_graph_is_every_module_the_entry_reaches() -> None:
    graph = module_graph(CHAT_SCRIPT)
    assert "js/securemsg/connection.mjs" in graph  # imported by chat.mjs
    assert "js/securemsg/transcript.mjs" in graph  # two imports deep
    assert "js/securemsg/index.mjs" not in graph  # the library's entry, not imported here
    assert CHAT_SCRIPT not in graph
    for path in graph:
        assert (STATIC / path).is_file(), path


def test_the_page_preloads_each_module_with_its_hash(
    vault: dict[str, Any], user_factory: Any
) -> None:
    client = Client()
    client.force_login(user_factory("alice"))
    html = client.get("/chat/").content.decode()
    preloads = dict(
        re.findall(r'<link rel="modulepreload" href="/static/([^"]+)" integrity="([^"]+)">', html)
    )
    assert preloads == {path: _sri(path) for path in module_graph(CHAT_SCRIPT)}
    assert f'integrity="{_sri(CHAT_SCRIPT)}"' in html
