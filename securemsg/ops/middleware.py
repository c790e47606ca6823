"""``RequestIdMiddleware``: one id per HTTP request, in logs, audit events and the response."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from securemsg.ops import correlation

logger = logging.getLogger("securemsg.request")

#: Response header carrying the id (also accepted from a trusted proxy).
HEADER = "X-Request-ID"
#: Probes and scrapes arrive every few seconds; their lines are DEBUG, not INFO.
_QUIET_PREFIXES = ("/health/", "/metrics")
_META_KEY = "HTTP_X_REQUEST_ID"


class RequestIdMiddleware:
    """Bind a request id for the request, answer it in ``X-Request-ID``, log one line.

    A valid ``X-Request-ID`` from the client is kept only behind a trusted
    proxy (``SECUREMSG_TRUSTED_PROXY_COUNT`` > 0), so that an id the proxy
    logged can be followed into the application; otherwise a fresh one is
    made, because a client could reuse someone else's id to muddle the trail.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_id(request) or correlation.new_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = correlation.bind_request(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            # The path only: a query string may carry what must not be logged.
            quiet = request.path.startswith(_QUIET_PREFIXES) and response.status_code < 500
            logger.log(
                logging.DEBUG if quiet else logging.INFO,
                "request finished",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status_code": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            correlation.unbind_request(token)


def _incoming_id(request: HttpRequest) -> str | None:
    if getattr(settings, "SECUREMSG_TRUSTED_PROXY_COUNT", 0) <= 0:
        return None
    value = str(request.META.get(_META_KEY, ""))
    return value if correlation.is_valid_id(value) else None
