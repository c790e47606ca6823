"""Sign-in through the form and keys.json, against a local fake site."""

from __future__ import annotations

import pytest

from securemsg.client import Server, ServerError, SignInError


def test_sign_in_like_a_browser(fake_site) -> None:
    server = Server.from_url(fake_site.origin)
    server.sign_in("alice", "pw-alice")
    (post,) = fake_site.posts
    assert post["form"] == {
        "csrfmiddlewaretoken": "tok123",
        "username": "alice",
        "password": "pw-alice",
    }
    assert post["headers"]["Referer"] == fake_site.origin + "/accounts/login/"
    assert "sessionid=s3ss" in server.cookie_header()
    assert "csrftoken=tok123" in server.cookie_header()


def test_wrong_password_is_sign_in_error(fake_site) -> None:
    server = Server.from_url(fake_site.origin)
    with pytest.raises(SignInError) as info:
        server.sign_in("alice", "nope")
    assert info.value.exit_status == 3 and "pw-alice" not in str(info.value)


def test_fetch_keys_bypasses_caches(fake_site, key_set) -> None:
    fetched = Server.from_url(fake_site.origin).fetch_keys()
    assert fetched.keys == key_set.keys
    assert fake_site.keys_requests[0]["Cache-Control"] == "no-cache"


def test_invalid_keys_json_is_server_error(fake_site) -> None:
    fake_site.keys_json = {"version": 1, "keys": [{"kid": 5}]}
    with pytest.raises(ServerError):
        Server.from_url(fake_site.origin).fetch_keys()


def test_unreachable_server() -> None:
    with pytest.raises(ServerError):
        Server.from_url("http://127.0.0.1:1").fetch_keys()


@pytest.mark.parametrize(
    ("url", "ws"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws/securemsg/"),
        ("https://chat.example/some/path", "wss://chat.example/ws/securemsg/"),
    ],
)
def test_urls(url: str, ws: str) -> None:
    server = Server.from_url(url)
    assert server.ws_url == ws
    assert "/some" not in server.origin


@pytest.mark.parametrize("url", ["ftp://x", "chat.example", "http://"])
def test_bad_server_url(url: str) -> None:
    with pytest.raises(ValueError):
        Server.from_url(url)
