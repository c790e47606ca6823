"""Signals sent by the accounts app.

``sessions_ended``
    Every sign-in session of one user was ended at once (an administrator's
    "log out everywhere", :func:`accounts.sessions.log_out_everywhere`). Sent
    after the transaction that deleted the sessions committed, so receivers
    never act on a rolled-back change. The secure channel closes the user's
    WebSockets on every server process (``securemsg.chat.signals``).

    Arguments: ``sender`` (the user model class), ``user_id`` (int, the
    user's primary key), ``reason`` (str, a short word for logs and the audit
    log, e.g. ``"logged_out_everywhere"``).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["sessions_ended"]

sessions_ended = Signal()
