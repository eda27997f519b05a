"""Server settings: command-line flags, an optional TOML file, and their defaults."""

from __future__ import annotations

import secrets
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from emulator.curve_sets import available_sets, manifest_of

DEFAULT_PORT = 8780
DEFAULT_TIME_SCALE = 1000.0
"""Simulated time: a two-hour tuning job in about seven seconds, while a busy event loop's
stalls (milliseconds) stay a few virtual seconds."""
SIMULATED_SLOTS = 10_000
"""Parallel simulated jobs by default: more than any set of tuning jobs runs at once, so each
one's MaxParallelTrainingJobs, not a host, is the limit (100 made twenty tuning jobs of 50
parallel jobs wait for each other's slots)."""
PUBLIC_AGENT_KEY = ("amt-emulator", "amt-emulator")
"""The key in-process agents sign with when the server checks no signatures."""


def private_agent_key() -> tuple[str, str]:
    """A random key for the in-process agents of a server that checks signatures."""
    return f"AMT{secrets.token_hex(8).upper()}", secrets.token_hex(20)


@dataclass(frozen=True)
class Settings:
    """One server's settings, fixed once built: a changed setting is a new `Settings`
    (`dataclasses.replace`), so every part of the server sees the same values."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path.home() / ".amt")
    region: str = "us-east-1"
    account: str = "123456789012"
    images: Mapping[str, str] = field(default_factory=dict)
    """Training image URI (or glob) -> local command line."""
    stop_grace_seconds: float = 30.0
    agents: int = 1
    """Local agents run inside the server process (0: only remote agents)."""
    agent_slots: int = 16
    auth: str | None = None
    """"sigv4": every request must be signed by a key of `credentials_file`."""
    credentials_file: Path | None = None
    agent_credentials: tuple[str, str] = PUBLIC_AGENT_KEY
    """The key the in-process agents and their training programs sign with: with `auth`, a
    private one (`private_agent_key`), which the server then accepts too."""
    bus_url: str | None = None
    """An MQTT broker (`mqtt://host:port`) for agents on other processes; None: in-process."""
    max_body_bytes: int = 8 * 1024 * 1024
    simulate: str | None = None
    """A recorded curve set: training jobs replay its curves in virtual time (no programs)."""
    time_scale: float = DEFAULT_TIME_SCALE
    """With `simulate`: virtual seconds per wall second."""
    startup_seconds: float = 0.0
    """With `simulate`: creation to Downloading of each job (`amt simulate --startup`)."""
    epoch_seconds: float | None = None
    """With `simulate`: each job's epochs average this long (`amt simulate --epoch-seconds`)."""
    replay: str = "nearest"
    """With `simulate`: nearest recorded run, or surrogate finals (`amt simulate --replay`)."""
    runtime: str = "process"
    """The local agents' `--runtime`: process, container or auto (agents.runtime.container)."""
    container_cli: str | None = None
    """The container CLI (a command line); None: docker where its engine answers, else podman."""
    suggestion_workers: int | None = None
    """Processes that compute the tuner's suggestions beside the control plane; None: sized to
    the machine (`suggest.pool.default_workers`); 0: on the control plane's event loop."""
    remote_tuners: bool = False
    """With `bus_url`: suggestions are computed by `amt tuner` workers through the broker.
    With `simulate` the broker carries only them: the simulated agents share the server's
    virtual clock, so they stay on its in-process bus."""
    suggestion_timeout_seconds: float = 60.0
    """With `remote_tuners`: a request not answered in this time is sent again (3 tries)."""

    def check_simulation(self) -> None:
        """Simulated time is the whole server's: what cannot share it is refused here."""
        if self.simulate is None:
            return
        if not self.time_scale > 0:
            raise ValueError(f"--time-scale must be positive, got {self.time_scale}")
        if self.startup_seconds < 0:
            raise ValueError(f"--startup must not be negative, got {self.startup_seconds}")
        if self.epoch_seconds is not None and not self.epoch_seconds > 0:
            raise ValueError(f"--epoch-seconds must be positive, got {self.epoch_seconds}")
        if self.replay not in ("nearest", "surrogate"):
            raise ValueError(f"--replay must be nearest or surrogate, got {self.replay!r}")
        if self.bus_url and not self.remote_tuners:
            raise ValueError(
                "--simulate runs its agents in the server, on its virtual clock; it cannot take "
                "--bus, except with --remote-tuners (the broker then carries only suggestions)"
            )
        if self.auth:
            raise ValueError(
                "--simulate cannot take --auth: signatures carry wall time, the server virtual"
            )
        if manifest_of(self.simulate) is None:
            listed = ", ".join(available_sets()) or "none"
            raise ValueError(
                f"--simulate: no recorded curve set {self.simulate!r} (recorded: {listed}; "
                "or the path of a set's manifest)"
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


def with_config(settings: Settings, config: Mapping[str, Any]) -> Settings:
    """`settings` changed by a config file's keys (each converted to its setting's type; the
    [images] table adds to the images); ValueError for a key that names no setting."""
    names = {f.name for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in config.items():
        if key == "images":
            changes["images"] = {**settings.images, **{str(k): str(v) for k, v in value.items()}}
        elif key == "data_dir":
            changes["data_dir"] = Path(value).expanduser()
        elif key in names:
            current = getattr(settings, key)
            changes[key] = value if current is None else type(current)(value)
        else:
            raise ValueError(f"unknown setting {key!r} in config file")
    return replace(settings, **changes)
