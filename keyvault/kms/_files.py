"""Writing the backends' JSON files atomically with owner-only permissions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_private_json"]


def write_private_json(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` as JSON, mode 0600, atomically.

    A crash leaves the old or the new file, never half of one; the file is
    never readable by group or others, not even for a moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
