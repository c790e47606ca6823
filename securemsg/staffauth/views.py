"""Enrol an authenticator and verify a code: thin views over internal.flows."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View

from securemsg.staffauth.forms import CodeForm
from securemsg.staffauth.internal import flows


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target.startswith("/") else reverse("admin:index")


@method_decorator(login_required, name="dispatch")
class SetupView(View):
    """Show the authenticator's key (QR code and otpauth URI) and confirm it with a code."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not flows.requires_otp(request.user) or flows.is_enrolled(request.user):
            return HttpResponseRedirect(reverse("staffauth:verify") + "?next=" + _next_url(request))
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
        device = flows.pending_device(request.user)
        context = {
            "form": form,
            "next": _next_url(request),
            "otpauth_uri": device.config_url,
            # Built by qrcode from the URI: only <svg> and <path> elements.
            "qr_svg": mark_safe(flows.qr_svg(device.config_url)),  # noqa: S308  # nosec B308 B703
        }
        return render(request, "staffauth/setup.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        """The enrolment page."""
        return self._page(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        """Confirm the authenticator; show the recovery codes once."""
        form = CodeForm(request.POST)
        codes = (
            flows.confirm_enrolment(request, form.data.get("code", "")) if form.is_valid() else None
        )
        if codes is None:
            form.add_error(
                None, "That code is not right. Check the time on your device and try again."
            )
            return self._page(request, form, status=400)
        context = {"codes": codes, "next": _next_url(request)}
        return render(request, "staffauth/recovery_codes.html", context)


@method_decorator(login_required, name="dispatch")
class VerifyView(View):
    """Ask for a TOTP or recovery code once per sign-in session."""

    def get(self, request: HttpRequest) -> HttpResponse:
        """The verification page."""
        return self._page(request, CodeForm())

    def _page(self, request: HttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "next": _next_url(request)}
        return render(request, "staffauth/verify.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        """Check the code; go on to the page asked for."""
        form = CodeForm(request.POST)
        if form.is_valid() and flows.verify(request, form.cleaned_data["code"]):
            return HttpResponseRedirect(_next_url(request))
        form.add_error(None, "That code is not right, or it was used already.")
        return self._page(request, form, status=400)
