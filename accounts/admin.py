"""Administrators create and manage accounts here, unlock sign-ins and log users out."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts.lockout import unlock
from accounts.models import User, UsernameThrottle
from accounts.sessions import log_out_everywhere
from securemsg.audit import AuditUnavailable

UNLOCK_PERM = "accounts.unlock_signin"


@admin.register(User)
class SecuremsgUserAdmin(UserAdmin[User]):
    """Django's user admin plus "log out everywhere"."""

    actions = ("log_out_everywhere_selected",)

    @admin.action(
        description="Log out everywhere (end every session and secure channel)",
        permissions=["change"],
    )
    def log_out_everywhere_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """End every sign-in session of each selected user, audited; their WebSockets close."""
        ended = 0
        for user in queryset:
            try:
                ended += log_out_everywhere(user, actor=request.user, request=request)
            except AuditUnavailable:
                self.message_user(
                    request,
                    f"{user.get_username()} was not logged out: the audit log is unavailable.",
                    messages.ERROR,
                )
                return
        self.message_user(
            request,
            f"Logged out {len(queryset)} user(s) everywhere: {ended} session(s) ended.",
            messages.SUCCESS,
        )


class UnlockForm(forms.Form):
    """A username, an address, or both."""

    username = forms.CharField(required=False, max_length=150)
    ip = forms.GenericIPAddressField(required=False, label="address")

    def clean(self) -> dict[str, Any]:
        """At least one of the two."""
        data = super().clean() or {}
        if not data.get("username") and not data.get("ip"):
            raise forms.ValidationError("Give a username, an address or both.")
        return data


@admin.register(UsernameThrottle)
class UsernameThrottleAdmin(admin.ModelAdmin[UsernameThrottle]):
    """Usernames slowed down by failures from many addresses; unlock by user, address or both."""

    list_display = ("username", "failures", "last_failure_at", "next_allowed_at")
    search_fields = ("username",)
    readonly_fields = ("username", "failures", "window_started_at", "last_failure_at")
    actions = ("unlock_selected",)
    change_list_template = "admin/accounts/usernamethrottle/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Rows come from failed sign-ins only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Read-only: unlocking is the only change."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Deleting goes through the audited unlock."""
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Viewers, and whoever may unlock."""
        user = request.user
        return user.has_perm("accounts.view_usernamethrottle") or user.has_perm(UNLOCK_PERM)

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        """``accounts.unlock_signin``."""
        return request.user.has_perm(UNLOCK_PERM)

    @admin.action(
        description="Unlock the selected usernames (all addresses)", permissions=["unlock"]
    )
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet[UsernameThrottle]) -> None:
        """Unlock each selected username, audited."""
        for row in queryset:
            self._unlock(request, row.username, None)

    def _unlock(self, request: HttpRequest, username: str | None, ip: str | None) -> bool:
        try:
            report = unlock(username=username, ip=ip, actor=request.user, request=request)
        except AuditUnavailable:
            self.message_user(
                request, "Nothing was unlocked: the audit log is unavailable.", messages.ERROR
            )
            return False
        who = " from ".join(part for part in (report.username, report.ip) if part)
        self.message_user(
            request,
            f"Unlocked {who}: {report.lockouts} lockout(s), {report.delays} username delay(s).",
            messages.SUCCESS,
        )
        return True

    def get_urls(self) -> list[URLPattern]:
        """Add the unlock-by-user-or-address form."""
        view = self.admin_site.admin_view(self.unlock_view)
        return [path("unlock/", view, name="accounts_unlock"), *super().get_urls()]

    def unlock_view(self, request: HttpRequest) -> HttpResponse:
        """Unlock by username, address or both (permission checked here, not only in the menu)."""
        if not self.has_unlock_permission(request):
            raise PermissionDenied
        form = UnlockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            self._unlock(request, data.get("username") or None, data.get("ip") or None)
            return HttpResponseRedirect(reverse("admin:accounts_usernamethrottle_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Unlock sign-ins",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/unlock.html", context)
