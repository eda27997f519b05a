"""Server settings: command-line flags, an optional TOML file, and their defaults."""

from __future__ import annotations

import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.curve_sets import available_sets

DEFAULT_PORT = 8780
DEFAULT_TIME_SCALE = 1000.0
"""Simulated time: a two-hour tuning job in about seven seconds, while a busy event loop's
stalls (milliseconds) stay a few virtual seconds."""
SIMULATED_SLOTS = 100
"""Parallel simulated jobs by default: MaxParallelTrainingJobs, not a host, is the limit."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path.home() / ".amt")
    region: str = "us-east-1"
    account: str = "123456789012"
    images: dict[str, str] = field(default_factory=dict)
    """Training image URI (or glob) -> local command line."""
    stop_grace_seconds: float = 30.0
    agents: int = 1
    """Local agents run inside the server process (0: only remote agents)."""
    agent_slots: int = 16
    auth: str | None = None
    """"sigv4": every request must be signed by a key of `credentials_file`."""
    credentials_file: Path | None = None
    agent_credentials: tuple[str, str] = ("amt-emulator", "amt-emulator")
    """The key the in-process agents and their training programs sign with (random with auth)."""
    bus_url: str | None = None
    """An MQTT broker (`mqtt://host:port`) for agents on other processes; None: in-process."""
    max_body_bytes: int = 8 * 1024 * 1024
    simulate: str | None = None
    """A recorded curve set: training jobs replay its curves in virtual time (no programs)."""
    time_scale: float = DEFAULT_TIME_SCALE
    """With `simulate`: virtual seconds per wall second."""
    startup_seconds: float = 0.0
    """With `simulate`: creation to Downloading of each job (`amt simulate --startup`)."""
    runtime: str = "process"
    """The local agents' `--runtime`: process, container or auto (agents.runtime.container)."""
    container_cli: str | None = None
    """The container CLI (a command line); None: docker where its engine answers, else podman."""

    def check_simulation(self) -> None:
        """Simulated time is the whole server's: what cannot share it is refused here."""
        if self.simulate is None:
            return
        if not self.time_scale > 0:
            raise ValueError(f"--time-scale must be positive, got {self.time_scale}")
        if self.startup_seconds < 0:
            raise ValueError(f"--startup must not be negative, got {self.startup_seconds}")
        if self.bus_url:
            raise ValueError("--simulate runs its agents in the server; it cannot take --bus")
        if self.auth:
            raise ValueError(
                "--simulate cannot take --auth: signatures carry wall time, the server virtual"
            )
        known = available_sets()
        if self.simulate not in known:
            listed = ", ".join(known) or "none"
            raise ValueError(
                f"--simulate: no recorded curve set {self.simulate!r} (recorded: {listed})"
            )

    @property
    def endpoint(self) -> str:
        """Our URL from this host (a wildcard bind is reached on the loopback address)."""
        host = self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def advertised_endpoint(self) -> str:
        """Our URL as an agent on another host reaches it: the host name for a wildcard bind.
        Sent with every assignment, so `amt agent` needs no `--endpoint`."""
        if self.host in ("0.0.0.0", "::"):
            return f"http://{socket.gethostname()}:{self.port}"
        return self.endpoint

    @property
    def db_path(self) -> Path:
        return self.data_dir / "amt.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"


def parse_image_flag(value: str) -> tuple[str, str]:
    """`URI=COMMAND` -> (URI, COMMAND)."""
    uri, sep, command = value.partition("=")
    if not sep or not uri.strip() or not command.strip():
        raise ValueError(f"--image expects URI=COMMAND, got {value!r}")
    return uri.strip(), command.strip()


def load_config_file(path: Path) -> dict[str, Any]:
    """A TOML file with optional top-level keys matching Settings and an [images] table."""
    with path.open("rb") as fh:
        return tomllib.load(fh)


def apply_config(settings: Settings, config: dict[str, Any]) -> None:
    for key, value in config.items():
        if key == "images":
            settings.images.update({str(k): str(v) for k, v in value.items()})
        elif key == "data_dir":
            settings.data_dir = Path(value).expanduser()
        elif hasattr(settings, key):
            current = getattr(settings, key)
            setattr(settings, key, value if current is None else type(current)(value))
        else:
            raise ValueError(f"unknown setting {key!r} in config file")
