"""An `amt tuner` worker process for tests: started, waited for, counted, stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_for
from tests.processes import descendants


class TunerWorker:
    def __init__(self, broker_url: str, worker_id: str, log: Path) -> None:
        cmd = [sys.executable, "-m", "emulator.cli", "tuner", "--bus", broker_url]
        cmd += ["--id", worker_id, "--log-level", "INFO"]
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_for(
            lambda: {"text": log.read_text()},
            lambda d: re.search(r"^amt tuner \S+ answering", d["text"], re.M) is not None,
            60,
        )

    def answered(self) -> int:
        return self.log.read_text().count("suggestion answered")

    def processes(self) -> list[int]:
        """The worker's descendants now: its fork server and the processes computing."""
        return descendants(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
