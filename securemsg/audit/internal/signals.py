"""Account events, wired from Django auth, django-axes and model signals.

Changes to users are recorded in ``pre_save`` (before the write) so that
when the event cannot be written the change does not happen either; inside
the admin (which wraps every change in a transaction) a later failure rolls
both back. Sign-out is the one exception: it always completes (see
``docs/audit.md``, "Fail closed").
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from securemsg.audit.exceptions import AuditUnavailable
from securemsg.audit.internal.sanitize import clean_text
from securemsg.audit.internal.writer import already_recorded, record

logger = logging.getLogger("securemsg.audit")

#: Most group or permission names listed in one ``user.permissions_changed``.
_MAX_NAMES = 20
_WATCHED_FIELDS = frozenset({"password", "is_active", "is_staff", "is_superuser"})


def _user_target(user: Any) -> dict[str, str]:
    return {"target_type": "user", "target_id": str(user.pk)}


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``auth.login_succeeded`` for sign-ins that did not go through our login view."""
    if request is not None and already_recorded(request, "auth.login_succeeded"):
        return
    record("auth.login_succeeded", actor=user, request=request, **_user_target(user))


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """``auth.login_failed`` with the username as typed; the credentials dict is never stored."""
    username = credentials.get(get_user_model().USERNAME_FIELD, "")
    record(
        "auth.login_failed",
        request=request,
        outcome="failure",
        target_type="user",
        details={
            "username": clean_text(username, 150),
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


def on_locked_out(
    sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any
) -> None:
    """``auth.locked_out`` when django-axes locks a (username, address) pair."""
    record(
        "auth.locked_out",
        request=request,
        outcome="denied",
        target_type="user",
        details={"username": clean_text(username, 150)},
    )


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``auth.logout``; never blocks the sign-out (ending a session must always work)."""
    if user is None:
        return
    try:
        record("auth.logout", actor=user, request=request, **_user_target(user))
    except AuditUnavailable as exc:
        logger.error("sign-out of user %s not recorded: %s", user.pk, exc)


def on_attempt_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``auth.unlocked`` when a lockout record of django-axes is deleted (admin or axes_reset)."""
    if instance.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return  # an ordinary reset after a successful sign-in, not a lockout
    record(
        "auth.unlocked",
        target_type="user",
        details={
            "username": clean_text(instance.username, 150),
            "address": clean_text(instance.ip_address, 45),
        },
    )


def on_user_pre_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Password, activation and staff/superuser changes, recorded before they are saved."""
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not (_WATCHED_FIELDS & set(update_fields)):
        return
    old = sender.objects.filter(pk=instance.pk).values(*sorted(_WATCHED_FIELDS)).first()
    if old is None:
        return
    raw = getattr(instance, "_password", None)
    if raw is not None and old["password"] != instance.password:
        # A hash upgrade at sign-in re-hashes the same password: not a change.
        if not check_password(raw, old["password"]):
            record("auth.password_changed", **_user_target(instance))
    if old["is_active"] and not instance.is_active:
        record("user.deactivated", **_user_target(instance))
    elif not old["is_active"] and instance.is_active:
        record("user.reactivated", **_user_target(instance))
    flags = {
        name: [old[name], getattr(instance, name)]
        for name in ("is_staff", "is_superuser")
        if old[name] != getattr(instance, name)
    }
    if flags:
        record("user.permissions_changed", **_user_target(instance), details=flags)


def on_user_post_save(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """``user.created`` (the primary key exists only after the insert)."""
    if created:
        record(
            "user.created",
            **_user_target(instance),
            details={
                "username": clean_text(instance.get_username(), 150),
                "is_staff": bool(instance.is_staff),
                "is_superuser": bool(instance.is_superuser),
            },
        )


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``user.deleted``."""
    record(
        "user.deleted",
        **_user_target(instance),
        details={"username": clean_text(instance.get_username(), 150)},
    )


def on_membership_changed(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    model: Any,
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    """``user.permissions_changed`` for groups and user permissions added or removed."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    user_model = get_user_model()
    relation = "groups" if "group" in sender._meta.model_name else "user_permissions"
    change = {"post_add": "added", "post_remove": "removed", "pre_clear": "removed"}[action]
    if reverse:
        users = list(user_model.objects.filter(pk__in=pk_set or ()))
        names = [str(instance)]
    else:
        users = [instance]
        if action == "pre_clear":
            names = [str(item) for item in getattr(instance, relation).all()[:_MAX_NAMES]]
        else:
            names = [str(item) for item in model.objects.filter(pk__in=pk_set or ())[:_MAX_NAMES]]
    if not names:
        return
    for user in users:
        record(
            "user.permissions_changed",
            **_user_target(user),
            details={f"{relation}_{change}": [clean_text(n, 100) for n in names]},
        )


def connect() -> None:
    """Connect every receiver (called once from ``AuditConfig.ready``)."""
    from axes.models import AccessAttempt
    from axes.signals import user_locked_out

    user_model = get_user_model()
    uid = "securemsg.audit"
    user_logged_in.connect(on_logged_in, dispatch_uid=f"{uid}.logged_in")
    user_login_failed.connect(on_login_failed, dispatch_uid=f"{uid}.login_failed")
    user_logged_out.connect(on_logged_out, dispatch_uid=f"{uid}.logged_out")
    user_locked_out.connect(on_locked_out, dispatch_uid=f"{uid}.locked_out")
    post_delete.connect(on_attempt_deleted, sender=AccessAttempt, dispatch_uid=f"{uid}.unlock")
    pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid=f"{uid}.user_pre")
    post_save.connect(on_user_post_save, sender=user_model, dispatch_uid=f"{uid}.user_post")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid=f"{uid}.user_del")
    for through in (user_model.groups.through, user_model.user_permissions.through):
        m2m_changed.connect(
            on_membership_changed, sender=through, dispatch_uid=f"{uid}.m2m.{through.__name__}"
        )
