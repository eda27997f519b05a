"""Time is read only through the injected clock, so the simulator can run the same code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"\btime\.time\(|\bdatetime\.now\(|\btime\.monotonic\(|\basyncio\.sleep\(")
ALLOWED = {ROOT / "emulator" / "clock.py"}


def test_no_direct_time_reads_outside_the_clock_module():
    offenders = []
    for package in ("emulator", "agents"):
        for path in (ROOT / package).rglob("*.py"):
            if path in ALLOWED or path.name == "testing.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
