"""Grid search: every combination of the categorical values, each exactly once.

The next suggestions are the first combinations of `SearchSpace.grid()` that no finished or
running job of this tuning job has used, so the order is deterministic and a restarted tuner
neither repeats nor skips a cell. Warm-start parents' jobs (`History.prior`) do not count: the
child tuning job's budget is its own grid.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from emulator.tuner.model import Config, History
from emulator.tuner.space import SearchSpace


def _key(config: Config, names: Iterable[str]) -> tuple[str | None, ...]:
    return tuple(config.get(name) for name in names)


class GridStrategy:
    """The next unused cells of the grid; fewer (possibly none) once it is exhausted."""

    def suggest(
        self, space: SearchSpace, history: History, n: int, rng: np.random.Generator
    ) -> list[Config]:
        used = {_key(o.config, space.names) for o in history.observations}
        used |= {_key(c, space.names) for c in history.pending}
        fresh = (c for c in space.grid() if _key(c, space.names) not in used)
        return [c for _, c in zip(range(max(0, n)), fresh, strict=False)]
