"""A string wrapper that never shows its value in a repr (settings, debug pages, logs)."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """Holds a passphrase, PIN or key from the environment; ``reveal()`` returns it.

    Django's debug page hides settings whose names look secret, but not every
    name does (``..._PIN``); wrapping the value keeps it out of every repr.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value (only for the code that uses it)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__
