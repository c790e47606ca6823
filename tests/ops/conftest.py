"""Fixtures for the operations tests: an initialised vault, staff clients, metric readers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from prometheus_client import CollectorRegistry

from tests.chat.conftest import vault  # an initialised key vault; the fixture gives keys.json

__all__ = ["admin_client_for", "audit_insert_blocked", "sample", "vault"]


@pytest.fixture
def admin_client_for(user_factory: Callable[..., Any]) -> Callable[..., Client]:
    """``admin_client_for("root", is_superuser=True)``: a client signed in as a new staff user."""

    def make(username: str, **fields: Any) -> Client:
        user = user_factory(username, is_staff=True, **fields)
        browser = Client()
        browser.force_login(user)
        return browser

    return make


@pytest.fixture
def sample() -> Callable[..., float]:
    """Read a metric sample of this process: ``sample("name_total", {"label": "x"})``."""

    from prometheus_client.metrics import MetricWrapperBase

    from securemsg.ops import metrics

    # Our own metrics only: the default registry would also run the database
    # collector, which an async test cannot call.
    registry = CollectorRegistry(auto_describe=True)
    for value in vars(metrics).values():
        # Label children bound once in the module (``_RECORDS_IN``) are not metrics of their own.
        if isinstance(value, MetricWrapperBase) and not value._labelvalues:
            registry.register(value)

    def read(name: str, labels: dict[str, str] | None = None) -> float:
        return registry.get_sample_value(name, labels or {}) or 0.0

    return read


@pytest.fixture
def audit_insert_blocked(transactional_db: None) -> Iterator[None]:
    """A SQLite trigger that makes the audit table refuse inserts (dropped afterwards)."""
    if connection.vendor != "sqlite":
        pytest.skip("the trigger is SQLite syntax")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER ops_test_readonly BEFORE INSERT ON audit_auditevent "
            "BEGIN SELECT RAISE(ABORT, 'audit table is read-only'); END"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS ops_test_readonly")
