"""An administrator's "log out everywhere" closes every WebSocket of the user with 4401."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from securemsg.audit.models import AuditEvent

pytestmark = pytest.mark.asyncio

CLOSE_WITHIN_SECONDS = 3.0


async def test_log_out_everywhere_closes_every_socket_of_the_user_4401(
    chat_users: dict[str, Any], secure: Any, user_factory: Any
) -> None:
    phone = await secure(chat_users["alice"])
    laptop = await secure(chat_users["alice"])
    bob = await secure(chat_users["bob"])

    def log_out_alice() -> int:
        admin = Client()
        admin.force_login(user_factory("root", is_staff=True, is_superuser=True))
        response = admin.post(
            "/admin/accounts/user/",
            {"action": "log_out_everywhere_selected", "_selected_action": [chat_users["alice"].pk]},
        )
        return response.status_code

    started = time.monotonic()
    assert await sync_to_async(log_out_alice)() == 302
    assert await phone.expect_close(timeout=CLOSE_WITHIN_SECONDS) == 4401
    assert await laptop.expect_close(timeout=CLOSE_WITHIN_SECONDS) == 4401
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS
    await bob.send({"t": "ping", "id": "still"})
    assert (await bob.receive_until("pong"))["id"] == "still"
    reasons = await sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(event="session.closed_signed_out").values_list(
                "details__reason", flat=True
            )
        )
    )()
    assert reasons == ["logged_out_everywhere"] * 2
