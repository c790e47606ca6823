"""One system check for the settings that must agree with the proxy in front.

``ALLOWED_HOSTS``, ``SECUREMSG_ALLOWED_ORIGINS``, ``CSRF_TRUSTED_ORIGINS``,
``SECURE_PROXY_SSL_HEADER`` and ``SECUREMSG_TRUSTED_PROXY_COUNT`` each look
fine alone and fail together: a WebSocket origin whose host Django refuses,
a TLS proxy whose header Django ignores (a redirect loop), a proxy count
that makes every client share the proxy's address (one lockout for all).
Every message names the environment variable to change (README,
"Configuration"). Ids: ``securemsg.E101``… (errors), ``securemsg.W101``…
(warnings).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.http.request import validate_host

#: More trusted proxies than this is almost certainly a mistake (a chain of CDNs is ~3).
_MAX_SANE_PROXIES: Final = 5
#: The one client-address rule (WebSocket, lockout, audit); django-axes must use it.
_CLIENT_ADDRESS: Final = "securemsg.chat.netaddr.request_client_address"


def _origin_problem(origin: str, *, wildcards: bool) -> str | None:
    """Why ``origin`` is not ``scheme://host[:port]``, or None."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it has no host"
    if parts.path or parts.query or parts.fragment:
        return "an origin has no path, not even a trailing /"
    if "*" in parts.netloc and not wildcards:
        return "wildcards are not supported here; list each origin"
    try:
        parts.port  # noqa: B018 -- raises on a bad port
    except ValueError:
        return "its port is not a number"
    return None


def _ws_origins(hosts: list[str], production: bool) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for origin in getattr(settings, "SECUREMSG_ALLOWED_ORIGINS", []):
        problem = _origin_problem(origin, wildcards=False)
        if problem:
            messages.append(
                Error(
                    f"SECUREMSG_ALLOWED_ORIGINS entry {origin!r} is not an origin: {problem}.",
                    hint="Write each as scheme://host[:port], e.g. https://chat.example.org.",
                    id="securemsg.E101",
                )
            )
            continue
        parts = urlsplit(origin)
        if not validate_host(parts.hostname or "", hosts):
            messages.append(
                Error(
                    f"SECUREMSG_ALLOWED_ORIGINS allows {origin}, but its host "
                    f"{parts.hostname!r} is not in ALLOWED_HOSTS, so the page that would "
                    "open the WebSocket cannot be served.",
                    hint=f"Add {parts.hostname} to ALLOWED_HOSTS, or remove the origin.",
                    id="securemsg.E102",
                )
            )
        if production and parts.scheme == "http":
            messages.append(
                Warning(
                    f"SECUREMSG_ALLOWED_ORIGINS allows the plain-HTTP origin {origin} in "
                    "production.",
                    hint="Serve the page over TLS and list the https:// origin instead.",
                    id="securemsg.W101",
                )
            )
    return messages


