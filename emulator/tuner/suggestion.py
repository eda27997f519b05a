"""A request for suggestions and its answer: the boundary the tuner's strategies sit behind.

A request carries everything a strategy may use — the strategy's name, the search space, the
`History` (observations, pending configurations, warm-start prior), how many configurations,
and the tuning job's seed with its position in the random stream — so answering it is a pure
function: any worker, in this process or another, gives the same answer, and a request may be
sent again after a worker died without changing what the tuning job runs.

The random stream of a tuning job is `default_rng([seed, launched])`: its `RandomSeed` and the
number of training jobs it had launched when it asked. A request re-sent, or answered by
another worker, therefore draws the same numbers; a tuning job's configurations for a seed do
not depend on where its suggestions were computed.

`Suggestions` is the seam the tuner asks through: `InProcess` answers at once (the simulator,
whose virtual time must not wait on anything); a worker pool answers later, and its driver
hands the answer back to the tuner (`TunerService.on_suggestions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from emulator.tuner.model import Config, History
from emulator.tuner.space import SearchSpace
from emulator.tuner.strategies import get_strategy


@dataclass(frozen=True)
class SuggestionRequest:
    """Everything needed to choose a tuning job's next `n` configurations (picklable)."""

    tuning_job: str
    request_id: str
    """Unique per request: an answer is applied only to the request it answers, once."""
    strategy: str
    """The API's `Strategy` value."""
    space: SearchSpace
    history: History
    n: int
    seed: int
    """The tuning job's RandomSeed (drawn once when the request had none)."""
    stream: int
    """Training jobs the tuning job had launched: the position in its random stream."""

    def rng(self) -> np.random.Generator:
        """The tuning job's random stream at this request's position."""
        return np.random.default_rng([self.seed, self.stream])


@dataclass(frozen=True)
class SuggestionAnswer:
    """The configurations chosen for one request (fewer than asked, or none: space exhausted)."""

    tuning_job: str
    request_id: str
    configs: tuple[Config, ...]


MODEL_BASED = frozenset({"Bayesian"})
"""Strategies whose answer costs a model fit (milliseconds to a second): worth a worker.
Random, Grid and Hyperband draw or enumerate in microseconds, less than sending them."""


def needs_worker(request: SuggestionRequest) -> bool:
    """Whether computing the answer is worth sending the request to a worker."""
    return request.strategy in MODEL_BASED


def answer(request: SuggestionRequest) -> SuggestionAnswer:
    """Answer a request: a pure function of it, whoever calls it, wherever."""
    strategy = get_strategy(request.strategy)
    configs = strategy.suggest(request.space, request.history, request.n, request.rng())
    return SuggestionAnswer(request.tuning_job, request.request_id, tuple(configs))


class Suggestions(Protocol):
    """Where the tuner sends its requests."""

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        """The answer now, or None: it will be handed to `TunerService.on_suggestions`
        (or the request reported failed) later."""


class InProcess:
    """Answers at once, in the caller's process and thread."""

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        return answer(request)
