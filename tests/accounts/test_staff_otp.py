"""Staff two-factor: TOTP before any admin page, recovery codes that work once.

Codes are computed from the device key with an independent RFC 6238
implementation (HMAC-SHA-1, 30 s steps, 6 digits), not with django-otp's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from securemsg.audit.models import AuditEvent

pytestmark = pytest.mark.otp

ADMIN_PAGES = [
    "/admin/",
    "/admin/status/",
    "/admin/keyvault/serverkey/",
    "/admin/audit/auditevent/",
    "/admin/audit/checkpoint/",
    "/admin/accounts/user/",
    "/admin/otp_totp/totpdevice/",
]
# Pages opened after verification (the status page runs every readiness check,
# which takes long without a key vault in these tests; its refusal is tested above).
FAST_ADMIN_PAGES = ADMIN_PAGES[2:]


def totp(key: bytes, at: float | None = None, step: int = 30) -> str:
    """RFC 6238 TOTP, 6 digits (independent of django-otp)."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def _key_from_page(content: bytes) -> bytes:
    uri = re.search(rb"otpauth://totp/[^<\"]+", content)
    assert uri is not None, "the setup page shows the otpauth URI"
    query = parse_qs(urlsplit(uri.group().decode().replace("&amp;", "&")).query)
    secret = query["secret"][0]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


@pytest.fixture
def staff(user_factory: Any) -> tuple[Client, Any]:
    user = user_factory("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client, user


def _enrol(client: Client) -> tuple[bytes, list[str]]:
    page = client.get("/accounts/2fa/setup/")
    assert page.status_code == 200
    key = _key_from_page(page.content)
    done = client.post("/accounts/2fa/setup/", {"code": totp(key), "next": "/admin/"})
    assert done.status_code == 200
    codes = re.findall(rb"<li><code>([^<]+)</code></li>", done.content)
    assert len(codes) == 10
    return key, [c.decode() for c in codes]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_refused_until_enrolled_and_verified(
    staff: tuple[Client, Any], path: str
) -> None:
    client, _user = staff
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/setup/?next=")


def test_setup_page_shows_qr_svg_and_uri_without_inline_script_or_style(
    staff: tuple[Client, Any],
) -> None:
    client, _user = staff
    page = client.get("/accounts/2fa/setup/")
    assert b"<svg" in page.content and b"otpauth://totp/securemsg" in page.content
    assert b"<script>" not in page.content and b"style=" not in page.content
    assert "unsafe-inline" not in page.get("Content-Security-Policy", "")


def test_enrol_verify_and_every_admin_page_opens(staff: tuple[Client, Any]) -> None:
    client, user = staff
    key, _codes = _enrol(client)
    for path in FAST_ADMIN_PAGES:
        assert client.get(path).status_code == 200, path  # verified by the enrolment
    assert AuditEvent.objects.filter(event="staff.otp_enrolled", actor_id=user.pk).exists()

    # A new sign-in session asks for a code again.
    again = Client()
    again.force_login(user)
    response = again.get("/admin/keyvault/serverkey/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/verify/?next=")
    wrong = f"{(int(totp(key)) + 1) % 1_000_000:06d}"
    refused = again.post(
        "/accounts/2fa/verify/", {"code": wrong, "next": "/admin/audit/auditevent/"}
    )
    assert refused.status_code == 400
    assert again.get("/admin/audit/auditevent/").status_code == 302
    assert AuditEvent.objects.filter(event="staff.otp_failed", actor_id=user.pk).exists()

    # Right after a failure the device is throttled (django-otp: 1 s, doubling),
    # so even a right code waits; then the next window's code (within the
    # allowed drift; the enrolment used this window's) works.
    throttled = again.post("/accounts/2fa/verify/", {"code": totp(key, time.time() + 30)})
    assert throttled.status_code == 400
    time.sleep(1.1)
    ok = again.post(
        "/accounts/2fa/verify/",
        {"code": totp(key, time.time() + 30), "next": "/admin/audit/auditevent/"},
    )
    assert ok.status_code == 302 and ok["Location"] == "/admin/audit/auditevent/"
    for path in FAST_ADMIN_PAGES:
        assert again.get(path).status_code == 200, path


def test_recovery_code_works_once(staff: tuple[Client, Any]) -> None:
    client, user = staff
    _key, codes = _enrol(client)
    first = Client()
    first.force_login(user)
    assert first.post("/accounts/2fa/verify/", {"code": codes[0]}).status_code == 302
    assert first.get("/admin/keyvault/serverkey/").status_code == 200
    second = Client()
    second.force_login(user)
    assert second.post("/accounts/2fa/verify/", {"code": codes[0]}).status_code == 400
    assert second.get("/admin/keyvault/serverkey/").status_code == 302
    event = AuditEvent.objects.filter(event="staff.otp_verified", actor_id=user.pk).latest("seq")
    assert event.details["factor"] == "recovery_code"
    assert codes[0] not in str(event.details)


def test_wrong_code_at_enrolment_is_refused_and_nothing_is_confirmed(
    staff: tuple[Client, Any],
) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client, user = staff
    page = client.get("/accounts/2fa/setup/")
    key = _key_from_page(page.content)
    wrong = f"{(int(totp(key)) + 500_000) % 1_000_000:06d}"
    assert client.post("/accounts/2fa/setup/", {"code": wrong}).status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get("/admin/").status_code == 302


def test_open_redirect_through_next_is_refused(staff: tuple[Client, Any]) -> None:
    client, _user = staff
    key, _codes = _enrol(client)
    other = Client()
    other.force_login(_user)
    response = other.post(
        "/accounts/2fa/verify/",
        {"code": totp(key, time.time() + 30), "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_non_staff_users_are_not_asked(user_factory: Any) -> None:
    client = Client()
    client.force_login(user_factory("alice"))
    response = client.get("/admin/")
    # The admin's own refusal (sign-in page), not the two-factor pages.
    assert response.status_code == 302 and "/2fa/" not in response["Location"]


def test_setting_off_lets_staff_in_without_a_code(staff: tuple[Client, Any], settings: Any) -> None:
    settings.SECUREMSG_STAFF_OTP_REQUIRED = False
    client, _user = staff
    assert client.get("/admin/keyvault/serverkey/").status_code == 200
