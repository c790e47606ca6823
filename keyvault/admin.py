"""Django admin for server keys: read-only key material, audited actions behind permissions.

Permissions (clarifications, "Key vault"): ``keyvault.rotate_serverkey``
covers rotate, retire, disable, re-enable, rewrap and cancelling a
deletion; ``keyvault.destroy_serverkey`` covers scheduling destruction,
allowing it, marking a key compromised and raising the minimum usable
version of a purpose. Django runs an action only if ``get_actions`` offers
it to the user, and the confirmation views check the permission again, so
hiding buttons is not the only guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from . import services
from .exceptions import KeyVaultError
from .models import MinimumKeyVersion, Purpose, ServerKey, State

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
        "out_of_service",
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
        "raise_minimum_version",
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

    @admin.display(description="taken out of service", ordering="compromised")
    def out_of_service(self, obj: ServerKey) -> str:
        """Why a key is unusable for good: below the purpose's minimum version, or compromised.

        Both set the ``compromised`` flag (the same path), so the list tells
        them apart by the version; the audit log has each event.
        """
        minimum = getattr(obj, "minimum_version", None) or 1
        if obj.version < minimum:
            return f"below minimum version {minimum}"
        return "compromised" if obj.compromised else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServerKey]:
        """The keys, each with its purpose's minimum usable version (one query, no N+1)."""
        minimum = MinimumKeyVersion.objects.filter(purpose=OuterRef("purpose")).values("version")
        return super().get_queryset(request).annotate(minimum_version=Subquery(minimum[:1]))

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

    @admin.action(
        description="Make these and older keys unusable… (raise the minimum version)",
        permissions=["destroy"],
    )
    def raise_minimum_version(
        self, request: HttpRequest, queryset: QuerySet[ServerKey]
    ) -> HttpResponse | None:
        """Open the minimum-version page with the newest selected version + 1."""
        purposes = set(queryset.values_list("purpose", flat=True))
        if len(purposes) != 1:
            self.message_user(request, "Select keys of one purpose.", messages.WARNING)
            return None
        newest = max(queryset.values_list("version", flat=True))
        url = reverse("admin:keyvault_serverkey_minimum", args=[purposes.pop()])
        return HttpResponseRedirect(f"{url}?minimum={newest + 1}")

    # -- changelist ----------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The key list, with the minimum usable version of each purpose above it."""
        can_raise = self.has_destroy_permission(request)
        minimums = [
            (
                purpose,
                version,
                reverse("admin:keyvault_serverkey_minimum", args=[purpose]) if can_raise else "",
            )
            for purpose, version in services.minimum_key_versions().items()
        ]
        return super().changelist_view(
            request, {**(extra_context or {}), "minimum_versions": minimums}
        )

    # -- confirmation pages --------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        """Add the typed-kid confirmation page and the minimum-version page."""
        minimum = path(
            "minimum/<str:purpose>/",
            self.admin_site.admin_view(self.minimum_view),
            name="keyvault_serverkey_minimum",
        )
        confirm = path(
            "<str:kid>/confirm/<str:op>/",
            self.admin_site.admin_view(self.confirm_view),
            name="keyvault_serverkey_confirm",
        )
        return [minimum, confirm, *super().get_urls()]

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
            "details": [
                f"purpose: {key.purpose}",
                f"state: {key.state}",
                format_html("fingerprint: <code>{}</code>", key.fingerprint),
            ],
            "confirm_field": "confirm_kid",
            "confirm_text": key.kid,
        }
        return TemplateResponse(request, "admin/keyvault/serverkey/confirm.html", context)

    def minimum_view(self, request: HttpRequest, purpose: str) -> HttpResponse:
        """Show which keys a new minimum makes unusable; set it only after "<purpose> N" is typed.

        GET (``?minimum=N``) only previews; the change is a CSRF-protected POST.
        """
        if not self.has_destroy_permission(request):
            raise PermissionDenied
        if purpose not in Purpose.values:
            raise Http404("no such key purpose")
        raw = (request.POST if request.method == "POST" else request.GET).get("minimum", "")
        minimum = _whole_number(raw)
        context: dict[str, Any] = {"error": ""}
        if minimum is None and raw.strip():
            context["error"] = "The minimum must be a whole number; nothing was done."
        preview: services.MinimumVersionReport | None = None
        if minimum is not None:
            try:
                preview = services.preview_minimum_key_version(purpose, minimum)
            except KeyVaultError as exc:
                context["error"] = f"{exc}; nothing was done."
        confirm_text = f"{purpose} {minimum}"
        if preview is not None and preview.changed and request.method == "POST":
            if request.POST.get("confirm", "").strip() == confirm_text:
                return self._set_minimum(request, purpose, preview.minimum)
            context["error"] = f"You did not type {confirm_text!r}; nothing was done."
        return self._minimum_page(request, purpose, minimum, preview, context)

    def _set_minimum(self, request: HttpRequest, purpose: str, minimum: int) -> HttpResponse:
        try:
            report = services.set_minimum_key_version(
                purpose, minimum, actor=request.user, request=request
            )
        except KeyVaultError as exc:
            self.message_user(request, f"{exc}; nothing was done.", messages.ERROR)
        else:
            done = f"The minimum {purpose} version is now {report.minimum}"
            if report.unusable:
                done += f"; unusable for good: {', '.join(report.unusable)}"
            if report.replacement:
                done += f"; {report.replacement} is the new active {purpose} key"
            self.message_user(request, done + ".", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:keyvault_serverkey_changelist"))

    def _minimum_page(
        self,
        request: HttpRequest,
        purpose: str,
        minimum: int | None,
        preview: services.MinimumVersionReport | None,
        context: dict[str, Any],
    ) -> HttpResponse:
        current = services.minimum_key_versions()[purpose]
        newest = ServerKey.objects.filter(purpose=purpose).aggregate(v=Max("version"))["v"] or 0
        ready = preview is not None and preview.changed
        if preview is not None and not preview.changed:
            context["warning"] = f"The minimum {purpose} version is already {current}."
        elif preview is not None:
            context["warning"] = (
                f"Raising the minimum {purpose} version from {preview.previous} to "
                f"{preview.minimum} does this at once:"
            )
            context["details"] = _minimum_details(purpose, preview)
        title = f"Minimum usable {purpose} version"
        context.update(
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "op_title": f"Raise to {minimum}" if ready else title,
                "purpose": purpose,
                "current": current,
                "highest": newest + 1,
                "minimum_input": minimum if minimum is not None else current + 1,
                "confirm_field": "confirm",
                "confirm_text": f"{purpose} {minimum}" if ready else "",
                "hidden_fields": [("minimum", str(minimum))],
            }
        )
        return TemplateResponse(request, "admin/keyvault/serverkey/min_version.html", context)


def _whole_number(raw: str) -> int | None:
    """``raw`` as an int, or None when it is empty or not a whole number."""
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _minimum_details(
    purpose: str, preview: services.MinimumVersionReport
) -> list[str | SafeString]:
    """One line per key the new minimum takes out of service, and the rotation if any."""
    lines: list[str | SafeString] = [
        format_html("<code>{}</code> (was {}) becomes unusable for good", kid, state)
        for kid, state in zip(preview.unusable, preview.from_states, strict=True)
    ]
    if not lines:
        lines.append("No usable key is below it (older keys are destroyed or compromised).")
    if preview.rotates:
        lines.append(
            f"The active {purpose} key is below it: a new {purpose} key is rotated in, "
            + (
                "not endorsed (clients re-pin out of band)."
                if purpose == Purpose.SIGNING
                else "and clients that wrapped to an old key get 4412 and re-fetch keys.json."
            )
        )
    return lines
