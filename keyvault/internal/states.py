"""The server key state machine: every state change goes through ``transition``.

::

    pending ──activate──▶ active ──retire──▶ retiring ──disable──▶ disabled
       │                    │                   │                   ▲  │ ▲
       └──disable───────────┼───────────────────┘   (compromise)    │  │ │
                            └──compromise──▶ disabled ◀─reenable?───┘  │ │
    disabled ──reenable──▶ retiring (not when compromised)             │ │
    disabled ──schedule_deletion──▶ pending_deletion ──cancel_deletion─┘ │
    pending_deletion ──destroy (after delete_after)──▶ destroyed         │
    (destroyed is final; its public key and endorsements stay)           │

Guards that depend on more than the state (deletion allowed, the waiting
period over, not compromised, not below the purpose's minimum usable
version) live here too, so there is one place to read.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..exceptions import IllegalTransitionError
from ..models import State

if TYPE_CHECKING:
    from ..models import ServerKey

__all__ = ["ACTIONS", "TRANSITIONS", "check_transition", "transition"]

#: (state, action) -> new state. Anything not listed is illegal.
TRANSITIONS: dict[tuple[str, str], str] = {
    (State.PENDING, "activate"): State.ACTIVE,
    (State.PENDING, "disable"): State.DISABLED,
    (State.ACTIVE, "retire"): State.RETIRING,
    (State.ACTIVE, "compromise"): State.DISABLED,
    (State.RETIRING, "disable"): State.DISABLED,
    (State.RETIRING, "compromise"): State.DISABLED,
    (State.DISABLED, "reenable"): State.RETIRING,
    (State.DISABLED, "compromise"): State.DISABLED,
    (State.DISABLED, "schedule_deletion"): State.PENDING_DELETION,
    (State.PENDING_DELETION, "cancel_deletion"): State.DISABLED,
    (State.PENDING_DELETION, "compromise"): State.PENDING_DELETION,
    (State.PENDING_DELETION, "destroy"): State.DESTROYED,
}
ACTIONS = frozenset(action for _, action in TRANSITIONS)


def check_transition(
    key: ServerKey, action: str, *, now: datetime, minimum_version: int = 1
) -> str:
    """Return the state ``action`` leads to from ``key``'s state, or raise IllegalTransitionError.

    ``now`` decides whether a scheduled destruction is due; ``minimum_version``
    is the minimum usable version of the key's purpose (a key below it is
    never re-enabled).
    """
    target = TRANSITIONS.get((key.state, action))

    def refuse(why: str) -> IllegalTransitionError:
        return IllegalTransitionError(
            f"cannot {action.replace('_', ' ')} {key.kid}: {why}",
            kid=key.kid,
            state=key.state,
            action=action,
        )

    if target is None:
        raise refuse(f"not allowed from state {key.state}")
    if action == "reenable" and key.version is not None and key.version < minimum_version:
        raise refuse(
            f"its version {key.version} is below the minimum usable {key.purpose} "
            f"version {minimum_version}"
        )
    if action == "reenable" and key.compromised:
        raise refuse("a compromised key is never used again")
    if action == "schedule_deletion" and not key.deletion_allowed:
        raise refuse("deletion is not allowed for this key (allow it first)")
    if action == "destroy" and (key.delete_after is None or key.delete_after > now):
        raise refuse("its deletion waiting period is not over")
    return target


def transition(key: ServerKey, action: str, *, now: datetime, minimum_version: int = 1) -> str:
    """Apply ``action`` to ``key`` in memory (state and timestamps); the caller saves it."""
    target = check_transition(key, action, now=now, minimum_version=minimum_version)
    key.state = target
    if action == "activate":
        key.activated_at = now
    elif action in ("disable", "compromise") and key.disabled_at is None:
        key.disabled_at = now
    elif action == "reenable":
        key.disabled_at = None
    elif action == "cancel_deletion":
        key.deletion_scheduled_at = None
        key.delete_after = None
    elif action == "destroy":
        key.destroyed_at = now
    if action == "compromise":
        key.compromised = True
        key.compromised_at = key.compromised_at or now
    return target
