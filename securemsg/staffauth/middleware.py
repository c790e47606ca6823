"""Refuse admin pages to staff who have not passed the second factor in this session."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from securemsg.staffauth.internal.flows import is_enrolled, requires_otp


class StaffOTPMiddleware:
    """Every path under the admin (keys, audit, users, status) needs a verified session.

    Must come after django-otp's ``OTPMiddleware``, which sets ``user.is_verified``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if request.path.startswith(reverse("admin:index")) and requires_otp(user):
            verified = getattr(user, "is_verified", None)
            if not (callable(verified) and verified()):
                page = "staffauth:verify" if is_enrolled(user) else "staffauth:setup"
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse(page)}?{query}")
        return self.get_response(request)
