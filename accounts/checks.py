"""System check: sessions must go through ``accounts.session_store`` (hashed keys).

Django's own engines keep each session key in clear in ``django_session``
(docs/security.md, "Database thief"), and ``accounts.sessions`` deletes a
user's sessions by the rows' stored keys, which a caching engine would not
forget. Id: ``accounts.E001``.
"""

from __future__ import annotations

from typing import Any, Final

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

__all__ = ["check_session_engine"]

#: The one session engine the project supports.
SESSION_ENGINE: Final = "accounts.session_store"


@register(Tags.security)
def check_session_engine(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a ``SESSION_ENGINE`` other than the hashed-key database engine."""
    engine = getattr(settings, "SESSION_ENGINE", None)
    if engine == SESSION_ENGINE:
        return []
    return [
        Error(
            f"SESSION_ENGINE is {engine!r}: session keys would be stored in clear, and "
            "'log out everywhere' could leave sessions alive.",
            hint=f'Set SESSION_ENGINE = "{SESSION_ENGINE}" (securemsg/settings.py).',
            id="accounts.E001",
        )
    ]
