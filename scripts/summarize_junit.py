"""Print one summary line over JUnit XML reports: ``total: N passed, N failed, N skipped``.

Exits non-zero when a report is missing, any test failed or errored, or no
test ran at all, so an empty run can never look green.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(path: Path) -> tuple[int, int, int]:
    """Return (passed, failed, skipped) for one JUnit XML file."""
    passed = failed = skipped = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    """Summarise the reports named in ``argv``."""
    totals = [0, 0, 0]
    for name in argv:
        path = Path(name)
        if not path.is_file():
            print(f"summary: report {name} is missing (a test step crashed)")
            return 1
        for i, value in enumerate(count(path)):
            totals[i] += value
    passed, failed, skipped = totals
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
