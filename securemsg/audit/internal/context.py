"""Where an event came from: the request (or ASGI scope) and the acting user.

Model signals (user created, permissions changed, lockout record deleted)
carry no request, so ``AuditMiddleware`` keeps the current request in a
context variable; the signal receivers use it to name the administrator who
acted and their address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from securemsg.audit.internal.sanitize import clean_text

_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "securemsg_audit_request", default=None
)

USER_AGENT_MAX = 256
USERNAME_MAX = 150


@dataclass(frozen=True)
class Origin:
    """Actor and source fields of one event."""

    actor_id: int | None
    actor_username: str
    ip: str | None
    user_agent: str


@contextmanager
def current_request(request: HttpRequest) -> Iterator[None]:
    """Make ``request`` the fallback origin of events recorded inside the block."""
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


def get_current_request() -> HttpRequest | None:
    """The request being served by this thread or task, if any."""
    return _current_request.get()


def normalize_ip(value: object) -> str | None:
    """Compressed form of an IP address, or None when ``value`` is not one."""
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        return None


def _request_ip(request: HttpRequest) -> str | None:
    # Same client address as django-axes (honours SECUREMSG_TRUSTED_PROXY_COUNT),
    # so the audit log and the lockout agree on who tried.
    from axes.helpers import get_client_ip_address

    address = getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
    return normalize_ip(address)


def _scope_origin(scope: Mapping[str, Any]) -> tuple[str | None, str]:
    client = scope.get("client") or (None,)
    agent = b""
    for name, value in scope.get("headers") or ():
        if name == b"user-agent":
            agent = value
    return normalize_ip(client[0]), agent.decode("latin-1")


def origin_of(actor: Any, request: Any) -> Origin:
    """Resolve actor and source from explicit arguments, falling back to the current request."""
    if request is None:
        request = get_current_request()
    ip: str | None = None
    agent = ""
    if isinstance(request, HttpRequest):
        ip = _request_ip(request)
        agent = request.META.get("HTTP_USER_AGENT", "")
        if actor is None:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                actor = user
    elif isinstance(request, Mapping):
        ip, agent = _scope_origin(request)
        if actor is None:
            user = request.get("user")
            if user is not None and getattr(user, "is_authenticated", False):
                actor = user
    actor_id = getattr(actor, "pk", None) if actor is not None else None
    username = actor.get_username() if hasattr(actor, "get_username") else ""
    return Origin(
        actor_id=int(actor_id) if actor_id is not None else None,
        actor_username=clean_text(username, USERNAME_MAX),
        ip=ip,
        user_agent=clean_text(agent, USER_AGENT_MAX),
    )
