"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: A password that passes every validator; tests scan for it where secrets must not appear.
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def password() -> str:
    """The password every factory-made user has."""
    return PASSWORD


@pytest.fixture
def user_factory(db: None) -> Callable[..., Any]:
    """Create users: ``user_factory("alice", is_staff=True)``."""
    from accounts.models import User

    def make(username: str = "alice", password: str = PASSWORD, **fields: Any) -> User:
        return User.objects.create_user(username=username, password=password, **fields)

    return make
