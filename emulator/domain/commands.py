"""What the lifecycle's parts ask of whoever drives the jobs, within one process.

The tuner answers each event with a list of these, and the HTTP edge sends them when a request
changes a job. The driver carries them out: the server's control plane hands `Launch` and
`Stop` to its scheduler (which talks to agents over the bus), the simulator's engine to its
event heap. Across processes only the bus's events travel (`domain.events`); these never
leave the process that made them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Launch:
    """A training job was created (InProgress, no agent yet): start it somewhere."""

    job: str


@dataclass(frozen=True)
class Stop:
    """A training job was moved to Stopping: stop it where it runs."""

    job: str


@dataclass(frozen=True)
class Refresh:
    """A tuning job changed outside the tuner (created, stop requested): bring it up to date."""

    tuning_job: str


@dataclass(frozen=True)
class TuningEnded:
    """A tuning job reached Completed, Failed or Stopped."""

    tuning_job: str
    status: str


Command = Launch | Stop | Refresh | TuningEnded
Commands = list[Command]
