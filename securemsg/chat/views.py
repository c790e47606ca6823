"""The chat page: the browser client's HTML shell."""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import re
from functools import lru_cache
from typing import Any, Final

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.views.generic import TemplateView

import keyvault
from accounts.models import User

CHAT_SCRIPT = "js/chat.mjs"
#: Static module imports (``import ... from "./x.mjs"``, ``export ... from``, ``import "./x.mjs"``).
_RELATIVE_IMPORT: Final = re.compile(
    r"""^\s*(?:import|export)\b[^;]*?["'](\.{1,2}/[^"']+\.mjs)["']""", re.M | re.S
)


def _mtime(static_path: str) -> int:
    """The file's modification time (ns), the cache key below; 0 when it is missing."""
    found = finders.find(static_path)
    return os.stat(str(found)).st_mtime_ns if found else 0


# Keyed by modification time, so a changed file is read again. Sized for every
# module of the page (the graph has about fifteen): a smaller cache evicted in
# a cycle and re-read each file on every page view.
@lru_cache(maxsize=256)
def _integrity(static_path: str, mtime_ns: int) -> str:
    found = finders.find(static_path)
    if not found:
        return ""
    with open(str(found), "rb") as handle:
        digest = hashlib.sha384(handle.read()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def static_integrity(static_path: str) -> str:
    """Subresource Integrity value of a static file (recomputed when the file changes)."""
    return _integrity(static_path, _mtime(static_path))


@lru_cache(maxsize=256)
def _imports(static_path: str, mtime_ns: int) -> tuple[str, ...]:
    """Static paths ``static_path`` imports directly."""
    found = finders.find(static_path)
    if not found:
        raise FileNotFoundError(static_path)
    with open(str(found), encoding="utf-8") as handle:
        source = handle.read()
    base = posixpath.dirname(static_path)
    return tuple(
        posixpath.normpath(posixpath.join(base, relative))
        for relative in _RELATIVE_IMPORT.findall(source)
    )


def _module_mtimes(entry: str) -> dict[str, int]:
    """``entry`` and every module it imports, directly or not, each with its mtime (read once)."""
    mtimes = {entry: _mtime(entry)}
    pending = [entry]
    while pending:
        current = pending.pop(0)
        for path in _imports(current, mtimes[current]):
            if path not in mtimes:
                mtimes[path] = _mtime(path)
                pending.append(path)
    return mtimes


def module_graph(entry: str) -> list[str]:
    """Static paths of every module ``entry`` imports, directly or not (``entry`` excluded).

    The page lists each one in a ``<link rel="modulepreload" integrity=...>``:
    the browser checks a module's hash when the preload fetches it and the
    import then takes that checked copy, so Subresource Integrity covers the
    whole graph, not only the entry script (an import map would do the same
    but must be an inline script, which the CSP forbids).
    """
    return sorted(path for path in _module_mtimes(entry) if path != entry)


def module_preloads(entry: str) -> list[tuple[str, str]]:
    """``(static path, integrity)`` for every module of ``entry``'s import graph."""
    mtimes = _module_mtimes(entry)
    return [(path, _integrity(path, mtimes[path])) for path in sorted(mtimes) if path != entry]


class ChatView(LoginRequiredMixin, TemplateView):
    """Render the chat page with the key set embedded, so the client can pin it."""

    template_name = "chat/chat.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        me = self.request.user
        if me.pk is None:  # LoginRequiredMixin ran first; never anonymous here
            raise PermissionDenied
        context.update(
            keys_document=keyvault.keys_document(),
            username=me.get_username(),
            users=list(
                User.objects.filter(is_active=True)
                .exclude(pk=me.pk)
                .order_by("username")
                .values_list("username", flat=True)
            ),
            ws_path="/ws/securemsg/",
            chat_script_integrity=static_integrity(CHAT_SCRIPT),
            module_preloads=module_preloads(CHAT_SCRIPT),
        )
        return context
