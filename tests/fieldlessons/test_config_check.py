"""The one configuration check (field-lessons issue, point 3): it explains what to change."""

from __future__ import annotations

from typing import Any

import pytest

from securemsg.checks import check_hosts_origins_and_proxy


def _ids(settings: Any) -> dict[str, str]:
    return {str(m.id): f"{m.msg} {m.hint}" for m in check_hosts_origins_and_proxy()}


@pytest.fixture
def sane(settings: Any) -> Any:
    settings.PRODUCTION = True
    settings.ALLOWED_HOSTS = ["chat.example.org"]
    settings.SECUREMSG_ALLOWED_ORIGINS = ["https://chat.example.org"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECUREMSG_TRUSTED_PROXY_COUNT = 1
    settings.SECURE_SSL_REDIRECT = True
    return settings


def test_a_consistent_production_setup_passes(sane):
    assert _ids(sane) == {}


def test_the_dev_defaults_pass(settings):
    assert _ids(settings) == {}


@pytest.mark.parametrize(
    ("origin", "words"),
    [
        ("chat.example.org", "must start with http:// or https://"),
        ("https://chat.example.org/", "no path, not even a trailing /"),
        ("https://*.example.org", "wildcards are not supported"),
        ("https://chat.example.org:https", "port is not a number"),
    ],
)
def test_malformed_websocket_origin(sane, origin, words):
    sane.SECUREMSG_ALLOWED_ORIGINS = [origin]
    found = _ids(sane)
    assert "securemsg.E101" in found and words in found["securemsg.E101"]


def test_websocket_origin_whose_host_django_refuses(sane):
    sane.SECUREMSG_ALLOWED_ORIGINS = ["https://app.example.org"]
    message = _ids(sane)["securemsg.E102"]
    assert "Add app.example.org to ALLOWED_HOSTS" in message


def test_plain_http_origin_in_production_is_a_warning(sane):
    sane.SECUREMSG_ALLOWED_ORIGINS = ["http://chat.example.org"]
    assert "list the https:// origin" in _ids(sane)["securemsg.W101"]


def test_csrf_origin_without_scheme_and_foreign_host(sane):
    sane.CSRF_TRUSTED_ORIGINS = ["chat.example.org", "https://*.other.example"]
    found = _ids(sane)
    assert "must start with http://" in found["securemsg.E103"]
    assert "not in ALLOWED_HOSTS" in found["securemsg.W102"]


def test_tls_header_without_a_proxy_count_shares_one_address(sane):
    sane.SECUREMSG_TRUSTED_PROXY_COUNT = 0
    assert "Set SECUREMSG_TRUSTED_PROXY_COUNT=1" in _ids(sane)["securemsg.W104"]


def test_proxy_without_tls_header_and_ssl_redirect_loops(sane):
    del sane.SECURE_PROXY_SSL_HEADER
    message = _ids(sane)["securemsg.E106"]
    assert "never ends" in message and "SECUREMSG_BEHIND_TLS_PROXY=1" in message


def test_malformed_tls_header(sane):
    sane.SECURE_PROXY_SSL_HEADER = ("X-Forwarded-Proto", "https")
    assert "SECUREMSG_BEHIND_TLS_PROXY=1" in _ids(sane)["securemsg.E105"]


@pytest.mark.parametrize("count", [-1, "1", True])
def test_bad_proxy_count(sane, count):
    sane.SECUREMSG_TRUSTED_PROXY_COUNT = count
    assert "must be an integer >= 0" in _ids(sane)["securemsg.E104"]


def test_implausible_proxy_count(sane):
    sane.SECUREMSG_TRUSTED_PROXY_COUNT = 9
    assert "usually 1" in _ids(sane)["securemsg.W103"]


def test_lockout_and_websocket_disagree_on_the_client_address(sane):
    # django-ipware's own rule, for example, would read a proxy count differently.
    sane.AXES_CLIENT_IP_CALLABLE = None
    assert "would disagree on who the client is" in _ids(sane)["securemsg.E107"]


def test_wildcard_host_is_an_error_in_production_and_a_warning_in_dev(sane):
    sane.ALLOWED_HOSTS = ["*"]
    assert "securemsg.E108" in _ids(sane)
    sane.PRODUCTION = False
    assert "securemsg.W105" in _ids(sane)


def test_manage_py_check_runs_it(sane):
    from django.core.checks import run_checks

    sane.SECUREMSG_ALLOWED_ORIGINS = ["https://app.example.org"]
    assert "securemsg.E102" in {m.id for m in run_checks(include_deployment_checks=True)}
