"""Top-level URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from keyvault.views import keys_json
from securemsg.chat.views import ChatView
from securemsg.ops.views import admin_status

urlpatterns = [
    path("", account_views.HomeView.as_view(), name="home"),
    path("chat/", ChatView.as_view(), name="chat"),
    path("accounts/", include("accounts.urls")),
    path("accounts/2fa/", include("securemsg.staffauth.urls")),
    # The status page is the admin's first page (docs/operations.md, "Status page").
    path("admin/", admin_status, name="ops-status"),
    path("admin/status/", admin_status),
    path("admin/", admin.site.urls),
    path("", include("securemsg.ops.urls")),
    path(".well-known/securemsg/keys.json", keys_json, name="keys-json"),
]
