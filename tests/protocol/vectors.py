"""Loading test vectors that live as data files under tests/vectors/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors"


def load_vectors(name: str) -> dict[str, Any]:
    """Load a JSON vector file from tests/vectors/ (``name`` relative to it)."""
    with (VECTORS_DIR / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data
