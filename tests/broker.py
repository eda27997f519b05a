"""A real Mosquitto broker for tests: its own config, port, persistence and lifecycle.

Persistence is on with a one-second autosave (mosquitto counts whole seconds, so in fact every
one to two seconds): a restart, even after SIGKILL, keeps the sessions and queued QoS 1 messages
of the last save, and the clients' replay window covers what was acknowledged after it. `save()`
forces a save, for tests that must not race the autosave.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from emulator.clock import SystemClock

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
AUTOSAVE_SECONDS = 1
INFLIGHT = 1000
"""Unacknowledged messages the broker sends a client at once. Our bus acknowledges a message
once it is handled, so this bounds what waits in its queues: above the control plane's batch
(512), below the bus's backlog for not-yet-opened subscriptions (10,000), which a restarted
control plane would otherwise overflow with what was queued while it was away."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """One Mosquitto process; `users` switches anonymous access off, `tls` adds a TLS listener."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        tls: bool = False,
        executable: str | None = MOSQUITTO,
    ) -> None:
        if executable is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.executable = executable
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ca_certs: Path | None = None
        self.log_file = directory / "mosquitto.log"
        self.config = directory / "mosquitto.conf"
        self.config.write_text(self._config(users))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def url_for(self, user: str, password: str) -> str:
        return f"mqtt://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}?ca_certs={self.ca_certs}"

    def _config(self, users: dict[str, str] | None) -> str:
        persistence = self.directory / "data"
        persistence.mkdir(exist_ok=True)
        lines = [
            f"user {pwd.getpwuid(os.getuid()).pw_name}",  # as root, do not drop to 'mosquitto'
            "per_listener_settings false",
            "persistence true",
            f"persistence_location {persistence}/",
            f"autosave_interval {AUTOSAVE_SECONDS}",
            f"max_inflight_messages {INFLIGHT}",
            "max_queued_messages 0",
            "set_tcp_nodelay true",
            f"log_dest file {self.log_file}",
            "log_type all",
            f"allow_anonymous {'false' if users else 'true'}",
            f"listener {self.port} 127.0.0.1",
        ]
        if users:
            lines.append(f"password_file {self._password_file(users)}")
        if self.tls_port is not None:
            cert, key = self._self_signed()
            self.ca_certs = cert
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {cert}",
                f"certfile {cert}",
                f"keyfile {key}",
            ]
        return "\n".join(lines) + "\n"

    def _password_file(self, users: dict[str, str]) -> Path:
        path = self.directory / "passwords"
        path.touch(mode=0o600)
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True)
        return path

    def _self_signed(self) -> tuple[Path, Path]:
        if shutil.which("openssl") is None:
            raise FileNotFoundError("openssl is not installed")
        cert, key = self.directory / "cert.pem", self.directory / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key

    def start(self, timeout: float = 10.0) -> None:
        """Start on the same port(s) as before and wait until they accept connections."""
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        clock = SystemClock()
        deadline = clock.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p is not None]
        while not all(port_open(p) for p in ports):
            try:  # waiting on the process both paces the loop and notices an early exit
                code = self.process.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None or clock.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start (exit {code}): {self.diagnostics()}")

    def save(self, timeout: float = 5.0) -> None:
        """SIGUSR1: write the database now, so that a crash right after loses no session."""
        assert self.process is not None
        before = self._database_identity()
        self.process.send_signal(signal.SIGUSR1)
        clock = SystemClock()
        deadline = clock.monotonic() + timeout
        while self._database_identity() == before:  # written aside, then renamed into place
            try:
                self.process.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                pass
            if self.process.poll() is not None or clock.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not save: {self.diagnostics()}")

    def _database_identity(self) -> tuple[int, int] | None:
        try:
            stat = (self.directory / "data" / "mosquitto.db").stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its database and exits."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash; only the last autosave survives."""
        self._end(signal.SIGKILL)

    def restart(self, *, kill: bool = False) -> None:
        self._end(signal.SIGKILL if kill else signal.SIGTERM)
        self.start()

    def _end(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def diagnostics(self) -> str:
        stderr = b""
        if self.process is not None and self.process.stderr and self.process.poll() is not None:
            stderr = self.process.stderr.read()
        log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
        return f"stderr={stderr.decode(errors='replace')!r} log tail:\n{log}"
