"""Read-only admin of the audit log: list, detail, dashboard, verification, export.

Nobody can add, change or delete rows here, superusers included; viewing
needs ``audit.view_auditevent``. Every custom page checks that permission.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from securemsg.audit.exceptions import CheckpointError
from securemsg.audit.internal import dashboard
from securemsg.audit.internal.admin_filters import (
    ActorFilter,
    DateRangeFilter,
    EventFilter,
    OutcomeFilter,
)
from securemsg.audit.internal.exports import iter_csv, iter_jsonl
from securemsg.audit.internal.writer import record
from securemsg.audit.models import AuditEvent, Checkpoint


class _ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """No add, change, delete or bulk action for anyone."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Rows are written only by ``securemsg.audit.record``."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Rows are never edited."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Rows are removed only by ``audit prune``."""
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(_ReadOnlyAdmin):
    """Events newest first, with filters, exact search, detail, dashboard and export."""

    list_display = ("seq", "ts", "event", "outcome", "actor_username", "ip", "target")
    list_display_links = ("seq",)
    list_filter = (EventFilter, OutcomeFilter, ActorFilter, DateRangeFilter)
    search_fields = ("actor_username", "ip", "target_id")
    search_help_text = "Exact username, IP address, target id, or row number."
    ordering = ("-seq",)
    list_per_page = 100
    # The unfiltered total is a COUNT(*) over the whole table; skip it.
    show_full_result_count = False
    change_list_template = "admin/audit/auditevent/change_list.html"
    fields = (
        "seq",
        "ts",
        "event",
        "outcome",
        "actor_id",
        "actor_username",
        "ip",
        "user_agent",
        "target_type",
        "target_id",
        "details_pretty",
        "chain_position",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    class Media:
        css: ClassVar = {"all": ("audit/audit.css",)}

    @admin.display(description="target")
    def target(self, obj: AuditEvent) -> str:
        """``type:id`` of the object the event is about."""
        return f"{obj.target_type}:{obj.target_id}" if obj.target_type else ""

    @admin.display(description="details")
    def details_pretty(self, obj: AuditEvent) -> str:
        """The details JSON, indented."""
        text = json.dumps(obj.details, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="audit-details">{}</pre>', text)

    @admin.display(description="chain position")
    def chain_position(self, obj: AuditEvent) -> str:
        """Row number with links to the previous and next rows."""
        near = dict(
            AuditEvent.objects.filter(seq__in=(obj.seq - 1, obj.seq + 1)).values_list("seq", "pk")
        )
        links = []
        for seq, label in ((obj.seq - 1, "previous"), (obj.seq + 1, "next")):
            if seq in near:
                url = reverse("admin:audit_auditevent_change", args=[near[seq]])
                links.append(format_html('<a href="{}">{} (#{})</a>', url, label, seq))
            else:
                links.append(format_html("<span>no {} row</span>", label))
        return format_html("row {} · {} · {}", obj.seq, links[0], links[1])

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Exact matches only, so that each term uses an index."""
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(actor_username=term) | Q(ip=term) | Q(target_id=term)
        if term.isdigit():
            query |= Q(seq=int(term))
        return queryset.filter(query), False

    def get_urls(self) -> list[URLPattern]:
        """The dashboard, verification and export pages before the default ones."""
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="audit_dashboard"),
            path("verify/", wrap(self.verify_view), name="audit_verify"),
            path("export/<str:fmt>/", wrap(self.export_view), name="audit_export"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title}

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Counts per event type (24 h, 30 days) and charts of failed sign-ins."""
        context = self._context(request, "Audit dashboard")
        now = timezone.now()
        hourly = dashboard.failed_signins(now, buckets=24, step=timedelta(hours=1), fmt="%H:00")
        daily = dashboard.failed_signins(now, buckets=30, step=timedelta(days=1), fmt="%m-%d")
        context |= {
            "counts": dashboard.counts_by_event(now),
            "charts": [
                ("Failed sign-ins per hour, last 24 hours (UTC)", hourly),
                ("Failed sign-ins per day, last 30 days (UTC)", daily),
            ],
            "chart_width": dashboard.CHART_WIDTH,
            "chart_height": dashboard.CHART_HEIGHT,
        }
        return TemplateResponse(request, "admin/audit/dashboard.html", context)

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """GET explains, POST walks the whole chain and records ``audit.verified``."""
        from securemsg.audit.internal.sources import verify_database

        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        context = self._context(request, "Verify the audit chain")
        if request.method == "POST":
            try:
                result = verify_database()
            except CheckpointError as exc:
                context["vault_error"] = str(exc)
            else:
                record(
                    "audit.verified",
                    request=request,
                    outcome="success" if result.ok else "failure",
                    target_type="audit_chain",
                    details=result.summary() | {"source": "database", "via": "admin"},
                )
                context["result"] = result
        return TemplateResponse(request, "admin/audit/verify.html", context)

    def export_view(self, request: HttpRequest, fmt: str) -> StreamingHttpResponse:
        """The current filter and search as CSV or JSON Lines, recorded as ``audit.exported``."""
        if fmt not in ("csv", "jsonl"):
            raise PermissionDenied
        self._context(request, "export")
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        record(
            "audit.exported",
            request=request,
            target_type="audit_export",
            target_id=fmt,
            details={
                "kind": "admin",
                "format": fmt,
                "filter": request.GET.urlencode()[:500],
                "rows": queryset.count(),
            },
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
        response = StreamingHttpResponse(
            iter_csv(queryset) if fmt == "csv" else iter_jsonl(queryset),
            content_type=f"{content_type}; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
        return response


@admin.register(Checkpoint)
class CheckpointAdmin(_ReadOnlyAdmin):
    """Signed checkpoints, newest first."""

    list_display = ("seq", "ts", "kid", "head_hash")
    ordering = ("-seq",)
    fields = ("seq", "ts", "kid", "head_hash", "signature_hex")
    readonly_fields = fields

    @admin.display(description="signature (hex)")
    def signature_hex(self, obj: Checkpoint) -> str:
        """The RSA-PSS signature in hex."""
        return bytes(obj.signature).hex()
