"""Search strategies: pure functions from (space, history, n, rng) to the next configurations.

A strategy keeps no state between calls; everything it may use arrives in the `History`, and all
randomness comes from the `rng` the caller owns (seeded from the tuning job's RandomSeed), so the
same inputs always give the same suggestions and a restarted tuner picks up where it left off.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from emulator.tuner.model import Config, History
from emulator.tuner.space import SearchSpace
from emulator.tuner.strategies.grid import GridStrategy
from emulator.tuner.strategies.random import RandomStrategy

STRATEGY_NAMES = ("Bayesian", "Random", "Hyperband", "Grid")


class Strategy(Protocol):
    """Proposes up to `n` configurations to train next."""

    def suggest(
        self, space: SearchSpace, history: History, n: int, rng: np.random.Generator
    ) -> list[Config]: ...


def get_strategy(name: str) -> Strategy:
    """The strategy for the API's `Strategy` value (ValueError for any other name).

    Hyperband proposes at random: its intelligence is the stopping rule in `tuner.hyperband`.
    """
    if name in ("Random", "Hyperband"):
        return RandomStrategy()
    if name == "Grid":
        return GridStrategy()
    if name == "Bayesian":
        return _bayesian() or RandomStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGY_NAMES)}")


def _bayesian() -> Strategy | None:
    """BayesianStrategy, or None while its module has not been written yet."""
    try:
        bayesian = importlib.import_module(f"{__name__}.bayesian")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.bayesian":
            return None
        raise
    strategy: Strategy = bayesian.BayesianStrategy()
    return strategy
