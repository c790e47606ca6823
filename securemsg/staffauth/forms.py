"""The one form of the staff two-factor pages: a code."""

from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    """A six-digit TOTP code or a recovery code."""

    code = forms.CharField(
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
