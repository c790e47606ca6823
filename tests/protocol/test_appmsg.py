"""Application message schemas: 4400 for JSON-level faults, error objects for ranges."""

from __future__ import annotations

from typing import Any

import pytest

from securemsg.protocol import (
    DeliveredNotice,
    ErrorReply,
    HistoryRequest,
    MalformedMessageError,
    PingRequest,
    SendRequest,
    ack_message,
    chat_message,
    history_message,
    history_request,
    parse_client_request,
    parse_server_message,
    ping_request,
    pong_message,
    receipt_message,
    send_request,
)


def test_send() -> None:
    assert parse_client_request(send_request("u1", "bob", "hi")) == SendRequest("u1", "bob", "hi")


def test_send_requires_id() -> None:
    with pytest.raises(MalformedMessageError):
        parse_client_request({"t": "send", "to": "bob", "body": "hi"})


@pytest.mark.parametrize(
    "message",
    [
        {"t": "send", "id": "1", "to": 5, "body": "x"},
        {"t": "send", "id": "1", "body": "x"},
        {"t": "send", "id": 1, "to": "bob", "body": "x"},
        {"t": "history", "with": None},
        {"t": "history", "with": "bob", "limit": "5"},
        {"t": "history", "with": "bob", "limit": True},
        {"t": "history", "with": "bob", "before": 5},
        {"t": "delivered"},
        {"t": 5},
        {"id": "x"},
        {"t": "ping", "id": None},
    ],
)
def test_json_level_faults_are_4400(message: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessageError) as info:
        parse_client_request(message)
    assert info.value.close_code == 4400


def test_body_limit_counts_utf8_bytes() -> None:
    assert isinstance(parse_client_request(send_request("1", "b", "x" * 4096)), SendRequest)
    assert isinstance(parse_client_request(send_request("1", "b", "é" * 2048)), SendRequest)
    reply = parse_client_request(send_request("1", "b", "é" * 2049))
    assert reply == ErrorReply("1", "body_too_long", reply.message)  # type: ignore[union-attr]


def test_long_id_is_bad_request_with_null_id() -> None:
    assert isinstance(parse_client_request(ping_request("x" * 64)), PingRequest)
    reply = parse_client_request(ping_request("x" * 65))
    assert isinstance(reply, ErrorReply) and reply.id is None and reply.code == "bad_request"
    assert reply.to_json()["id"] is None


def test_unknown_type_is_bad_request_echoing_id() -> None:
    reply = parse_client_request({"t": "dance", "id": "q"})
    assert isinstance(reply, ErrorReply) and reply.id == "q" and reply.code == "bad_request"


def test_history_defaults_and_range() -> None:
    assert parse_client_request({"t": "history", "with": "bob"}) == HistoryRequest(
        None, "bob", None, 50
    )
    assert parse_client_request(history_request("bob", before="m1", limit=100, request_id="h")) == (
        HistoryRequest("h", "bob", "m1", 100)
    )
    for limit in (0, 101, -1):
        reply = parse_client_request({"t": "history", "with": "bob", "limit": limit, "id": "h"})
        assert isinstance(reply, ErrorReply) and reply.code == "bad_request" and reply.id == "h"


def test_delivered_and_ping() -> None:
    assert parse_client_request({"t": "delivered", "mid": "m"}) == DeliveredNotice("m")
    assert parse_client_request({"t": "ping"}) == PingRequest(None)


def test_server_builders_parse_back() -> None:
    msg = chat_message(mid="m", sender="a", to="b", body="hi", ts="2025-01-01T00:00:00Z")
    assert msg["from"] == "a"
    history_item = {k: v for k, v in msg.items() if k != "t"} | {"delivered": True}
    for message in [
        {"t": "ready", "session": "AAAA"},
        ack_message("1", "m", "2025-01-01T00:00:00Z"),
        msg,
        receipt_message("m"),
        history_message("h", "b", [history_item], False),
        history_message(None, "b", [], True),
        pong_message(None),
        pong_message("p"),
        ErrorReply(None, "rate_limited", "slow down").to_json(),
    ]:
        parsed = parse_server_message(message)
        assert parsed is not None and parsed.t == message["t"]
    assert pong_message(None) == {"t": "pong"}


def test_server_message_faults() -> None:
    assert parse_server_message({"t": "future"}) is None
    bad: list[dict[str, Any]] = [
        {"t": "ack", "id": "1", "mid": 5, "ts": "x"},
        {"t": "history", "with": "b", "messages": [{"mid": "m"}], "more": False},
        {"t": "history", "with": "b", "messages": [], "more": "no"},
        {"t": "msg"},
    ]
    for message in bad:
        with pytest.raises(MalformedMessageError):
            parse_server_message(message)
