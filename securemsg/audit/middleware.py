"""Request middleware of the audit log.

Keeps the current request available to signal receivers (so a model change
is attributed to the administrator who made it) and turns an
``AuditUnavailable`` anywhere in a view into the 503 page: an action whose
event cannot be written is refused, never shown as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from securemsg.audit.exceptions import AuditUnavailable
from securemsg.audit.internal.context import current_request


class AuditMiddleware:
    """Context for signal receivers, and the fail-closed error page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with current_request(request):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Render the 503 page for ``AuditUnavailable``; leave other errors alone."""
        if isinstance(exception, AuditUnavailable):
            return render_unavailable(request, "This action")
        return None


def render_unavailable(request: HttpRequest, action: str) -> HttpResponse:
    """The 503 page: ``action`` is unavailable because the audit log cannot be written."""
    return render(request, "audit/unavailable.html", {"action": action}, status=503)
