"""One redelivery sweep per process for all the sessions it holds.

The channel layer may lose a message id (a full channel, an expired message,
a Redis restart); the database does not. Every ``SECUREMSG_REDELIVERY_SECONDS``
one task per process asks the database, in one query per thousand users,
which messages to this process's users are still undelivered, and hands the
ids to those users' sessions, which deliver what they have not sent yet.
One query per process instead of one per session is what lets a process hold
thousands of idle sessions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from securemsg.chat import dbthread
from securemsg.chat.conf import chat_settings
from securemsg.chat.internal import store

logger = logging.getLogger("securemsg.chat")


class SweptSession(Protocol):
    """What the sweeper needs from a consumer."""

    async def sweep(self, mids: list[str]) -> None:
        """Deliver those of ``mids`` (oldest first) this session has not sent."""
        ...


class Sweeper:
    """The process-wide registry of established sessions and its sweep task."""

    def __init__(self) -> None:
        self._sessions: dict[int, set[SweptSession]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, user_id: int, session: SweptSession) -> None:
        """Include ``session`` of ``user_id`` in the sweeps (call from the event loop)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A server process has one loop; a new one (tests) starts afresh.
            self._sessions, self._loop, self._task = {}, loop, None
        self._sessions.setdefault(user_id, set()).add(session)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())

    def remove(self, user_id: int, session: SweptSession) -> None:
        """Leave the sweeps (on disconnect)."""
        sessions = self._sessions.get(user_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._sessions[user_id]

    async def sweep_once(self) -> None:
        """Run one sweep now (the loop calls it; tests may too)."""
        user_ids = list(self._sessions)
        if not user_ids:
            return
        pending = await dbthread.run(store.undelivered_mids, user_ids)
        for user_id, mids in pending.items():
            for session in list(self._sessions.get(user_id, ())):
                try:
                    await session.sweep(mids)
                except Exception:
                    # One broken session must not stop the sweep for the others.
                    logger.exception("redelivery to one session failed")

    async def _run(self) -> None:
        while self._sessions:
            await asyncio.sleep(chat_settings.redelivery_interval)
            try:
                await self.sweep_once()
            except Exception:
                # The sweep is a safety net: a failed round (database away)
                # is logged and the next one tries again; sessions whose
                # own requests fail close with 4500 by themselves.
                logger.exception("redelivery sweep failed; retrying next round")
        self._task = None


sweeper = Sweeper()
