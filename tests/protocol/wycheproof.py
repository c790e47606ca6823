"""A small loader for the Wycheproof files in tests/vectors/wycheproof/.

Every case becomes one ``pytest.param`` with the tcId in its id, so no
vector can be dropped without showing up in the test count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from .vectors import load_vectors

# Wycheproof's three results. "acceptable" means either outcome is allowed
# (e.g. weak but legal parameters); such a case asserts that the outcome
# is consistent with our policy, which each test module states.
RESULTS = ("valid", "invalid", "acceptable")


@dataclass(frozen=True)
class Case:
    """One Wycheproof test with the parameters of its group."""

    file: str
    group: dict[str, Any]
    test: dict[str, Any]

    @property
    def result(self) -> str:
        """'valid', 'invalid' or 'acceptable'."""
        result: str = self.test["result"]
        assert result in RESULTS
        return result

    def hex(self, name: str) -> bytes:
        """Return the test's hex field ``name`` as bytes."""
        return bytes.fromhex(self.test[name])


def wycheproof_params(*files: str, label: str | None = None) -> list[Any]:
    """Return one pytest.param per test of ``files``, id "<label>-<tcId>" or "<tcId>"."""
    params = []
    for file in files:
        data = load_vectors(f"wycheproof/{file}")
        prefix = f"{label or ''}{'' if label is None else '-'}"
        for group in data["testGroups"]:
            tag = str(group.get("keySize", "")) if len(files) > 1 else ""
            for test in group["tests"]:
                test_id = f"{prefix}{tag + '-' if tag else ''}{test['tcId']}"
                params.append(pytest.param(Case(file, group, test), id=test_id))
    return params
