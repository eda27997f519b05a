"""Bayesian optimisation: a Gaussian-process model of the objective, Expected Improvement.

Each call rebuilds everything from the `History` (no state between calls):

1. **Training data.** Finished observations and warm-start `prior` observations, encoded in the
   unit cube. A failed job (value None, or not finite) counts as the *worst* value seen so far:
   the region did not work, and skipping it would let the model propose it again. Targets are
   z-scored and negated for Maximize, so the model always minimises.
2. **Initial design** while fewer than `initial_design_size(dim)` = max(3, min(10, dim + 1))
   jobs exist (observations + pending + prior), or while fewer than two values are known (an
   all-failed history): space-filling points — each the candidate of a scrambled Sobol set
   that leaves the lowest centred L2 discrepancy together with every point already run,
   pending or chosen, so designs made over many calls still cover the space evenly. Not the
   candidate *farthest* from them (maximin, which this was): that pushes points onto the
   cube's faces, the extreme values of every range, and extremes are rarely good
   hyperparameters. With `bench/tuning_quality.py` (10 seeds, 30 jobs) the median best after
   5 jobs on `integers` was 0.307 with maximin against 0.212 for Random, and the Bayesian
   search stayed behind from there; with this design 50 of the 56 comparisons with Optuna's
   GPSampler and TPE hold at 20 and 30 jobs, with maximin 35.
3. **Model**: `tuner.gp` (Matern-5/2 ARD * constant + white noise); kernel hyperparameters
   at the maximum of likelihood times a prior (length scales near the cube's size until the
   data say otherwise: with few points in 6-d the likelihood alone called most coordinates
   irrelevant), refitted every call below 64 points, then each time the data grow by a fifth.
   EI is computed on the noise-free posterior (see `gp.Surrogate.predict`).
4. **Acquisition**: Expected Improvement, ranked in log space, maximised over a few thousand
   candidates — uniform ones plus perturbations of the best observed points, fewer of both past
   `FULL_SEARCH_POINTS` points (`candidate_count`) — then refined by a shrinking local
   perturbation search. Every candidate is first *snapped* to what would really
   run (integers rounded, categoricals one-hot at their argmax), so EI is judged at the point
   that will be trained, never at a fractional category. Only the `RANKED` best candidates are
   kept; `gp.top_log_ei` finds them exactly without the full variance of every candidate.
5. **One BLAS thread.** The matrices are small (at most a few hundred rows); on a 2-core
   machine OpenBLAS's thread hand-offs made a suggestion 15x slower, so calls run single-threaded.
6. **Pending and parallel suggestions** (kriging believer): a running job, and each suggestion
   already chosen in this call, joins the data with the model's mean as its fantasy value. The
   posterior variance collapses there, so EI stops favouring the spot and parallel slots spread
   out instead of proposing near-duplicates. A configuration equal to an observed, pending or
   already-chosen one is skipped whenever another candidate exists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc
from threadpoolctl import ThreadpoolController

from emulator.tuner import gp
from emulator.tuner.model import Config, History, Observation
from emulator.tuner.space import CategoricalParam, IntegerParam, Param, SearchSpace

RANDOM_CANDIDATES = 2048
LOCAL_CANDIDATES = 2048
"""Perturbations of the best observed points, spread over `LOCAL_CENTRES` of them."""
LOCAL_CENTRES = 5
FULL_SEARCH_POINTS = 128
MIN_CANDIDATES = 256
LOCAL_SCALE = 0.05
"""Exploiting near the incumbents pays in 6-d: on Hartmann6 (6 seeds, 30 jobs) the median best
went from -2.31 with 1024 perturbations of scale 0.1 to -2.87 with these (optimum -3.32)."""
REFINE_STEPS = (0.05, 0.02, 0.008)
"""Perturbation scales of the local refinement rounds, in unit-cube coordinates."""
REFINE_STARTS = 5
REFINE_SAMPLES = 64
CATEGORY_RESAMPLE = 0.2
"""Chance that a perturbation also redraws a categorical (steps along one-hot are not local)."""
RANKED = 64
"""Candidates ranked by exact EI; the first not yet run, pending or chosen is picked."""
DESIGN_CANDIDATES = 64
MAX_SNAPPED_INTEGERS = 4096
"""Integer ranges wider than this are searched as continuous and rounded only on decode."""


def initial_design_size(dim: int) -> int:
    """Space-filling jobs before the model takes over: one per coordinate plus one, 3 to 10."""
    return max(3, min(10, dim + 1))


@functools.cache
def _threads() -> ThreadpoolController:
    """Found once per process: finding the loaded BLAS libraries took 25 ms a call."""
    return ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[object]:
    return _threads().limit(limits=1, user_api="blas")


# --- the space's layout: which coordinates belong to which parameter ---------------------------


@dataclass(frozen=True)
class _Block:
    start: int
    width: int
    centres: np.ndarray | None
    """Integer parameters: the encoded coordinate of every value, ascending (None: continuous)."""


@dataclass(frozen=True)
class _Layout:
    numeric: tuple[_Block, ...]
    categorical: tuple[_Block, ...]


@functools.lru_cache(maxsize=256)
def _integer_centres(param: IntegerParam) -> np.ndarray | None:
    if param.high - param.low + 1 > MAX_SNAPPED_INTEGERS:
        return None
    single = SearchSpace((param,))
    return np.array(
        [single.encode({param.name: str(v)})[0] for v in range(param.low, param.high + 1)]
    )


def _layout(space: SearchSpace) -> _Layout:
    numeric: list[_Block] = []
    categorical: list[_Block] = []
    start = 0
    for p in space.params:
        width = _width(p)
        if isinstance(p, CategoricalParam):
            categorical.append(_Block(start, width, None))
        else:
            centres = _integer_centres(p) if isinstance(p, IntegerParam) else None
            numeric.append(_Block(start, 1, centres))
        start += width
    return _Layout(tuple(numeric), tuple(categorical))


def _width(p: Param) -> int:
    return len(p.values) if isinstance(p, CategoricalParam) else 1


def _snap(layout: _Layout, x: np.ndarray) -> np.ndarray:
    """Rows of `x` moved to the encodings of the configurations they decode to (vectorised)."""
    out = np.clip(x, 0.0, 1.0)
    for b in layout.numeric:
        if b.centres is not None and len(b.centres) > 1:
            edges = (b.centres[1:] + b.centres[:-1]) / 2
            out[:, b.start] = b.centres[np.searchsorted(edges, out[:, b.start])]
        elif b.centres is not None:
            out[:, b.start] = b.centres[0]
    for b in layout.categorical:
        block = out[:, b.start : b.start + b.width]
        hot = np.argmax(block, axis=1)
        block[:] = 0.0
        block[np.arange(len(out)), hot] = 1.0
    return out


def _perturb(
    layout: _Layout, centres: np.ndarray, scale: float, count: int, rng: np.random.Generator
) -> np.ndarray:
    """`count` snapped points near `centres` (cycled): Gaussian steps, occasional new categories."""
    base = centres[np.arange(count) % len(centres)]
    x = base + rng.normal(0.0, scale, base.shape)
    for b in layout.categorical:
        x[:, b.start : b.start + b.width] = base[:, b.start : b.start + b.width]
        redraw = rng.random(count) < CATEGORY_RESAMPLE
        x[redraw, b.start : b.start + b.width] = rng.random((int(redraw.sum()), b.width))
    return _snap(layout, x)


# --- training data ---------------------------------------------------------------------------


class _Encoder:
    """`space.encode`, memoised: every call re-reads the whole history, and encoding each of
    hundreds of configurations again was a tenth of a suggestion's time. A pure cache (the
    encoding of a configuration never changes), bounded in size."""

    LIMIT = 100_000

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.memo: dict[tuple[tuple[str, str], ...], np.ndarray | None] = {}

    def __call__(self, config: Config) -> np.ndarray | None:
        """The raw encoding of `config`, or None when it does not fit this space."""
        key = tuple(config.items())
        if key not in self.memo:
            if len(self.memo) >= self.LIMIT:
                self.memo.clear()
            try:
                x = self.space.encode(config)
                x.flags.writeable = False
                self.memo[key] = x
            except (KeyError, ValueError):
                self.memo[key] = None
        return self.memo[key]


@functools.lru_cache(maxsize=64)
def _encoder(space: SearchSpace) -> _Encoder:
    return _Encoder(space)


def _encode_all(
    space: SearchSpace, layout: _Layout, configs: Iterable[Config]
) -> tuple[np.ndarray, list[int]]:
    """Snapped encodings of the configurations that fit `space`, and their positions."""
    encode = _encoder(space)
    rows: list[np.ndarray] = []
    kept: list[int] = []
    for i, config in enumerate(configs):
        x = encode(config)
        if x is not None:
            rows.append(x)
            kept.append(i)
    if not rows:
        return np.empty((0, space.dim)), kept
    return _snap(layout, np.array(rows)), kept


def _points(space: SearchSpace, layout: _Layout, configs: Iterable[Config]) -> np.ndarray:
    return _encode_all(space, layout, configs)[0]


def _training_data(
    space: SearchSpace, layout: _Layout, history: History
) -> tuple[np.ndarray, np.ndarray]:
    """Every run configuration that fits the space, encoded, and its raw value (minimisation
    sign; failures take the worst value seen). No values at all while none is known: the
    points still count as run, but there is nothing to model."""
    sign = -1.0 if history.objective_type == "Maximize" else 1.0
    run = (*history.prior, *history.observations)
    rows, kept = _encode_all(space, layout, (o.config for o in run))
    values = [_finite(run[i]) for i in kept]
    known = [sign * v for v in values if v is not None]
    if not known:
        return rows, np.empty(0)
    worst = max(known)
    return rows, np.array([worst if v is None else sign * v for v in values])


def _finite(o: Observation) -> float | None:
    return o.value if o.value is not None and np.isfinite(o.value) else None


def _standardise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean, std = float(np.mean(y)), float(np.std(y))
    std = std if std > 1e-12 else 1.0
    return (y - mean) / std, mean, std


def _key(x: np.ndarray) -> bytes:
    """Identity of a snapped point: equal keys decode to the same configuration."""
    return (np.round(x, 9) + 0.0).tobytes()


def _keys(x: np.ndarray) -> set[bytes]:
    """`_key` of every row, rounded in one pass."""
    return {row.tobytes() for row in np.round(x, 9) + 0.0}


# --- initial design --------------------------------------------------------------------------


def _design(
    space: SearchSpace, layout: _Layout, taken: np.ndarray, n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """`n` points, each the Sobol candidate that, added to everything run, pending or chosen,
    leaves the lowest centred discrepancy (the first of an empty design: the most central)."""
    sobol = qmc.Sobol(space.dim, scramble=True, rng=rng)
    chosen: list[np.ndarray] = []
    for _ in range(n):
        candidates = _snap(layout, sobol.random(DESIGN_CANDIDATES))
        others = np.vstack([taken, *chosen]) if len(taken) or chosen else None
        chosen.append(candidates[int(np.argmin(_discrepancy_with(candidates, others)))])
    return chosen


def _discrepancy_with(candidates: np.ndarray, others: np.ndarray | None) -> np.ndarray:
    """The centred L2 discrepancy of `others` plus each candidate in turn: updated from
    `others`' own in O(n) a candidate, the same values as computing each set afresh."""
    if others is None:
        return np.array([qmc.discrepancy(c[None], method="CD") for c in candidates])
    initial = qmc.discrepancy(others, iterative=True, method="CD")
    return np.array([qmc.update_discrepancy(c, others, initial) for c in candidates])


