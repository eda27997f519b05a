"""A replayed training job's timeline: when each epoch's metrics come, and how it ends.

One timeline for both replays: the simulator's engine schedules its steps on its event heap,
the simulated agent of `amt serve --simulate` sleeps until each one. So a request answers
alike in both. With `epoch_seconds` the epochs take the user's pace (`simulator.pacing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.simulator.curves import Curve
from emulator.simulator.pacing import paced_durations


@dataclass(frozen=True)
class Step:
    """One moment of a replay, in seconds after Training started."""

    at: float
    epoch: int = 0
    """The epoch whose metrics are reported now (1-based); 0 for the end."""
    end: str = ""
    """The terminal status at the end: Completed, Failed or MaxRuntimeExceeded."""


def timeline(
    curve: Curve,
    max_runtime: float,
    upload_seconds: float = 0.0,
    epoch_seconds: float | None = None,
) -> list[Step]:
    """Every epoch end that happens before MaxRuntimeInSeconds, then the end (an epoch that
    would end after the deadline ends the job at it instead). `epoch_seconds`: the epochs'
    average length, else the recorded times."""
    durations = curve.epoch_seconds
    if epoch_seconds is not None:
        durations = paced_durations(durations, epoch_seconds)
    steps: list[Step] = []
    elapsed = 0.0
    for epoch, seconds in enumerate(durations, start=1):
        elapsed += seconds
        if elapsed > max_runtime:
            return [*steps, Step(max_runtime, end="MaxRuntimeExceeded")]
        steps.append(Step(elapsed, epoch=epoch))
    elapsed += upload_seconds
    if elapsed > max_runtime:
        return [*steps, Step(max_runtime, end="MaxRuntimeExceeded")]
    return [*steps, Step(elapsed, end="Failed" if curve.failure else "Completed")]
