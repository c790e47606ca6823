"""Use cases of the staff two-factor: who needs it, enrolment, verification.

Every outcome is audited before it takes effect (the audit log fails
closed: if the event cannot be written, the step is refused).
"""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from securemsg import audit
from securemsg.staffauth.conf import staffauth_settings

TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"


def requires_otp(user: Any) -> bool:
    """Whether ``user`` must pass a second factor before the admin serves them."""
    return bool(
        staffauth_settings.required
        and user.is_authenticated
        and (user.is_staff or user.is_superuser)
    )


def is_enrolled(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator (or recovery codes left)."""
    return bool(user_has_device(user, confirmed=True))


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator of an enrolment in progress (made once, kept until used)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG QR code (paths only: no script, no style attribute)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    return svg


def confirm_enrolment(request: HttpRequest, code: str) -> list[str] | None:
    """Confirm the pending authenticator with ``code``; return new recovery codes, or None."""
    user = request.user
    device = pending_device(user)
    if not device.verify_token(code):
        audit.record("staff.otp_failed", actor=user, request=request, outcome="failure",
                     details={"step": "enrol"})  # fmt: skip
        return None
    audit.record("staff.otp_enrolled", actor=user, request=request, target_type="user",
                 target_id=str(user.pk))  # fmt: skip
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(staffauth_settings.recovery_codes)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    otp_login(request, device)
    return codes


def verify(request: HttpRequest, code: str) -> bool:
    """Check a TOTP or recovery code of the signed-in user; mark the session verified."""
    user = request.user
    device = match_token(user, code.strip().replace(" ", ""))
    if device is None:
        audit.record("staff.otp_failed", actor=user, request=request, outcome="failure",
                     details={"step": "verify"})  # fmt: skip
        return False
    kind = "recovery_code" if isinstance(device, StaticDevice) else "totp"
    audit.record("staff.otp_verified", actor=user, request=request, details={"factor": kind})
    otp_login(request, device)
    return True
