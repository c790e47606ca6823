"""Account pages: thin wrappers around Django's auth views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.views.generic import FormView, TemplateView

from accounts.forms import SignUpForm


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
