"""Django admin for server keys: read-only key material, audited actions behind permissions.

Permissions (clarifications, "Key vault"): ``keyvault.rotate_serverkey``
covers rotate, retire, disable, re-enable, rewrap and cancelling a
deletion; ``keyvault.destroy_serverkey`` covers scheduling destruction,
allowing it, and marking a key compromised. Django runs an action only if
``get_actions`` offers it to the user, and the confirmation view checks the
permission again, so hiding buttons is not the only guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .exceptions import KeyVaultError
from .models import ServerKey, State

__all__ = ["ServerKeyAdmin"]

ROTATE_PERM = "keyvault.rotate_serverkey"
DESTROY_PERM = "keyvault.destroy_serverkey"

#: Operations that need the operator to type the kid first.
CONFIRMED_OPS: dict[str, tuple[str, Callable[..., Any]]] = {
    "schedule-deletion": ("Schedule destruction", services.schedule_deletion),
    "compromised": ("Mark compromised", services.mark_compromised),
}

_SAFE_FIELDS = (
    "kid",
    "purpose",
    "algorithm",
    "version",
    "state",
    "fingerprint",
    "created_at",
    "activated_at",
    "retire_after",
    "disabled_at",
    "deletion_allowed",
    "deletion_scheduled_at",
    "delete_after",
    "destroyed_at",
    "compromised",
    "compromised_at",
    "usage_count",
    "master_version",
    "wrapped_dek_summary",
    "wrapped_private_key_summary",
)


def _summary(value: bytes | memoryview | None) -> str:
    data = bytes(value or b"")
    if not data:
        return "(overwritten)"
    # Length and a digest identify the ciphertext without showing any of it.
    return f"{len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}"


@admin.register(ServerKey)
class ServerKeyAdmin(admin.ModelAdmin[ServerKey]):
    """Lists keys and runs the vault's operations; never shows or edits key material."""

    list_display = (
        "kid",
        "purpose",
        "state",
        "short_fingerprint",
        "age",
        "master_version",
        "deletion",
        "compromised",
    )
    list_filter = ("purpose", "state")
    search_fields = ("kid", "fingerprint")
    fields = _SAFE_FIELDS
    readonly_fields = _SAFE_FIELDS
    actions = (
        "rotate_now",
        "retire",
        "disable",
        "reenable",
        "cancel_deletion",
        "rewrap_newest",
        "schedule_destruction",
        "allow_deletion",
        "mark_compromised",
    )

    # -- permissions -------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Keys are created by rotation only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ServerKey | None = None) -> bool:
        """Rows are never deleted (destroyed keys keep their public half)."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: ServerKey | None = None) -> bool:
        """The change form is read-only; changes happen through actions."""
        return False

    def has_view_permission(self, request: HttpRequest, obj: ServerKey | None = None) -> bool:
        """Viewers and operators with either vault permission may list keys."""
        user = request.user
        return any(user.has_perm(p) for p in ("keyvault.view_serverkey", ROTATE_PERM, DESTROY_PERM))

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        """``keyvault.rotate_serverkey``."""
        return request.user.has_perm(ROTATE_PERM)

    def has_destroy_permission(self, request: HttpRequest) -> bool:
        """``keyvault.destroy_serverkey``."""
        return request.user.has_perm(DESTROY_PERM)

    # -- columns -----------------------------------------------------------------

    @admin.display(description="fingerprint")
    def short_fingerprint(self, obj: ServerKey) -> str:
        """The first 16 hex digits of the SPKI fingerprint."""
        return obj.fingerprint[:16] + "…"

    @admin.display(description="age")
    def age(self, obj: ServerKey) -> str:
        """Days since creation."""
        return f"{(timezone.now() - obj.created_at).days} d"

    @admin.display(description="deletion", ordering="delete_after")
    def deletion(self, obj: ServerKey) -> str:
        """The words "pending deletion" and the date of destruction, or when it happened."""
        if obj.state == State.PENDING_DELETION and obj.delete_after is not None:
            return f"pending deletion: destroyed after {obj.delete_after:%Y-%m-%d %H:%M} UTC"
        if obj.state == State.DESTROYED and obj.destroyed_at is not None:
            return f"destroyed {obj.destroyed_at:%Y-%m-%d %H:%M} UTC"
        return ""

    @admin.display(description="wrapped DEK")
    def wrapped_dek_summary(self, obj: ServerKey) -> str:
        """Length and SHA-256 of the wrapped DEK."""
        return _summary(obj.wrapped_dek)

    @admin.display(description="wrapped private key")
    def wrapped_private_key_summary(self, obj: ServerKey) -> str:
        """Length and SHA-256 of the encrypted private key."""
        return _summary(obj.wrapped_private_key)

    # -- actions -----------------------------------------------------------------

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[ServerKey],
        operation: Callable[..., Any],
        done: str,
    ) -> None:
        for key in queryset.order_by("purpose", "version"):
            try:
                operation(key.kid, actor=request.user, request=request)
            except KeyVaultError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{key.kid}: {done}.", messages.SUCCESS)

    @admin.action(
        description="Rotate now (new active key of the same purpose)", permissions=["rotate"]
    )
    def rotate_now(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Rotate the purposes of the selected keys, once each."""
        for purpose in sorted(set(queryset.values_list("purpose", flat=True))):
            try:
                key = services.rotate(purpose, actor=request.user, request=request)
            except KeyVaultError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{key.kid} is the active {purpose} key.")

    @admin.action(description="Retire (rotate in a replacement)", permissions=["rotate"])
    def retire(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Retire the selected active keys."""
        self._each(request, queryset, services.retire_key, "retiring")

    @admin.action(description="Disable", permissions=["rotate"])
    def disable(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Disable the selected keys."""
        self._each(request, queryset, services.disable_key, "disabled")

    @admin.action(description="Re-enable (as retiring)", permissions=["rotate"])
    def reenable(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Re-enable the selected disabled keys."""
        self._each(request, queryset, services.reenable_key, "re-enabled as retiring")

    @admin.action(description="Cancel scheduled destruction", permissions=["rotate"])
    def cancel_deletion(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Cancel the destruction of the selected keys."""
        self._each(request, queryset, services.cancel_deletion, "deletion cancelled")

    @admin.action(
        description="Rewrap all keys to the newest master version", permissions=["rotate"]
    )
    def rewrap_newest(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Re-wrap every key (not only the selected ones) under the primary master version."""
        try:
            report = services.rewrap(actor=request.user)
        except KeyVaultError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Re-wrapped {report.server_keys} server and {report.data_keys} data key(s) "
                f"under master version {report.version}.",
            )

    @admin.action(description="Allow destruction", permissions=["destroy"])
    def allow_deletion(self, request: HttpRequest, queryset: QuerySet[ServerKey]) -> None:
        """Allow scheduling the destruction of the selected keys."""
        self._each(request, queryset, services.allow_deletion, "deletion allowed")

    def _confirm_redirect(
        self, request: HttpRequest, queryset: QuerySet[ServerKey], op: str
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one key.", messages.WARNING)
            return None
        kid = queryset.get().kid
        return HttpResponseRedirect(reverse("admin:keyvault_serverkey_confirm", args=[kid, op]))

    @admin.action(description="Schedule destruction… (type the kid)", permissions=["destroy"])
    def schedule_destruction(
        self, request: HttpRequest, queryset: QuerySet[ServerKey]
    ) -> HttpResponse | None:
        """Open the confirmation page for one key."""
        return self._confirm_redirect(request, queryset, "schedule-deletion")

    @admin.action(description="Mark compromised… (type the kid)", permissions=["destroy"])
    def mark_compromised(
        self, request: HttpRequest, queryset: QuerySet[ServerKey]
    ) -> HttpResponse | None:
        """Open the confirmation page for one key."""
        return self._confirm_redirect(request, queryset, "compromised")

    # -- confirmation page ---------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        """Add the typed-kid confirmation page."""
        confirm = path(
            "<str:kid>/confirm/<str:op>/",
            self.admin_site.admin_view(self.confirm_view),
            name="keyvault_serverkey_confirm",
        )
        return [confirm, *super().get_urls()]

    def confirm_view(self, request: HttpRequest, kid: str, op: str) -> HttpResponse:
        """Ask for the kid; run the operation only when it was typed exactly."""
        if op not in CONFIRMED_OPS:
            raise PermissionDenied
        if not self.has_destroy_permission(request):
            raise PermissionDenied
        key = ServerKey.objects.filter(kid=kid).first()
        if key is None:
            raise PermissionDenied
        title, operation = CONFIRMED_OPS[op]
        error = ""
        if request.method == "POST":
            if request.POST.get("confirm_kid", "") == key.kid:
                try:
                    operation(key.kid, actor=request.user, request=request)
                except KeyVaultError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.message_user(request, f"{title}: {key.kid} done.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:keyvault_serverkey_changelist"))
            error = "The kid you typed does not match; nothing was done."
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {key.kid}",
            "opts": self.model._meta,
            "key": key,
            "op": op,
            "op_title": title,
            "error": error,
            "pending_deletion": key.state == State.PENDING_DELETION,
            "warning": format_html(
                "{} will be {}.",
                key.kid,
                "scheduled for destruction after the waiting period"
                if op == "schedule-deletion"
                else "disabled at once and never used again",
            ),
        }
        return TemplateResponse(request, "admin/keyvault/serverkey/confirm.html", context)
