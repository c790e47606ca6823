"""One client-address rule for WebSockets and HTTP (securemsg/chat/netaddr.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from securemsg.chat.netaddr import client_address, request_client_address


def _scope(peer: str, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 40000), "headers": headers}


def _request(peer: str, forwarded: str | None = None) -> Any:
    extra: dict[str, Any] = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=peer, **extra)


@pytest.mark.parametrize(
    ("count", "peer", "forwarded", "expected"),
    [
        # No proxy trusted: the header is the client's own words.
        (0, "198.51.100.7", ("203.0.113.1",), "198.51.100.7"),
        # docs/deployment.md's nginx sets the header to $remote_addr: exactly the client.
        (1, "127.0.0.1", ("198.51.100.7",), "198.51.100.7"),
        # A proxy that appends: the client's forged entries are left of the proxy's.
        (1, "127.0.0.1", ("203.0.113.1, 198.51.100.7",), "198.51.100.7"),
        (2, "127.0.0.1", ("203.0.113.1, 198.51.100.7, 10.0.0.2",), "198.51.100.7"),
        # Fewer entries than proxies, no header, or garbage: the peer, never the garbage.
        (2, "127.0.0.1", ("198.51.100.7",), "127.0.0.1"),
        (1, "127.0.0.1", (), "127.0.0.1"),
        (1, "127.0.0.1", ("not-an-address",), "127.0.0.1"),
        # IPv6 works like IPv4.
        (1, "::1", ("2001:db8::5",), "2001:db8::5"),
    ],
)
def test_websocket_and_http_agree(
    settings: Any, count: int, peer: str, forwarded: tuple[str, ...], expected: str
) -> None:
    settings.SECUREMSG_TRUSTED_PROXY_COUNT = count
    assert client_address(_scope(peer, *forwarded)) == expected
    request = _request(peer, ", ".join(forwarded) if forwarded else None)
    assert request_client_address(request) == expected


def test_several_headers_are_one_list(settings: Any) -> None:
    settings.SECUREMSG_TRUSTED_PROXY_COUNT = 1
    assert client_address(_scope("127.0.0.1", "203.0.113.1", "198.51.100.7")) == "198.51.100.7"


def test_django_axes_uses_the_rule(settings: Any) -> None:
    from axes.helpers import get_client_ip_address

    settings.SECUREMSG_TRUSTED_PROXY_COUNT = 1
    assert get_client_ip_address(_request("127.0.0.1", "198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("count", "forwarded", "kind"),
    [
        (0, "198.51.100.7", "untrusted_header"),  # a proxy in front, count not set
        (1, None, "missing_header"),  # a worker reached without the proxy
        (2, "198.51.100.7", "missing_header"),  # one proxy less than configured
        (1, "not-an-address", "bad_address"),
    ],
)
def test_a_header_that_does_not_fit_the_proxy_count_is_counted_and_logged_once(
    settings: Any, caplog: pytest.LogCaptureFixture, count: int, forwarded: str | None, kind: str
) -> None:
    from securemsg.chat import netaddr
    from securemsg.ops.metrics import PROXY_HEADER_MISMATCHES

    settings.SECUREMSG_TRUSTED_PROXY_COUNT = count
    netaddr._warned.discard(kind)
    counter = PROXY_HEADER_MISMATCHES.labels(kind=kind)
    before = counter._value.get()
    with caplog.at_level("WARNING", logger="securemsg.proxy"):
        for _ in range(3):
            request_client_address(_request("127.0.0.1", forwarded))
    assert counter._value.get() == before + 3
    warnings = [r for r in caplog.records if r.name == "securemsg.proxy"]
    assert len(warnings) == 1
    assert kind in warnings[0].getMessage()
    assert "198.51.100.7" not in warnings[0].getMessage()


@pytest.mark.parametrize(("count", "forwarded"), [(0, None), (1, "198.51.100.7")])
def test_a_matching_configuration_counts_nothing(
    settings: Any, count: int, forwarded: str | None
) -> None:
    from securemsg.ops.metrics import PROXY_HEADER_MISMATCHES

    settings.SECUREMSG_TRUSTED_PROXY_COUNT = count
    total = sum(
        m.value
        for m in next(iter(PROXY_HEADER_MISMATCHES.collect())).samples
        if m.name.endswith("_total")
    )
    request_client_address(_request("127.0.0.1", forwarded))
    after = sum(
        m.value
        for m in next(iter(PROXY_HEADER_MISMATCHES.collect())).samples
        if m.name.endswith("_total")
    )
    assert after == total