# --- acquisition -----------------------------------------------------------------------------


def candidate_count(full: int, points: int) -> int:
    """`full` candidates up to `FULL_SEARCH_POINTS` points (observations and fantasies), then
    fewer in proportion, at least `MIN_CANDIDATES`: scoring a candidate costs O(points), and a
    late suggestion spent most of its time scoring thousands of them against hundreds of
    points, where the model already knows the space and the refinement rounds matter more."""
    if points <= FULL_SEARCH_POINTS:
        return full
    return max(MIN_CANDIDATES, full * FULL_SEARCH_POINTS // points)


def _candidates(
    layout: _Layout, dim: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    uniform = _snap(layout, rng.random((candidate_count(RANDOM_CANDIDATES, len(y)), dim)))
    best = x[np.argsort(y, kind="stable")[:LOCAL_CENTRES]]
    local = candidate_count(LOCAL_CANDIDATES, len(y))
    return np.vstack([uniform, _perturb(layout, best, LOCAL_SCALE, local, rng)])


def _maximise_ei(
    model: gp.Surrogate, layout: _Layout, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The `RANKED` best candidates and their log EI, best first, after local refinement of
    the leaders (candidates that cannot reach the top `RANKED` are never fully scored)."""
    best = float(np.min(y))
    board = _Board(np.empty((0, x.shape[1])), np.empty(0))
    board = board.merge(model, _candidates(layout, x.shape[1], x, y, rng), best)
    for step in REFINE_STEPS:
        leaders = board.points[:REFINE_STARTS]
        board = board.merge(
            model, _perturb(layout, leaders, step, REFINE_STARTS * REFINE_SAMPLES, rng), best
        )
    return board.points, board.scores


@dataclass(frozen=True)
class _Board:
    """The best candidates scored so far, best first; ties keep the order they were drawn in."""

    points: np.ndarray
    scores: np.ndarray

    def merge(self, model: gp.Surrogate, candidates: np.ndarray, best: float) -> _Board:
        floor = float(self.scores[RANKED - 1]) if len(self.scores) >= RANKED else -np.inf
        rows, scores = gp.top_log_ei(model, candidates, best, RANKED, floor)
        points = np.vstack([self.points, candidates[rows]])
        scores = np.concatenate([self.scores, scores])
        order = np.argsort(-scores, kind="stable")[:RANKED]
        return _Board(points[order], scores[order])


def _pick(ranked: np.ndarray, taken: set[bytes]) -> np.ndarray:
    """The best-ranked candidate whose configuration has not been run, pending or chosen."""
    for x in ranked[:RANKED]:
        if _key(x) not in taken:
            return x
    return ranked[0]


# --- the strategy ----------------------------------------------------------------------------


class BayesianStrategy:
    """Gaussian-process Bayesian optimisation with Expected Improvement (see module docstring)."""

    def suggest(
        self, space: SearchSpace, history: History, n: int, rng: np.random.Generator
    ) -> list[Config]:
        if n <= 0:
            return []
        with _one_blas_thread():
            return self._suggest(space, history, n, rng)

    def _suggest(
        self, space: SearchSpace, history: History, n: int, rng: np.random.Generator
    ) -> list[Config]:
        layout = _layout(space)
        x, y = _training_data(space, layout, history)
        running = _points(space, layout, history.pending)
        taken = np.vstack([x, running])
        in_design = max(0, initial_design_size(space.dim) - len(taken))
        if len(y) < 2:
            in_design = n
        chosen = _design(space, layout, taken, min(n, in_design), rng)
        if len(chosen) < n:
            pending = [*running, *chosen]
            keys = _keys(np.vstack([taken, *chosen]))
            chosen += _model_based(layout, (x, y), pending, keys, n - len(chosen), rng)
        return [space.decode(c) for c in chosen]


def _model_based(
    layout: _Layout,
    data: tuple[np.ndarray, np.ndarray],
    pending: list[np.ndarray],
    taken: set[bytes],
    n: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    x, y = data
    z, _, _ = _standardise(y)
    model = gp.fit(x, z, rng)
    fantasy_x, fantasy_z = x, z
    if pending:
        model, fantasy_x, fantasy_z = _believe(model, fantasy_x, fantasy_z, np.array(pending))
    chosen: list[np.ndarray] = []
    for _ in range(n):
        ranked, _ = _maximise_ei(model, layout, fantasy_x, fantasy_z, rng)
        pick = _pick(ranked, taken)
        chosen.append(pick)
        taken.add(_key(pick))
        model, fantasy_x, fantasy_z = _believe(model, fantasy_x, fantasy_z, pick[None])
    return chosen


def _believe(
    model: gp.Surrogate, x: np.ndarray, z: np.ndarray, new: np.ndarray
) -> tuple[gp.Surrogate, np.ndarray, np.ndarray]:
    """Kriging believer: `new` points join the data with the model's mean as their value."""
    grown, mean = model.believe(new)
    return grown, np.vstack([x, new]), np.concatenate([z, mean])


def expected_improvement_ratio(space: SearchSpace, history: History) -> float | None:
    """Max EI over the space divided by |best value| — how much the model still hopes to gain.

    None when there is no model yet (fewer than two values) or the best value is 0. Pure: the
    search uses a fixed seed.
    """
    layout = _layout(space)
    x, y = _training_data(space, layout, history)
    if len(y) < 2:
        return None
    best = float(np.min(y))
    if best == 0:
        return None
    rng = np.random.default_rng(0)
    z, _, std = _standardise(y)
    with _one_blas_thread():
        model = gp.fit(x, z, rng)
        _, scores = _maximise_ei(model, layout, x, z, rng)
    return float(np.exp(scores[0]) * std / abs(best))
