"""The read-only admin: permissions, list, filters, search, detail, export, dashboard, verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from securemsg.audit import record
from securemsg.audit.models import AuditEvent

LIST = "/admin/audit/auditevent/"
TEMPLATES = Path(__file__).resolve().parents[2] / "securemsg" / "audit" / "templates"


@pytest.fixture
def root(user_factory) -> Client:
    client = Client()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def filled(root):
    """Rows 3..5 (rows 1 and 2 are root's creation and sign-in)."""
    record("auth.login_failed", outcome="failure", ip="10.0.0.1", details={"username": "eve"})
    record("key.rotated", target_type="server_key", target_id="sig-2024")
    record("auth.login_failed", outcome="failure", ip="10.0.0.2", details={"username": "bob"})
    return AuditEvent.objects.filter(seq__gte=3).order_by("seq")


def _seqs(page: bytes) -> list[int]:
    return [int(s) for s in re.findall(rb'class="field-seq"><a href="[^"]+">(\d+)</a>', page)]


def test_superuser_cannot_add_change_or_delete(root, filled):
    row = filled.first()
    before = list(filled.values_list("seq", "hash", "event"))
    assert root.get(f"{LIST}add/").status_code == 403
    assert root.post(f"{LIST}{row.pk}/change/", {"event": "auth.logout"}).status_code == 403
    assert root.post(f"{LIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        root.post(LIST, {"action": "delete_selected", "_selected_action": [row.pk]}).status_code
        != 302
    )
    assert list(filled.values_list("seq", "hash", "event")) == before
    assert root.get("/admin/audit/checkpoint/add/").status_code == 403


def test_list_is_newest_first(root, filled):
    assert _seqs(root.get(LIST).content) == [5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("query", "seqs"),
    [
        ("?event=key.rotated", [4]),
        ("?outcome=failure", [5, 3]),
        ("?q=10.0.0.2", [5]),
        ("?q=sig-2024", [4]),
        ("?q=4", [4]),
        ("?ts_from=2000-01-01&ts_to=2999-12-31", [5, 4, 3, 2, 1]),
        ("?event=key.rotated&ts_from=2000-01-01", [4]),
        ("?ts_to=2000-01-01", []),
        ("?actor=nobody", []),
    ],
)
def test_filters_and_search(root, filled, query, seqs):
    response = root.get(LIST + query)
    assert response.status_code == 200
    assert _seqs(response.content) == seqs


def test_actor_filter(user_factory, db):
    alice = user_factory("alice", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(alice)
    record("key.rotated", actor=alice)
    assert _seqs(client.get(LIST + "?actor=alice&event=key.rotated").content) == [
        AuditEvent.objects.get(event="key.rotated").seq
    ]


def test_detail_shows_details_and_chain_position(root, filled):
    middle = filled.get(seq=4)
    page = root.get(f"{LIST}{middle.pk}/change/").content.decode()
    assert middle.hash in page and middle.prev_hash in page
    assert "previous (#3)" in page and "next (#5)" in page
    assert '<pre class="audit-details">' in page


def test_export_current_filter_is_audited(root, filled):
    response = root.get("/admin/audit/auditevent/export/csv/?outcome=failure")
    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert body.splitlines()[0].startswith("seq,ts,event")
    assert len(body.strip().splitlines()) == 3
    exported = AuditEvent.objects.get(event="audit.exported")
    assert exported.details["rows"] == 2 and exported.actor_username == "root"
    response = root.get("/admin/audit/auditevent/export/jsonl/?event=key.rotated")
    lines = [json.loads(x) for x in b"".join(response.streaming_content).splitlines()]
    assert [x["event"] for x in lines] == ["key.rotated"]


def test_csv_cells_cannot_become_formulas(root, db):
    record("auth.login_failed", outcome="failure", details={"username": "=cmd|' /C calc'!A0"})
    record("auth.login_failed", outcome="failure", target_type="user", target_id="=1+1")
    body = b"".join(root.get("/admin/audit/auditevent/export/csv/").streaming_content).decode()
    assert ",'=1+1," in body


def test_dashboard_renders_counts_and_chart(root, filled):
    page = root.get("/admin/audit/auditevent/dashboard/").content.decode()
    assert "<svg" in page and 'class="audit-bar"' in page
    assert "auth.login_failed" in page
    assert re.search(r"<td>.*auth\.login_failed.*</td><td>2</td><td>2</td>", page)


def test_verify_view(root, filled, sql):
    assert "Verify the chain now" in root.get("/admin/audit/auditevent/verify/").content.decode()
    page = root.post("/admin/audit/auditevent/verify/").content.decode()
    assert "Intact: 5 rows" in page
    sql("UPDATE audit_auditevent SET ip = '10.9.9.9' WHERE seq = 3")
    page = root.post("/admin/audit/auditevent/verify/").content.decode()
    assert "Broken at row 3" in page and "edited" in page
    assert AuditEvent.objects.filter(event="audit.verified").count() == 2


@pytest.mark.parametrize(
    "url",
    [LIST, f"{LIST}dashboard/", f"{LIST}verify/", f"{LIST}export/csv/"],
)
def test_permission_required(user_factory, db, url):
    staff = user_factory("staff", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_pages_are_csp_clean(root, filled):
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert "style=" not in text and "<style" not in text, template
    row = filled.first()
    for url in (LIST, f"{LIST}dashboard/", f"{LIST}verify/", f"{LIST}{row.pk}/change/"):
        page = root.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert " style=" not in page, url
