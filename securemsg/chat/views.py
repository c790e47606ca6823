"""The chat page: the browser client's HTML shell."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.views.generic import TemplateView

import keyvault
from accounts.models import User

CHAT_SCRIPT = "js/chat.mjs"


@lru_cache(maxsize=8)
def _integrity(static_path: str, mtime_ns: int) -> str:
    found = finders.find(static_path)
    if not found:
        return ""
    with open(str(found), "rb") as handle:
        digest = hashlib.sha384(handle.read()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def static_integrity(static_path: str) -> str:
    """Subresource Integrity value of a static file (recomputed when the file changes)."""
    found = finders.find(static_path)
    mtime = os.stat(str(found)).st_mtime_ns if found else 0
    return _integrity(static_path, mtime)


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
        )
        return context
