"""URLs of the operations endpoints (included at the site root by ``securemsg.urls``)."""

from __future__ import annotations

from django.urls import path

from securemsg.ops import views

app_name = "ops"

urlpatterns = [
    path("health/live", views.LivenessView.as_view(), name="live"),
    path("health/ready", views.ReadinessView.as_view(), name="ready"),
    path("metrics", views.metrics, name="metrics"),
]
