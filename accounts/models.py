"""The user model, custom from the first migration so that it can evolve."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in to securemsg (Django's fields, our table)."""

    class Meta:
        db_table = "accounts_user"
        verbose_name = "user"
        verbose_name_plural = "users"


class UsernameThrottle(models.Model):
    """Failed sign-ins of one username from any address, and the delay they earned.

    django-axes locks a (username, address) pair; this row slows down a
    username whose failures come from many addresses (accounts/throttle.py).
    Rows older than the window are deleted as new failures arrive.
    """

    username = models.CharField(max_length=150, unique=True, help_text="as typed, lower-cased")
    failures = models.PositiveIntegerField(default=0, help_text="failures in the current window")
    window_started_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    next_allowed_at = models.DateTimeField(
        null=True, blank=True, help_text="no sign-in attempt for this username before this time"
    )

    class Meta:
        verbose_name = "username sign-in delay"
        verbose_name_plural = "username sign-in delays"
        permissions: ClassVar = [
            ("unlock_signin", "Can unlock sign-ins by user, address or both"),
        ]

    def __str__(self) -> str:
        return f"{self.username}: {self.failures} failures"
