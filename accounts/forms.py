"""Forms of the accounts app."""

from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm

from accounts.models import User


class SignUpForm(UserCreationForm[User]):
    """Self sign-up (only routed when SECUREMSG_ALLOW_SIGNUP is on)."""

    class Meta:
        model = User
        fields = ("username",)
