"""A minimum usable encryption version seen from the WebSocket: 4412, then a re-fetch recovers."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

import keyvault
from tests.support.ws import (
    fetch_keys_json,
    refetch_and_ping,
    stale_hello_close_code,
)

pytestmark = pytest.mark.asyncio


async def test_client_pinned_below_the_minimum_gets_4412_and_a_refetch_recovers(chat_users, vault):
    alice = chat_users["alice"]
    stale = await sync_to_async(fetch_keys_json)()
    stale_enc = next(k["kid"] for k in stale["keys"] if k["use"] == "enc")
    report = await sync_to_async(keyvault.set_minimum_key_version)("encryption", 2)
    assert report.unusable == (stale_enc,) and report.replacement

    # A client still holding the old keys.json wraps to the key below the minimum.
    assert await stale_hello_close_code(alice, stale) == 4412

    # The documented recovery: re-fetch keys.json, handshake again.
    fresh = await refetch_and_ping(alice)
    assert [k["kid"] for k in fresh["keys"] if k["use"] == "enc"] == [report.replacement]
