"""The minimum usable version per purpose, like Vault transit's ``min_decryption_version``.

For the case where an old key is suspected compromised (issue 11, point 3):
raising the minimum of a purpose takes every key of that purpose below it
out of service at once and for good, in one transaction with its audit
event. Keys below the minimum are treated exactly like keys marked
compromised (``lifecycle.apply_compromise``): disabled, no longer published
or used for private operations, never re-enabled, and never endorsing a
successor. If the active key is below, a replacement is rotated in within
the same transaction (not endorsed). The generation bump makes every
process drop its cached keys within about a second.

Rules (docs/keyvault.md, "Minimum usable version"): the minimum only goes
up; it may be at most the newest version + 1 (every existing key unusable
and a new one rotated in); setting the current value again changes and
records nothing. Anything else raises ``InvalidMinimumVersionError`` before
anything changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import app_settings
from ..exceptions import InvalidMinimumVersionError
from ..models import MinimumKeyVersion, Purpose, ServerKey, State
from . import audit_hook
from .access import minimum_version
from .cache import bump_generation
from .lifecycle import apply_compromise, generate_private_key, rotate_in

__all__ = [
    "MinimumVersionReport",
    "minimum_key_versions",
    "preview_minimum_key_version",
    "set_minimum_key_version",
]


@dataclass(frozen=True)
class MinimumVersionReport:
    """What setting a minimum usable version did, or (from the preview) would do.

    ``unusable`` lists the kids taken out of service for good (keys below the
    minimum that were neither destroyed nor compromised already), oldest
    first, with ``from_states`` their states before. ``rotates`` says the
    active key is among them, so a new key is rotated in; ``replacement`` is
    its kid (empty in a preview). ``changed`` is False when the minimum was
    already ``minimum``.
    """

    purpose: str
    previous: int
    minimum: int
    unusable: tuple[str, ...]
    from_states: tuple[str, ...]
    rotates: bool
    replacement: str = ""

    @property
    def changed(self) -> bool:
        """Whether the minimum moves (False: nothing to do)."""
        return self.minimum != self.previous


def minimum_key_versions() -> dict[str, int]:
    """Return the minimum usable version of every purpose (1 when none was set)."""
    return {purpose: minimum_version(purpose) for purpose in Purpose.values}


def _check_arguments(purpose: str, minimum: int) -> None:
    if isinstance(minimum, bool) or not isinstance(minimum, int):
        raise TypeError(f"minimum must be an int, got {type(minimum).__name__}")
    if purpose not in Purpose.values:
        raise InvalidMinimumVersionError(
            f"unknown purpose {purpose!r}; use one of {', '.join(Purpose.values)}",
            purpose=purpose,
            minimum=minimum,
        )


def _plan(purpose: str, minimum: int, previous: int, keys: list[ServerKey]) -> MinimumVersionReport:
    """Check ``minimum`` against the stored one and the keys; return what setting it does."""
    newest = max((key.version for key in keys), default=0)
    if minimum < previous:
        raise InvalidMinimumVersionError(
            f"the minimum {purpose} version is {previous} and can only be raised "
            f"(keys below it stay unusable); {minimum} refused",
            purpose=purpose,
            minimum=minimum,
        )
    if minimum > newest + 1:
        raise InvalidMinimumVersionError(
            f"minimum {minimum} is beyond the newest {purpose} key (version {newest}); "
            f"at most {newest + 1} (every {purpose} key unusable, a new one rotated in)",
            purpose=purpose,
            minimum=minimum,
        )
    below = [
        key
        for key in sorted(keys, key=lambda key: key.version)
        if key.version < minimum and key.state != State.DESTROYED and not key.compromised
    ]
    return MinimumVersionReport(
        purpose=purpose,
        previous=previous,
        minimum=minimum,
        unusable=tuple(key.kid for key in below),
        from_states=tuple(str(key.state) for key in below),
        rotates=any(key.state == State.ACTIVE for key in below),
    )


def preview_minimum_key_version(purpose: str, minimum: int) -> MinimumVersionReport:
    """Return what ``set_minimum_key_version(purpose, minimum)`` would do, changing nothing.

    Raises the same errors as setting it (``InvalidMinimumVersionError``, ``TypeError``).
    """
    _check_arguments(purpose, minimum)
    keys = list(ServerKey.objects.filter(purpose=purpose))
    return _plan(purpose, minimum, minimum_version(purpose), keys)


def set_minimum_key_version(
    purpose: str,
    minimum: int,
    *,
    actor: Any = None,
    request: Any = None,
    now: datetime | None = None,
) -> MinimumVersionReport:
    """Make every ``purpose`` key with a version below ``minimum`` unusable at once and for good.

    One transaction: keys below are taken out of service as compromised
    ones are, a replacement is rotated in (not endorsed) when the active key
    is below, the minimum is stored, ``key.minimum_version_set`` is audited
    and every process's cache is invalidated. Example::

        report = set_minimum_key_version("signing", 4, actor=request.user, request=request)
        report.unusable  # ("sig-2", "sig-3"); report.replacement == "sig-4" if sig-3 was active

    Raises ``InvalidMinimumVersionError`` (unknown purpose, lower than the
    current minimum, beyond the newest version + 1) and ``TypeError`` before
    changing anything; a KMS or audit failure (``KeyVaultError``) rolls
    everything back. Setting the current minimum again does nothing.
    """
    # Checked once without locks, so that a refused value costs no key
    # generation, and again under the locks below, where it counts.
    algorithm = app_settings.key_algorithm
    first_look = preview_minimum_key_version(purpose, minimum)
    # Key generation is slow: make the replacement before taking locks.
    private = generate_private_key(algorithm) if first_look.rotates else None
    now = now or timezone.now()
    with transaction.atomic():
        stored = MinimumKeyVersion.objects.select_for_update().filter(purpose=purpose).first()
        keys = list(ServerKey.objects.select_for_update().filter(purpose=purpose))
        plan = _plan(purpose, minimum, stored.version if stored else 1, keys)
        if not plan.changed:
            return plan
        for key in keys:
            if key.kid in plan.unusable:
                apply_compromise(key, now=now)
        if stored is None:
            stored = MinimumKeyVersion(purpose=purpose)
        stored.version = minimum
        stored.set_at = now
        stored.save()
        replacement = ""
        if plan.rotates:
            # Another process may have rotated since the look before the lock.
            key_pair = private or generate_private_key(algorithm)
            replacement = rotate_in(
                purpose,
                key_pair,
                algorithm,
                actor=actor,
                request=request,
                reason="minimum_version",
                now=now,
            ).kid
        audit_hook.record(
            "key.minimum_version_set",
            actor=actor,
            request=request,
            target_type="key_purpose",
            target_id=purpose,
            purpose=purpose,
            previous_minimum=plan.previous,
            minimum=minimum,
            kids=list(plan.unusable),
            from_states=list(plan.from_states),
            replacement=replacement,
        )
        bump_generation()
    return dataclasses.replace(plan, replacement=replacement)
