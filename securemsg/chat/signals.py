"""Close a user's WebSockets when the sign-in session behind them ends.

Sign-out closes the sockets of that one session; a password change, a
deactivation or an administrator's "log out everywhere" closes every socket
of the user. The notice travels through the channel layer, so it reaches
sockets held by any server process. (Expiry has no event: the consumer
checks it when it is due, ``securemsg.chat.internal.signin``.)
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import User
from accounts.session_store import stored_key
from accounts.signals import sessions_ended


def _notify(user_id: int, *, session_key: str | None, reason: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    from securemsg.chat.consumer import user_group

    # The notice names the session by its hash (what django_session stores),
    # never by the key itself: the layer (Redis) is not a place for cookies.
    # None: every session of the user.
    session_hash = None if session_key is None else stored_key(session_key)
    event = {"type": "session.ended", "session_hash": session_hash, "reason": reason}
    async_to_sync(layer.group_send)(user_group(user_id), event)


@receiver(user_logged_out)
def _on_logout(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None and request.session.session_key:
        _notify(user.pk, session_key=request.session.session_key, reason="signed_out")


@receiver(pre_save, sender=User)
def _on_user_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password:
        reason = "password_changed"
    elif before["is_active"] and not instance.is_active:
        reason = "deactivated"
    else:
        return
    user_id = instance.pk
    transaction.on_commit(lambda: _notify(user_id, session_key=None, reason=reason))


@receiver(sessions_ended)
def _on_sessions_ended(sender: Any, user_id: int, reason: str, **kwargs: Any) -> None:
    # Sent after the deletions committed (accounts.sessions.log_out_everywhere).
    _notify(user_id, session_key=None, reason=reason)
