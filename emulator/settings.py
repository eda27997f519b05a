"""Server settings: command-line flags, an optional TOML file, and their defaults."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8780


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
            setattr(settings, key, type(getattr(settings, key))(value))
        else:
            raise ValueError(f"unknown setting {key!r} in config file")
