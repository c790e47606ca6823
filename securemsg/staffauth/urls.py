"""URLs of the staff two-factor pages (under /accounts/2fa/)."""

from __future__ import annotations

from django.urls import path

from securemsg.staffauth import views

app_name = "staffauth"

urlpatterns = [
    path("setup/", views.SetupView.as_view(), name="setup"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
]
