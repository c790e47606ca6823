"""Account pages: thin wrappers around Django's auth views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.views.generic import FormView, TemplateView

from accounts import throttle
from accounts.forms import SignUpForm
from securemsg.audit import AuditUnavailable, record


class HomeView(LoginRequiredMixin, TemplateView):
    """The landing page: who is signed in and where to go next."""

    template_name = "accounts/home.html"


class SignUpView(FormView[SignUpForm]):
    """Self sign-up; answers 404 unless SECUREMSG_ALLOW_SIGNUP is on."""

    template_name = "accounts/signup.html"
    form_class = SignUpForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.SECUREMSG_ALLOW_SIGNUP:
            raise Http404("Sign-up is disabled")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignUpForm) -> HttpResponse:
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(settings.LOGIN_REDIRECT_URL)


class AuditedLoginView(LoginView):
    """Django's sign-in, failing closed: no session unless the sign-in is in the audit log."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A failed sign-in is recorded while the form validates; if that
        # record cannot be written, the answer is the same 503 page.
        try:
            delayed = self._delayed(request)
            if delayed is not None:
                return delayed
            return super().post(request, *args, **kwargs)
        except AuditUnavailable:
            return self._unavailable()

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        try:
            with transaction.atomic():
                record(
                    "auth.login_succeeded",
                    actor=user,
                    request=self.request,
                    target_type="user",
                    target_id=str(user.pk),
                )
                login(self.request, user)
        except AuditUnavailable:
            return self._unavailable()
        return HttpResponseRedirect(self.get_success_url())

    def _delayed(self, request: HttpRequest) -> HttpResponse | None:
        """HTTP 429 with ``Retry-After`` while the username's cooldown runs (no password check)."""
        from axes.helpers import get_client_ip_address

        username = request.POST.get("username", "")
        if not isinstance(username, str) or not username.strip():
            return None
        ip = get_client_ip_address(request)
        seconds = throttle.cooldown_remaining(username, ip)
        if seconds <= 0:
            return None
        record(
            "ratelimit.hit",
            request=request,
            outcome="denied",
            target_type="user",
            target_id=throttle.normalize(username),
            limit="username_delay",
            retry_after=seconds,
        )
        response = render(
            request, "accounts/signin_delayed.html", {"retry_after": seconds}, status=429
        )
        response["Retry-After"] = str(seconds)
        return response

    def _unavailable(self) -> HttpResponse:
        return render(self.request, "accounts/signin_unavailable.html", status=503)
