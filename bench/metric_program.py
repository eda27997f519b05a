"""A tiny training program for bench/bus.py: prints metric lines that carry their own send time.

Every metric line ends with `sent=<wall time when printed>`; the bench's metric regex captures
that number as the metric's value, so the stored point itself says when its line left the
program. Hyperparameters (from `SM_HPS`, as the container contract passes them) choose the mode:

  pace    `step=N sent=T` at `rate` lines per second for `seconds`
  flood   `lines` lines `step=N sent=T`, as fast as stdout takes them
  epochs  `epoch=E quality=Q sent=T` every `epoch_seconds`, `epochs` times, Q = `quality`
          (the tuning objective); on SIGTERM it writes `<report_dir>/<job>.json` with the time
          the signal arrived and the send time of the last epoch line, then exits 0

Reads time only through `emulator.clock.SystemClock`, as every part of the project does.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.clock import SystemClock  # noqa: E402

CLOCK = SystemClock()


def emit(text: str) -> float:
    """Print one line stamped with its send time; the stamp is taken last, just before writing."""
    sent = CLOCK.now()
    sys.stdout.write(f"{text} sent={sent!r}\n")
    sys.stdout.flush()
    return sent


def pace(rate: float, seconds: float) -> None:
    """Lines at a steady rate, scheduled on absolute times so the pace does not drift."""
    start = CLOCK.monotonic()
    for step in range(int(rate * seconds)):
        delay = start + step / rate - CLOCK.monotonic()
        if delay > 0:
            time.sleep(delay)
        emit(f"step={step}")


def flood(lines: int) -> None:
    for step in range(lines):
        emit(f"step={step}")


def epochs(hps: dict[str, Any]) -> None:
    """Epoch lines; a SIGTERM is answered by a report naming the line that caused it."""
    report = Path(hps["report_dir"]) / f"{os.environ.get('TRAINING_JOB_NAME', 'job')}.json"
    last: dict[str, float] = {}

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        received = CLOCK.now()
        report.write_text(json.dumps({"sigterm": received, **last}))
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    interval = float(hps.get("epoch_seconds", 0.25))
    quality = float(hps["quality"])
    for epoch in range(1, int(hps.get("epochs", 6)) + 1):
        time.sleep(interval)
        sent = emit(f"epoch={epoch} quality={quality}")
        last.update(epoch=epoch, sent=sent)


def main() -> None:
    hps = json.loads(os.environ.get("SM_HPS", "{}"))
    mode = hps.get("mode", "pace")
    if mode == "pace":
        pace(float(hps.get("rate", 50)), float(hps.get("seconds", 5)))
    elif mode == "flood":
        flood(int(hps.get("lines", 1000)))
    elif mode == "epochs":
        epochs(hps)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
