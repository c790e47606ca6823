"""The admin status page: the first page staff see, with checks, keys, audit and counts."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.auth.models import Permission
from django.test import Client

import keyvault

STATUS = "/admin/"


def test_anonymous_and_non_staff_are_sent_to_sign_in(vault, user_factory):
    anonymous = Client().get(STATUS)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    member = Client()
    member.force_login(user_factory("bob"))
    assert member.get(STATUS).status_code == 302
    assert member.get("/admin/status/").status_code == 302


def test_sign_in_lands_on_the_status_page(vault, user_factory, password):
    user_factory("root", is_staff=True, is_superuser=True)
    browser = Client()
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": password, "next": "/admin/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/admin/"
    assert b"Readiness: " in response.content
    assert 'id="ops-readiness"' in response.content.decode()


def test_superuser_sees_every_section(vault, admin_client_for):
    from securemsg.audit.internal.checkpoints import take_checkpoint

    take_checkpoint()
    page = admin_client_for("root", is_superuser=True).get(STATUS)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'Readiness: <span class="ops-ok">OK</span>' in html
    for title in ("Database", "Channel layer", "Key vault", "Audit log"):
        assert f"<td>{title}</td>" in html
    assert ">sig-1</a>" in html and ">enc-1</a>" in html
    assert "rotation in" in html
    assert re.search(r"Last rotation: [0-9-]+ [0-9:]+ UTC, enc-1 by system", html)
    assert "signed by sig-1" in html
    assert "Open secure sessions" in html and "Messages today (UTC)" in html
    # The app list stays reachable from the first page.
    assert "/admin/keyvault/serverkey/" in html


def test_failing_check_is_shown_with_what_to_do(vault, admin_client_for, settings):
    Path(settings.KEYVAULT_MASTER_KEY_FILE).unlink()
    keyvault.reset_caches()
    html = admin_client_for("root", is_superuser=True).get(STATUS).content.decode()
    assert 'Readiness: <span class="ops-fail">FAIL</span>' in html
    assert "MasterKeyMissingError" in html
    assert "Restore the master keyring" in html


def test_staff_without_permissions_see_checks_but_not_keys(vault, admin_client_for):
    browser = admin_client_for("helpdesk")
    html = browser.get(STATUS).content.decode()
    assert "Readiness:" in html and "Open secure sessions" in html
    assert "sig-1" not in html
    assert "view server key" in html and "view audit event" in html


def test_view_permissions_open_their_sections(vault, user_factory):
    user = user_factory("keyholder", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_serverkey"))
    browser = Client()
    browser.force_login(user)
    html = browser.get(STATUS).content.decode()
    assert ">sig-1</a>" in html
    assert "view audit event" in html


def test_page_has_no_inline_script_or_style(vault, admin_client_for):
    response = admin_client_for("root", is_superuser=True).get(STATUS)
    html = response.content.decode()
    assert "<style" not in html
    assert " style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "/static/ops/status.css" in html
