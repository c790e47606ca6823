"""The pin store: trusted signing key fingerprints per server, trust on first use.

The file is JSON, mode 0600, at $XDG_CONFIG_HOME/securemsg/pins.json (or
~/.config/securemsg/pins.json)::

    {"version": 1, "servers": {"https://chat.example": ["<fingerprint>", ...]}}
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..protocol import KeySet, check_fingerprint
from ._errors import ClientError, PinRefusedError, UsageError

PIN_FILE_NAME = "pins.json"


def default_pin_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Return the pin file path under the user's config directory."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "securemsg" / PIN_FILE_NAME


class PinStore:
    """Trusted fingerprints per server origin, persisted as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, list[str]]:
        """Return {origin: [fingerprints]} (empty if the file does not exist)."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ClientError(f"cannot read pin file {self.path}: {exc}") from exc
        servers = data.get("servers") if isinstance(data, dict) else None
        if not isinstance(servers, dict):
            raise ClientError(f"pin file {self.path} is not a securemsg pin file")
        return {
            origin: [check_fingerprint(fp) for fp in fps]
            for origin, fps in servers.items()
            if isinstance(fps, list)
        }

    def pins(self, origin: str) -> list[str]:
        """Return the fingerprints pinned for ``origin``."""
        return self.load().get(origin, [])

    def add(self, origin: str, fingerprints: Iterable[str]) -> None:
        """Add fingerprints for ``origin`` and write the file atomically, mode 0600."""
        servers = self.load()
        current = servers.setdefault(origin, [])
        for fp in fingerprints:
            if check_fingerprint(fp) not in current:
                current.append(fp)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps({"version": 1, "servers": servers}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pins-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise


def check_pin(pin: str) -> str:
    """Return a ``--pin`` value as a fingerprint (case-insensitive), or raise UsageError."""
    try:
        return check_fingerprint(pin.strip().lower())
    except ValueError as exc:
        raise UsageError(f"--pin: {exc}") from exc


def resolve_pins(
    key_set: KeySet, store: PinStore, origin: str, pin: str | None
) -> tuple[list[str], bool]:
    """Return (pins to trust, first_use).

    ``--pin`` wins and is not stored. Otherwise the stored pins are used; with
    none stored, the active signing key is trusted on first use (and stored by
    the caller after a successful handshake). Raises PinRefusedError when
    the active signing key does not chain to the pins.
    """
    first_use = False
    if pin is not None:
        pins = [check_pin(pin)]
    else:
        pins = store.pins(origin)
    active = key_set.active_key("sig")
    if not pins:
        pins, first_use = [active.fingerprint], True
    if active.fingerprint not in key_set.trusted_fingerprints(pins):
        raise PinRefusedError(refusal_message(origin, active.kid, active.fingerprint, pins))
    return pins, first_use


def refusal_message(origin: str, kid: str, fingerprint: str, pins: Iterable[str]) -> str:
    """The loud refusal shown when the signing key changed without endorsement."""
    return (
        f"REFUSING {origin}: its signing key {kid} ({fingerprint}) is NOT endorsed by the key "
        f"you pinned ({', '.join(pins)}). This happens after a key compromise, or during an "
        "attack. Verify the new fingerprint with the operator out of band, then re-run with "
        "--pin FINGERPRINT (or edit the pin file)."
    )
