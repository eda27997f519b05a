"""SageMaker's Hyperband as a pure, asynchronous stopping rule.

Resources are epochs. With MinResource `r`, MaxResource `R` and reduction factor `eta` = 3 the
*rungs* are the epochs `r, r*3, r*9, ...` below `R`. Hyperband hedges over how aggressive to be
with *brackets*: bracket `b` only judges a job from rung `b` on, so bracket 0 may stop a job after
`r` epochs, while the last bracket (`b == len(rungs)`) lets every job run to `R`.

Promotion is asynchronous (ASHA): when a job reports the epoch of a rung it continues only if its
value is among the best `ceil(n / eta)` of the `n` values recorded at that rung so far (its own
and those of the other jobs of its bracket that reached the rung, whether still running, finished
or stopped). No job ever waits for a rung to fill up, so parallel slots never idle; the first job
to reach a rung always continues. A job is stopped once it reaches `R` epochs.

State-free API, the caller passes the history each time:

    settings = HyperbandSettings.from_api(strategy_config, static_hyperparameters)
    bracket = settings.bracket_for(job_index)        # job_index: 0-based launch order
    peers = [curve of every OTHER job of this tuning job with the same bracket]
    decision = decide(epoch, value, bracket=bracket, objective_type=objective,
                      settings=settings, values_at_rungs=rung_values(peers, settings.rungs))
    if decision.stop: stop the training job (decision.reason says why)

Brackets are assigned by launch order in a fixed weighted cycle: in each cycle bracket `b` gets
`ceil(eta**s / (s + 1))` jobs with `s = len(rungs) - b`, Hyperband's own proportions, so most jobs
go to the aggressive brackets. The value "at a rung" is the objective value the job reported for
that epoch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.tuner.model import ObjectiveType

REDUCTION_FACTOR = 3
MAX_EPOCHS = 20_000
"""AWS's limit on MaxResource; an inferred value above it is capped."""
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
"""Static hyperparameters MaxResource is inferred from, in order of preference."""


@dataclass(frozen=True)
class Decision:
    """Whether a training job stops after the epoch it just reported, and why."""

    stop: bool
    reason: str = ""


CONTINUE = Decision(stop=False)


def infer_max_resource(static_hyperparameters: Mapping[str, str]) -> int | None:
    """MaxResource from the first epoch-count static hyperparameter, capped at 20,000.

    Values may be JSON-quoted (`"\\"10\\""`), as the SageMaker SDK sends them for frameworks.
    """
    for key in EPOCH_KEYS:
        text = static_hyperparameters.get(key)
        if text is None:
            continue
        try:
            value = float(json.loads(text)) if text.startswith('"') else float(text)
        except ValueError:
            continue
        if math.isfinite(value) and value >= 1:
            return min(int(value), MAX_EPOCHS)
    return None


@dataclass(frozen=True)
class HyperbandSettings:
    """MinResource / MaxResource of one tuning job, and the rungs and brackets they imply."""

    min_resource: int
    max_resource: int
    reduction_factor: int = REDUCTION_FACTOR

    @classmethod
    def from_api(
        cls, strategy_config: Mapping[str, Any] | None, static_hyperparameters: Mapping[str, str]
    ) -> HyperbandSettings:
        """From the API's StrategyConfig; ValueError when MaxResource is neither given nor
        inferable from the static hyperparameters (AWS answers a validation error then)."""
        config = (strategy_config or {}).get("HyperbandStrategyConfig") or {}
        max_resource = config.get("MaxResource") or infer_max_resource(static_hyperparameters)
        if max_resource is None:
            raise ValueError(
                "Hyperband needs HyperbandStrategyConfig.MaxResource or one of the static "
                f"hyperparameters {', '.join(EPOCH_KEYS)}"
            )
        return cls(int(config.get("MinResource") or 1), int(max_resource))

    @property
    def rungs(self) -> tuple[int, ...]:
        """Epochs at which jobs are judged: MinResource * 3^k below MaxResource."""
        rungs: list[int] = []
        level = max(1, self.min_resource)
        while level < self.max_resource:
            rungs.append(level)
            level *= self.reduction_factor
        return tuple(rungs)

    @property
    def num_brackets(self) -> int:
        return len(self.rungs) + 1

    def bracket_rungs(self, bracket: int) -> tuple[int, ...]:
        """The rungs bracket `bracket` judges at (none for the last bracket)."""
        return self.rungs[bracket:]

    def bracket_for(self, job_index: int) -> int:
        """The bracket of the job launched `job_index`-th (0-based) by this tuning job."""
        sizes = [
            math.ceil(
                self.reduction_factor ** (self.num_brackets - 1 - b) / (self.num_brackets - b)
            )
            for b in range(self.num_brackets)
        ]
        position = job_index % sum(sizes)
        for bracket, size in enumerate(sizes):
            if position < size:
                return bracket
            position -= size
        raise AssertionError("unreachable: position is below the cycle length")


def rung_values(curves: Iterable[Sequence[float]], rungs: Iterable[int]) -> dict[int, list[float]]:
    """Values each curve reported at each rung epoch it reached (curves index 0 = epoch 1)."""
    curves = list(curves)
    return {rung: [c[rung - 1] for c in curves if len(c) >= rung] for rung in rungs}


def decide(
    epoch: int,
    value: float,
    *,
    bracket: int,
    values_at_rungs: Mapping[int, Sequence[float]],
    objective_type: ObjectiveType,
    settings: HyperbandSettings,
) -> Decision:
    """Continue or stop a job of `bracket` that reported `value` after `epoch` (1-based).

    `values_at_rungs[r]` holds what the OTHER jobs of this bracket reported at rung epoch `r`.
    """
    if epoch >= settings.max_resource:
        return Decision(True, f"reached MaxResource ({settings.max_resource} epochs)")
    if epoch not in settings.bracket_rungs(bracket):
        return CONTINUE
    peers = [v for v in values_at_rungs.get(epoch, ()) if math.isfinite(v)]
    if not math.isfinite(value):
        return Decision(True, f"objective is not a number at rung {epoch}")
    better = sum(1 for v in peers if (v < value if objective_type == "Minimize" else v > value))
    keep = math.ceil((len(peers) + 1) / settings.reduction_factor)
    if better < keep:
        return CONTINUE
    return Decision(
        True, f"not in the top 1/{settings.reduction_factor} at rung {epoch} ({better} better)"
    )
