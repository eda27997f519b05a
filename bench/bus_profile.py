"""Where the control plane spends its time: py-spy samples of a running server, summarised.

py-spy attaches to the server's pid (no restart, no instrumentation in the measured code) and
writes collapsed stacks; the summary ranks functions by self time (the leaf of a sample) and
by inclusive time (anywhere on the stack), as shares of all samples taken while the process
was on the CPU.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RATE = 250  # samples per second
TOP = 25


class Profiler:
    """Collects py-spy samples over labelled windows, then ranks the functions per label."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("py-spy")
        self.stacks: dict[str, Counter[str]] = {}
        self.problems: list[str] = []

    @contextmanager
    def sampling(self, pid: int, label: str) -> Iterator[None]:
        """Sample `pid` for as long as the block runs; the samples go under `label`."""
        if self.executable is None:
            self.problems.append("py-spy is not installed: no profile")
            yield
            return
        with tempfile.TemporaryDirectory(prefix="amt-pyspy-") as tmp:
            out = Path(tmp) / "stacks.txt"
            cmd = [self.executable, "record", "--pid", str(pid), "--format", "raw"]
            cmd += ["--output", str(out), "--rate", str(RATE), "--nolineno", "--nonblocking"]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                yield
            finally:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
                _, err = proc.communicate(timeout=30)
            if out.exists():
                self.add(label, out.read_text())
            else:
                self.problems.append(f"py-spy wrote nothing: {err.decode(errors='replace')}")

    def add(self, label: str, collapsed: str) -> None:
        """Lines `frame;frame;…;leaf count`, the root first."""
        stacks = self.stacks.setdefault(label, Counter())
        for line in collapsed.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)

    def ranking(self, label: str) -> tuple[int, Counter[str], Counter[str]]:
        """(samples, self samples per function, inclusive samples per function)."""
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        stacks = self.stacks.get(label, Counter())
        for stack, count in stacks.items():
            frames = stack.split(";")
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
        return sum(stacks.values()), own, inclusive

    def report(self) -> str:
        """Per label: the functions ranked by self and by inclusive share of the samples."""
        lines = [*self.problems]
        for label in self.stacks:
            total, own, inclusive = self.ranking(label)
            lines.append(f"Profile of the control plane, {label} ({total} samples on CPU):")
            for title, counts in (("self", own), ("inclusive", inclusive)):
                lines.append(f"  top {TOP} by {title} time:")
                lines += [
                    f"    {100.0 * n / total:5.1f}%  {frame}"
                    for frame, n in counts.most_common(TOP)
                ]
        return "\n".join(lines) if lines else "Profile: no samples."
