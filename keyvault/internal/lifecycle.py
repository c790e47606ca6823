"""Creating, rotating and changing the state of server keys.

Each operation runs in one transaction that also records its audit event,
so a failing audit log (fail closed) or a failing KMS leaves nothing half
done. Every state change bumps the vault generation so that all processes
drop their caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from securemsg.protocol import create_endorsement, fingerprint, spki_der

from ..conf import ALGORITHMS, app_settings
from ..exceptions import IllegalTransitionError, UnknownKeyError
from ..kms import get_backend
from ..models import Endorsement, Purpose, ServerKey, State
from . import audit_hook, usage
from .access import load_private_key, minimum_version
from .cache import bump_generation
from .envelope import Binding, seal_private_key
from .master import register_versions
from .states import transition

__all__ = [
    "DueReport",
    "allow_deletion",
    "apply_compromise",
    "cancel_deletion",
    "destroy_key",
    "disable_key",
    "ensure_active_keys",
    "generate_private_key",
    "mark_compromised",
    "reenable_key",
    "retire_key",
    "rotate",
    "rotate_in",
    "run_due",
    "schedule_deletion",
]

_KID_PREFIX = {Purpose.SIGNING: "sig", Purpose.ENCRYPTION: "enc"}
_PUBLIC_EXPONENT = 65537


def _audit(event: str, key: ServerKey, *, actor: Any, request: Any, **fields: Any) -> None:
    audit_hook.record(
        event,
        actor=actor,
        request=request,
        target_type="server_key",
        target_id=key.kid,
        purpose=key.purpose,
        state=key.state,
        **fields,
    )


def _check_purpose(purpose: str) -> str:
    if purpose not in Purpose.values:
        raise ValueError(f"purpose must be one of {', '.join(Purpose.values)}, got {purpose!r}")
    return purpose


def _locked(kid: str) -> ServerKey:
    row = ServerKey.objects.select_for_update().filter(kid=kid).first()
    if row is None:
        raise UnknownKeyError(f"no server key {kid!r}")
    return row


def _new_key_row(
    purpose: str, private: rsa.RSAPrivateKey, algorithm: str, now: datetime
) -> ServerKey:
    """Build (inside the caller's transaction) the pending row for a new key."""
    latest = ServerKey.objects.filter(purpose=purpose).aggregate(v=Max("version"))["v"]
    version = (latest or 0) + 1
    kid = f"{_KID_PREFIX[Purpose(purpose)]}-{version}"
    backend = get_backend()
    register_versions(backend)
    sealed = seal_private_key(backend, private, Binding(kid, purpose, version, algorithm))
    spki = spki_der(private.public_key())
    return ServerKey(
        kid=kid,
        purpose=purpose,
        algorithm=algorithm,
        version=version,
        state=State.PENDING,
        public_key=spki,
        fingerprint=fingerprint(spki),
        created_at=now,
        # Encryption keys may be destroyed after their waiting period; signing
        # keys keep their private half unless an operator allows it, because
        # they endorse successors and sign audit checkpoints.
        deletion_allowed=purpose == Purpose.ENCRYPTION,
        master_version=sealed.master_version,
        wrapped_dek=sealed.wrapped_dek,
        wrapped_private_key=sealed.wrapped_private_key,
    )


def generate_private_key(algorithm: str) -> rsa.RSAPrivateKey:
    """Return a new RSA key of ``algorithm``; slow (RSA-3072 ~0.5 s), so call it before locking."""
    return rsa.generate_private_key(_PUBLIC_EXPONENT, ALGORITHMS[algorithm])


def rotate(
    purpose: str,
    *,
    actor: Any = None,
    request: Any = None,
    reason: str = "manual",
    now: datetime | None = None,
) -> ServerKey:
    """Create and activate a new key of ``purpose``; the active one becomes ``retiring``.

    A new signing key is endorsed by the one it replaces, unless that key
    was compromised (clients must then re-pin out of band).
    """
    _check_purpose(purpose)
    algorithm = app_settings.key_algorithm
    private = generate_private_key(algorithm)
    now = now or timezone.now()
    with transaction.atomic():
        new = rotate_in(
            purpose, private, algorithm, actor=actor, request=request, reason=reason, now=now
        )
        bump_generation()
    return new


def rotate_in(
    purpose: str,
    private: rsa.RSAPrivateKey,
    algorithm: str,
    *,
    actor: Any,
    request: Any,
    reason: str,
    now: datetime,
) -> ServerKey:
    """Store ``private`` as the new active key of ``purpose``, inside the caller's transaction.

    The active key, if any, retires and endorses a new signing key unless it
    is compromised; a key compromised just before (``apply_compromise``) is
    no longer active, so it neither retires nor endorses. The caller bumps
    the generation.
    """
    old = ServerKey.objects.select_for_update().filter(purpose=purpose, state=State.ACTIVE)
    previous = old.first()
    new = _new_key_row(purpose, private, algorithm, now)
    new.save()
    _audit("key.created", new, actor=actor, request=request, algorithm=algorithm)
    if previous is not None:
        transition(previous, "retire", now=now)
        previous.retire_after = now + app_settings.grace
        previous.save()
        _audit(
            "key.retiring",
            previous,
            actor=actor,
            request=request,
            retire_after=previous.retire_after.isoformat(),
        )
    transition(new, "activate", now=now)
    new.save()
    _audit("key.activated", new, actor=actor, request=request)
    endorsed_by = ""
    if purpose == Purpose.SIGNING and previous is not None and not previous.compromised:
        _endorse(new, previous)
        endorsed_by = previous.kid
    _audit(
        "key.rotated",
        new,
        actor=actor,
        request=request,
        previous=previous.kid if previous else "",
        endorsed_by=endorsed_by,
        reason=reason,
    )
    return new


def _endorse(new: ServerKey, by: ServerKey) -> None:
    """Store the older key's signature over the new key's SPKI (protocol.md)."""
    older = load_private_key(by)
    endorsement = create_endorsement(
        kid=new.kid, spki=bytes(new.public_key), by=by.kid, by_private_key=older
    )
    usage.count_private_op(by.kid)
    Endorsement.objects.create(
        key=new,
        by=by,
        by_spki=endorsement.by_spki,
        signature=endorsement.sig,
        created_at=timezone.now(),
    )


def ensure_active_keys(*, actor: Any = None) -> list[ServerKey]:
    """Create an active key for each purpose that has none; return the keys created."""
    created = []
    for purpose in Purpose.values:
        if not ServerKey.objects.filter(purpose=purpose, state=State.ACTIVE).exists():
            created.append(rotate(purpose, actor=actor, reason="init"))
    return created


def _change(
    kid: str,
    action: str,
    event: str,
    *,
    actor: Any,
    request: Any,
    now: datetime | None = None,
    **extra: Any,
) -> ServerKey:
    """Apply one state-machine action to ``kid`` in its own audited transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        key = _locked(kid)
        before = key.state
        # Only re-enabling can bring a key back into use, so only it needs the floor.
        floor = minimum_version(key.purpose) if action == "reenable" else 1
        transition(key, action, now=now, minimum_version=floor)
        if action == "reenable":
            key.retire_after = now + app_settings.grace
        elif action == "schedule_deletion":
            key.deletion_scheduled_at = now
            key.delete_after = now + app_settings.deletion_wait
        elif action == "destroy":
            # Overwrite the private half; the public key stays for the record
            # (verifying old audit checkpoints, endorsement chains).
            key.wrapped_dek = b""
            key.wrapped_private_key = b""
        key.save()
        fields = {"from_state": before, **extra}
        if key.retire_after and action == "reenable":
            fields["retire_after"] = key.retire_after.isoformat()
        if key.delete_after and action == "schedule_deletion":
            fields["delete_after"] = key.delete_after.isoformat()
        _audit(event, key, actor=actor, request=request, **fields)
        bump_generation()
    return key


def retire_key(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey:
    """Retire the active key ``kid`` by rotating its purpose (so one key stays active)."""
    key = ServerKey.objects.filter(kid=kid).first()
    if key is None:
        raise UnknownKeyError(f"no server key {kid!r}")
    if key.state != State.ACTIVE:
        raise IllegalTransitionError(
            f"cannot retire {kid}: only the active key can be retired (it is {key.state})",
            kid=kid,
            state=key.state,
            action="retire",
        )
    rotate(key.purpose, actor=actor, request=request, reason="retire")
    key.refresh_from_db()
    return key


def disable_key(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey:
    """Disable a pending or retiring key (reversible with ``reenable_key``)."""
    return _change(kid, "disable", "key.disabled", actor=actor, request=request)


def reenable_key(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey:
    """Bring a disabled key back as ``retiring`` for one more grace period."""
    return _change(kid, "reenable", "key.reenabled", actor=actor, request=request)


def schedule_deletion(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey:
    """Schedule destruction of a disabled key after the waiting period."""
    return _change(
        kid, "schedule_deletion", "key.scheduled_for_deletion", actor=actor, request=request
    )


def cancel_deletion(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey:
    """Cancel a scheduled destruction; the key goes back to ``disabled``."""
    return _change(kid, "cancel_deletion", "key.deletion_cancelled", actor=actor, request=request)


def destroy_key(
    kid: str, *, actor: Any = None, request: Any = None, now: datetime | None = None
) -> ServerKey:
    """Destroy a key whose deletion waiting period is over (``rotate --due`` does this)."""
    return _change(kid, "destroy", "key.destroyed", actor=actor, request=request, now=now)


def allow_deletion(
    kid: str, allowed: bool = True, *, actor: Any = None, request: Any = None
) -> ServerKey:
    """Allow (or forbid again) scheduling the destruction of ``kid``."""
    with transaction.atomic():
        key = _locked(kid)
        if key.state == State.DESTROYED:
            raise IllegalTransitionError(
                f"{kid} is already destroyed", kid=kid, state=key.state, action="allow_deletion"
            )
        key.deletion_allowed = allowed
        key.save(update_fields=["deletion_allowed"])
        _audit("key.deletion_allowed", key, actor=actor, request=request, allowed=allowed)
        bump_generation()
    return key


def mark_compromised(kid: str, *, actor: Any = None, request: Any = None) -> ServerKey | None:
    """Disable ``kid`` at once as compromised; if it was active, rotate in a new key.

    The replacement of a compromised signing key is not endorsed. Returns
    the replacement key, if one was created. One transaction: a KMS or audit
    failure while the replacement is stored rolls the compromise back too,
    so the purpose is never left without an active key (nor the
    compromised key half taken out of service); try again.
    """
    algorithm = app_settings.key_algorithm
    # Key generation is slow: make the replacement before taking the lock
    # when the key looks active (checked again under the lock).
    looks_active = ServerKey.objects.filter(kid=kid, state=State.ACTIVE).exists()
    private = generate_private_key(algorithm) if looks_active else None
    now = timezone.now()
    with transaction.atomic():
        key = _locked(kid)
        was_active = key.state == State.ACTIVE
        before = apply_compromise(key, now=now)
        _audit("key.compromised", key, actor=actor, request=request, from_state=before)
        replacement = None
        if was_active:
            replacement = rotate_in(
                key.purpose,
                private or generate_private_key(algorithm),
                algorithm,
                actor=actor,
                request=request,
                reason="compromised",
                now=now,
            )
        bump_generation()
    return replacement


def apply_compromise(key: ServerKey, *, now: datetime) -> str:
    """Take ``key`` out of service for good, inside the caller's transaction; return its old state.

    The key is disabled (a pending deletion stays pending), flagged
    compromised, never re-enabled and never endorses a successor. Used by
    ``mark_compromised`` and by raising the minimum usable version.
    """
    before = str(key.state)
    transition(key, "compromise", now=now)
    key.save()
    return before


@dataclass
class DueReport:
    """What ``rotate --due`` did."""

    rotated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)


def run_due(*, actor: Any = None, now: datetime | None = None) -> DueReport:
    """Do all due work: rotate by age or usage, disable expired retiring keys, destroy.

    Idempotent: a second run at the same time does nothing.
    """
    now = now or timezone.now()
    usage.flush()
    report = DueReport()
    for key in ServerKey.objects.filter(state=State.ACTIVE):
        too_old = key.activated_at is not None and now - key.activated_at >= (
            app_settings.max_age(key.purpose)
        )
        overused = 0 < app_settings.max_uses <= key.usage_count
        if too_old or overused:
            reason = "age" if too_old else "usage"
            rotate(key.purpose, actor=actor, reason=reason, now=now)
            report.rotated.append(key.kid)
    for key in ServerKey.objects.filter(state=State.RETIRING, retire_after__lte=now):
        _change(
            key.kid,
            "disable",
            "key.disabled",
            actor=actor,
            request=None,
            now=now,
            reason="deadline",
        )
        report.disabled.append(key.kid)
    for key in ServerKey.objects.filter(state=State.PENDING_DELETION, delete_after__lte=now):
        destroy_key(key.kid, actor=actor, now=now)
        report.destroyed.append(key.kid)
    for purpose in Purpose.values:
        if not ServerKey.objects.filter(purpose=purpose, state=State.ACTIVE).exists():
            report.rotated.append(rotate(purpose, actor=actor, reason="no_active_key", now=now).kid)
    return report
