"""HTTP endpoints: liveness, readiness, metrics and the staff status page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from securemsg.ops import health
from securemsg.ops.internal import exposition, status

__all__ = ["LivenessView", "ReadinessView", "admin_status", "metrics"]


class ReadinessView(HealthCheckView):  # type: ignore[misc]
    """``/health/ready``: every readiness check as JSON; 503 when one fails.

    Unauthenticated (load balancers and orchestrators call it), so it shows
    each check's short reason only; ``manage.py securemsg doctor`` and the
    status page give the details.
    """

    checks = health.CHECKS

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Run the checks and answer ``{"status": ..., "checks": {name: {...}}}``."""
        reports = await health.run_checks(self.checks)
        verdict = health.overall(reports)
        body = {"status": verdict, "checks": {r.name: r.public() for r in reports}}
        return JsonResponse(body, status=503 if verdict == "fail" else 200)


class LivenessView(ReadinessView):
    """``/health/live``: the process answers; no dependency is touched."""

    checks = ()


@never_cache
def metrics(request: HttpRequest) -> HttpResponseBase:
    """Prometheus exposition, behind ``SECUREMSG_METRICS_TOKEN`` / ``SECUREMSG_METRICS_ALLOW``."""
    access = exposition.check_access(request)
    if access is exposition.Access.DISABLED:
        return HttpResponse("Not Found", status=404, content_type="text/plain")
    if access is not exposition.Access.ALLOWED:
        response = HttpResponse(access.name.lower(), status=access.value, content_type="text/plain")
        if access is exposition.Access.NO_CREDENTIALS:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(exposition.registry()), content_type=CONTENT_TYPE_LATEST)


def _status_page(request: HttpRequest) -> TemplateResponse:
    user: Any = request.user
    now = status.now()
    reports = health.run_checks_sync()
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Status",
        "now": now,
        "reports": reports,
        "verdict": health.overall(reports),
        "counts": status.live_counts(now),
        "app_list": admin.site.get_app_list(request),
        "can_keys": user.has_perm("keyvault.view_serverkey"),
        "can_audit": user.has_perm("audit.view_auditevent"),
    }
    if context["can_keys"]:
        context |= {
            "keys": status.key_rows(now),
            "masters": status.master_versions(),
            "last_rotation": status.last_event("key.rotated"),
            "last_rewrap": status.last_event("key.rewrapped"),
        }
    if context["can_audit"]:
        context["audit"] = status.audit_state()
    return TemplateResponse(request, "admin/ops/status.html", context)


#: The admin's first page: readiness, keys, audit and counts above the app list.
admin_status = admin.site.admin_view(never_cache(_status_page))
