"""Running a real `amt serve` in a child process: for test suites, benchmarks and tools.

The server is a separate process so that it can be killed with SIGKILL and restarted on the
same data directory, exactly as a user's would be.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

from emulator.store.sqlite import snapshot_file

READY = "amt-emulator listening on "


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def reset_emulator(endpoint: str, timeout: float = 120.0) -> dict[str, Any]:
    """`POST /_emulator/reset`: stop every running job, then remove every job, AWS resource
    and job directory; the server's answer (`unconfirmed`: jobs whose stop was not seen)."""
    request = urllib.request.Request(f"{endpoint}/_emulator/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        images: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.images = images or {}
        self.extra_args = extra_args or []
        self.port = port or free_port()
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=2000)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "emulator.cli", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir)]
        for uri, command in self.images.items():
            cmd += ["--image", f"{uri}={command}"]
        return cmd + self.extra_args

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(self.proc, ready), daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise RuntimeError("emulator did not start:\n" + "\n".join(self.output))
        return self

    def _pump(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line.rstrip("\n"))
            if line.startswith(READY):
                ready.set()
        ready.set()

    def kill(self) -> None:
        """SIGKILL: the crash every durability promise is tested against."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait: a clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return snapshot_file(self.data_dir / "amt.sqlite3")

    def reset(self) -> dict[str, Any]:
        """As new: see `reset_emulator`."""
        return reset_emulator(self.endpoint)

    def client(self, service: str) -> Any:
        import boto3  # noqa: PLC0415 - pytest loads this plugin in every run: the server and boto3 only when the fixture is used

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