def _csrf_origins(hosts: list[str]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        problem = _origin_problem(origin, wildcards=True)
        if problem:
            messages.append(
                Error(
                    f"CSRF_TRUSTED_ORIGINS entry {origin!r} is not an origin: {problem}.",
                    hint="Write each as scheme://host[:port], e.g. https://chat.example.org.",
                    id="securemsg.E103",
                )
            )
            continue
        host = (urlsplit(origin).hostname or "").replace("*", "x")
        if not validate_host(host, hosts):
            messages.append(
                Warning(
                    f"CSRF_TRUSTED_ORIGINS trusts {origin}, whose host is not in ALLOWED_HOSTS; "
                    "sign-in forms posted from there will never reach a view.",
                    hint="Add the host to ALLOWED_HOSTS, or remove the origin.",
                    id="securemsg.W102",
                )
            )
    return messages


def _proxy(production: bool) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    count = getattr(settings, "SECUREMSG_TRUSTED_PROXY_COUNT", 0)
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return [
            Error(
                f"SECUREMSG_TRUSTED_PROXY_COUNT must be an integer >= 0, got {count!r}.",
                hint="0 without a reverse proxy; 1 behind one nginx or load balancer.",
                id="securemsg.E104",
            )
        ]
    if count > _MAX_SANE_PROXIES:
        messages.append(
            Warning(
                f"SECUREMSG_TRUSTED_PROXY_COUNT is {count}: client addresses would be read "
                "far to the left of X-Forwarded-For, where clients can write anything.",
                hint="Count only the proxies you run, usually 1.",
                id="securemsg.W103",
            )
        )
    if header is not None and (
        not isinstance(header, tuple | list)
        or len(header) != 2
        or not all(isinstance(part, str) for part in header)
        or not str(header[0]).startswith("HTTP_")
    ):
        messages.append(
            Error(
                f"SECURE_PROXY_SSL_HEADER must be a pair like ('HTTP_X_FORWARDED_PROTO', "
                f"'https'), got {header!r}.",
                hint="Set SECUREMSG_BEHIND_TLS_PROXY=1 instead of setting it by hand.",
                id="securemsg.E105",
            )
        )
    if header is not None and count == 0:
        messages.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER trusts a TLS proxy, but SECUREMSG_TRUSTED_PROXY_COUNT "
                "is 0: every client would get the proxy's address, so one lockout or rate "
                "limit would hit everybody.",
                hint="Set SECUREMSG_TRUSTED_PROXY_COUNT=1 (one proxy in front).",
                id="securemsg.W104",
            )
        )
    redirect = getattr(settings, "SECURE_SSL_REDIRECT", False)
    if production and count > 0 and header is None and redirect:
        messages.append(
            Error(
                "Behind a proxy (SECUREMSG_TRUSTED_PROXY_COUNT > 0) with SECURE_SSL_REDIRECT on "
                "but no SECURE_PROXY_SSL_HEADER, every request looks like plain HTTP: the "
                "redirect to HTTPS never ends.",
                hint="Set SECUREMSG_BEHIND_TLS_PROXY=1 if the proxy terminates TLS and sets "
                "X-Forwarded-Proto, or SECUREMSG_SSL_REDIRECT=0 if it redirects itself.",
                id="securemsg.E106",
            )
        )
    resolver = getattr(settings, "AXES_CLIENT_IP_CALLABLE", None)
    if resolver != _CLIENT_ADDRESS:
        messages.append(
            Error(
                f"The sign-in lockout finds the client address with {resolver!r} "
                f"(AXES_CLIENT_IP_CALLABLE), not with {_CLIENT_ADDRESS} like the WebSocket "
                f"and the audit log (SECUREMSG_TRUSTED_PROXY_COUNT={count}): they would "
                "disagree on who the client is.",
                hint="Set only SECUREMSG_TRUSTED_PROXY_COUNT; the settings derive the rest.",
                id="securemsg.E107",
            )
        )
    return messages


@register(Tags.security)
def check_hosts_origins_and_proxy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate hosts, WebSocket and CSRF origins, the TLS header and the proxy count together."""
    production = bool(getattr(settings, "PRODUCTION", False))
    hosts = list(getattr(settings, "ALLOWED_HOSTS", []))
    messages: list[CheckMessage] = []
    if "*" in hosts:
        level = Error if production else Warning
        messages.append(
            level(
                "ALLOWED_HOSTS contains '*': any Host header is accepted, and with an empty "
                "SECUREMSG_ALLOWED_ORIGINS any site's page could open a WebSocket.",
                hint="Set ALLOWED_HOSTS to the names the server answers to, "
                "e.g. ALLOWED_HOSTS=chat.example.org.",
                id="securemsg.E108" if production else "securemsg.W105",
            )
        )
    messages += _ws_origins(hosts, production)
    messages += _csrf_origins(hosts)
    messages += _proxy(production)
    return messages
