"""``python -m securemsg.client``: see securemsg.client._cli for the commands."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
