"""A user's WebSockets end within seconds when their sign-in session ends (issue 11, point 4).

Through docs/deployment.md's nginx, over wss, with two production workers:
the user holds a secure channel on *each* worker (nginx's least_conn spreads
them; Daphne's access log proves it), then the session ends by one of the
five ways a session ends. Every one of that user's channels closes with 4401
(protocol.md, "Close codes": not logged in, or the sign-in session ended)
within a few seconds, on both processes; another user's channels, on both
workers too, stay open and answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from securemsg.client import SecureChannel
from tests.scaleout.conftest import Cluster
from tests.support.nginx import NginxProxy
from tests.support.ws import create_session

from .conftest import close_code, connect_on_both_workers, web_client

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.asyncio]

#: The close code of an ended sign-in session (protocol.md, "Close codes").
SESSION_ENDED = 4401
#: How soon after the session ends every socket must be closed.
CLOSE_WITHIN_SECONDS = 3.0
#: Lifetime of the session in the expiry case: long enough to open four channels.
EXPIRES_IN_SECONDS = 5
#: A new password that passes the validators.
NEW_PASSWORD = "a-whole-new-Password-77"


async def _sign_out(context: dict[str, Any]) -> None:
    # Another tab: the same browser session, signing out over https through nginx.
    response = await asyncio.to_thread(context["tab"].post, "/accounts/logout/", {})
    assert response.status == 302, response.body


async def _change_password(context: dict[str, Any]) -> None:
    fields = {
        "old_password": context["password"],
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    response = await asyncio.to_thread(context["tab"].post, "/accounts/password/", fields)
    assert response.status == 302, response.body


async def _deactivate(context: dict[str, Any]) -> None:
    def deactivate() -> None:
        user = context["user"]
        user.is_active = False
        user.save()

    await sync_to_async(deactivate)()


async def _expire(context: dict[str, Any]) -> None:
    # Nothing to do: the session ends at its expiry date, EXPIRES_IN_SECONDS after creation.
    await asyncio.sleep(max(0.0, context["expires_at"] - time.monotonic()))


async def _log_out_everywhere(context: dict[str, Any]) -> None:
    admin = context["admin"]
    fields = {"action": "log_out_everywhere_selected", "_selected_action": str(context["user"].pk)}
    response = await asyncio.to_thread(admin.post, "/admin/accounts/user/", fields)
    assert response.status == 302, response.body


ENDINGS: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
    "sign-out in another tab": _sign_out,
    "password change": _change_password,
    "deactivation": _deactivate,
    "session expiry": _expire,
    "admin log out everywhere": _log_out_everywhere,
}


async def _open_session(
    ending: str, proxy: NginxProxy, cluster: Cluster, user_factory: Any, password: str
) -> dict[str, Any]:
    """Sign alice in as the ending needs; return what the ending uses."""
    user = cluster.users["alice"]
    context: dict[str, Any] = {"user": user, "password": password}
    key: str | None
    if ending == "session expiry":
        key = await sync_to_async(create_session)(user, expires_in=EXPIRES_IN_SECONDS)
        context["expires_at"] = time.monotonic() + EXPIRES_IN_SECONDS
    else:
        tab = web_client(proxy)
        response = await asyncio.to_thread(tab.sign_in, "alice", password)
        assert response.status == 302, response.body
        key = tab.cookie("sessionid")
        assert key is not None
        context["tab"] = tab
    if ending == "admin log out everywhere":
        await sync_to_async(user_factory)("root", is_staff=True, is_superuser=True)
        admin = web_client(proxy)
        assert (await asyncio.to_thread(admin.sign_in, "root", password)).status == 302
        context["admin"] = admin
    context["session_key"] = key
    return context


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_every_socket_of_the_user_closes_on_both_workers(
    ending: str,
    cluster: Cluster,
    nginx_proxy: NginxProxy,
    channels: Callable[[SecureChannel], SecureChannel],
    user_factory: Any,
    password: str,
) -> None:
    context = await _open_session(ending, nginx_proxy, cluster, user_factory, password)
    alice = [
        channels(channel)
        for channel in await connect_on_both_workers(
            nginx_proxy, cluster, "alice", context["session_key"]
        )
    ]
    bob_key = await sync_to_async(create_session)(cluster.users["bob"])
    bob = [
        channels(channel)
        for channel in await connect_on_both_workers(nginx_proxy, cluster, "bob", bob_key)
    ]

    await ENDINGS[ending](context)
    ended = time.monotonic()
    codes = await asyncio.gather(
        *(close_code(channel, CLOSE_WITHIN_SECONDS + 1) for channel in alice)
    )
    elapsed = time.monotonic() - ended
    assert codes == [SESSION_ENDED] * len(alice)
    # The expiry check runs when the session is due plus up to a second.
    assert elapsed < CLOSE_WITHIN_SECONDS, f"closed {elapsed:.1f} s after the session ended"
    for channel in bob:
        await channel.flush(timeout=5)
