"""Password hashing parameters.

Argon2id with m = 64 MiB, t = 2, p = 2: above OWASP's minimum
(m = 19 MiB, t = 2, p = 1) and about 130 ms per hash on our 2-core machines
(measured; see docs/accounts.md). The algorithm name stays ``argon2`` so the
stored hashes read ``argon2$argon2id$...`` and Django upgrades hashes whose
parameters differ (``must_update``) at the next sign-in.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class SecuremsgArgon2Hasher(Argon2PasswordHasher):
    """Django's Argon2id hasher with securemsg's cost parameters."""

    time_cost = 2
    memory_cost = 65_536  # KiB
    parallelism = 2
