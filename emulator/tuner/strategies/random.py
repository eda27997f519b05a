"""Random search: independent draws, uniform in the scaled space.

Draws ignore the history on purpose (that is what AWS's Random strategy does, and why parallelism
costs it nothing); repeats are possible in small discrete spaces, as on the real service.
"""

from __future__ import annotations

import numpy as np

from emulator.tuner.model import Config, History
from emulator.tuner.space import SearchSpace


class RandomStrategy:
    """Uniform sampling honouring each range's ScalingType."""

    def suggest(
        self, space: SearchSpace, history: History, n: int, rng: np.random.Generator
    ) -> list[Config]:
        return space.sample(rng, max(0, n))
