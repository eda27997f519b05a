"""Plain data the tuner reasons about: configurations, observations and a tuning history.

Strategies and stopping rules receive these and nothing else, so they stay pure functions of
their inputs: the same history and seed give the same suggestions, with no I/O behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Config = dict[str, str]
"""Tuned hyperparameter values as the API carries them: name -> string value."""

ObjectiveType = Literal["Minimize", "Maximize"]


@dataclass(frozen=True)
class Observation:
    """What one finished (or stopped, or failed) training job taught us."""

    config: Config
    value: float | None
    """Final objective value; None when the job failed or never emitted the objective."""
    curve: tuple[float, ...] = ()
    """Objective value reported after each epoch, in order."""
    definition: str | None = None
    """TrainingJobDefinitionName, for tuning jobs with several definitions."""


@dataclass(frozen=True)
class History:
    """Everything a strategy may use to choose the next configurations."""

    objective_type: ObjectiveType
    observations: tuple[Observation, ...] = ()
    pending: tuple[Config, ...] = ()
    """Configurations of jobs still running (no final value yet)."""
    launched: int = 0
    """Training jobs launched so far by this tuning job (parents' jobs not included)."""
    prior: tuple[Observation, ...] = field(default=())
    """Observations inherited through warm start (parents' jobs)."""

    def better(self, a: float, b: float) -> bool:
        """True when objective value `a` is strictly better than `b`."""
        return a < b if self.objective_type == "Minimize" else a > b
