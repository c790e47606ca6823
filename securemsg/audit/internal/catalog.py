"""The event catalog (documented in ``docs/audit.md``) and the outcomes.

Names are ``area.what_happened`` in the past tense. ``record`` accepts any
well-formed name so that a new emitter is never refused for a missing catalog
entry, but every name emitted by the project is listed here; a test keeps
this dict and the documentation in sync.
"""

from __future__ import annotations

import re
from typing import Final

#: ``area.event`` with lowercase letters, digits and underscores.
EVENT_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

OUTCOMES: Final = ("success", "failure", "denied", "error")

EVENTS: Final[dict[str, str]] = {
    # Accounts (wired by the audit app from Django, django-axes and model signals).
    "auth.login_succeeded": "A user signed in.",
    "auth.login_failed": "A sign-in failed (username as typed, never the password).",
    "auth.locked_out": "Too many failed sign-ins locked a username and address pair.",
    "auth.unlocked": "A lockout was lifted (attempt record deleted or reset).",
    "auth.logout": "A user signed out.",
    "auth.logged_out_everywhere": (
        "An administrator ended every sign-in session of a user (log out everywhere)."
    ),
    "auth.password_changed": "A user's password was changed (by the user or an administrator).",
    "user.created": "An account was created.",
    "user.deactivated": "An account was deactivated.",
    "user.reactivated": "A deactivated account was activated again.",
    "user.deleted": "An account was deleted.",
    "user.permissions_changed": (
        "Staff/superuser flags, groups or permissions of an account changed."
    ),
    # Key vault (emitted by keyvault with target_type="server_key", target_id=kid).
    "key.created": "A server key was generated.",
    "key.activated": "A server key became the active key for its use.",
    "key.retiring": "A server key entered its retiring (grace) period.",
    "key.disabled": "A server key was disabled.",
    "key.reenabled": "A disabled server key was enabled again.",
    "key.scheduled_for_deletion": "A server key was scheduled for destruction.",
    "key.deletion_cancelled": "A scheduled destruction was cancelled (key back to disabled).",
    "key.destroyed": "A server key's private material was destroyed.",
    "key.compromised": "A server key was marked compromised.",
    "key.rotated": "A new server key replaced the active one.",
    "key.rewrapped": "Wrapped key material was re-encrypted under the primary master key.",
    "key.retiring_used": "A retiring key was used during its grace period.",
    "key.refused_after_deadline": "A key was refused because its retire-after deadline passed.",
    "key.deletion_allowed": "A server key's deletion_allowed flag was turned on or off.",
    "key.minimum_version_set": (
        "The minimum usable version of a key purpose was raised; the keys below it were "
        "taken out of service (target_type key_purpose)."
    ),
    "master.created": "The first master key was created (keyvault init).",
    "master.compromised": "A master key version was marked compromised and replaced.",
    "master.version_added": "A master key version was added and made primary.",
    "master.version_disabled": "A master key version was disabled.",
    "keyvault.failure": "The key vault failed an operation (reason class only).",
    # Secure channel (emitted by the WebSocket consumer).
    "handshake.completed": "A securemsg/1 handshake completed (session id, key ids, address).",
    "handshake.failed": "A handshake failed (reason class and close code).",
    "record.rejected": "A record was rejected and the channel closed (close code).",
    "ratelimit.hit": "A rate limit refused a connection or handshake.",
    "session.closed_signed_out": "A channel was closed because its sign-in session ended.",
    # The audit log itself.
    "audit.verified": "The chain was verified (result, first broken link if any).",
    "audit.exported": "Events were exported (retention file or admin CSV/JSON Lines).",
    "audit.checkpoint": "A signed checkpoint of the chain head was stored.",
    "audit.pruned": "Events before a verified, exported checkpoint were deleted.",
}
