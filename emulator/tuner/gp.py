"""Gaussian-process surrogate and expected improvement over the unit hypercube.

The model sees points already encoded by `SearchSpace` (scaled axes, one-hot categoricals) and
targets already standardised by the caller, always to be *minimised*. The kernel is
`amplitude * Matern(nu=2.5, one length scale per coordinate) + noise`: nu=2.5 assumes a function
twice differentiable, not infinitely smooth (training curves of learning rate rarely are); the
per-coordinate (ARD) length scales let irrelevant hyperparameters fade out; the white noise
absorbs run-to-run variation of real training jobs.

The kernel hyperparameters are fitted by scikit-learn's GaussianProcessRegressor over
`ConstantKernel * Matern + WhiteKernel`, at the maximum of the marginal likelihood times the
prior of `log_prior` (our optimiser adds it to the objective scikit-learn hands over): with a
dozen points in six dimensions the likelihood alone is nearly flat along most coordinates.
The posterior given them is computed here on NumPy/SciPy (the same formulas, checked against
scikit-learn's predictions): a suggestion's time went into that library's per-call
bookkeeping, and a posterior here must grow by a few points at a time: `Surrogate.condition`
extends the Cholesky factor by a block (O(n^2 k)) instead of refactorising.

**When kernel hyperparameters are fitted.** Below `REFIT_EVERY_CALL_BELOW` points, on every call
(the likelihood still moves a lot, and the fit is cheap). From there on they are fitted on the
*first* `refit_size(n)` points only, a size that grows geometrically (x`REFIT_GROWTH`), and the
fit is cached by those points' bytes: between two sizes every call reuses the same fit, and the
posterior still conditions on all n points. The cache is memoisation, not state: the fit is a
pure function of the data it is keyed by (its random restarts are seeded from a hash of them), so
the same history gives the same suggestions whether or not the cache was warm.
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.spatial.distance import cdist
from scipy.special import erfcx, ndtr
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

MAX_FIT_POINTS = 80
"""Observations used to fit kernel hyperparameters (the posterior always uses all of them)."""
FIT_MAXITER = 60
"""L-BFGS-B iterations per start: the likelihood surface rarely needs more to get close enough."""
AMPLITUDE_BOUNDS = (0.05, 20.0)
LENGTH_SCALE_BOUNDS = (0.01, 20.0)
"""In units of the unit cube: from 1% of a range up to "this coordinate does not matter"."""
NOISE_BOUNDS = (1e-6, 0.2)
"""White-noise variance in standardised units: keep the model from calling everything noise."""
JITTER = 1e-8
"""Added to the training covariance's diagonal for a stable Cholesky factorisation."""
LENGTH_SCALE_PRIOR = 0.1
"""Weight of the length-scale prior (see `log_prior`)."""
NOISE_PRIOR_LOG_WEIGHT = 0.1
NOISE_PRIOR_RATE = 30.0
REFIT_EVERY_CALL_BELOW = 64
REFIT_GROWTH = 1.2
"""Above `REFIT_EVERY_CALL_BELOW` points the hyperparameters are refitted each time the data
have grown by this factor: about a dozen fits for 500 jobs instead of 500."""
_SQRT5 = math.sqrt(5.0)


@dataclass(frozen=True)
class Hyperparameters:
    """Kernel hyperparameters: signal variance, one length scale per coordinate, noise variance."""

    amplitude: float
    length_scales: tuple[float, ...]
    noise: float

    @classmethod
    def start(cls, dim: int) -> Hyperparameters:
        """The default first guess of the likelihood search."""
        return cls(1.0, (0.3,) * dim, 1e-3)

    def log(self) -> np.ndarray:
        return np.log([self.amplitude, *self.length_scales, self.noise])


def _matern(r: np.ndarray) -> np.ndarray:
    """Matern-5/2 correlation at scaled distance r (overwrites r: the arrays are large)."""
    s = np.multiply(r, _SQRT5, out=r)
    out = s * s
    out *= 1.0 / 3.0
    out += s
    out += 1.0
    np.negative(s, out=s)
    np.exp(s, out=s)
    out *= s
    return out


# --- the posterior ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Surrogate:
    """A posterior: mean and standard deviation of the standardised objective.

    `scaled` are the training points divided by the length scales; `chol` the lower Cholesky
    factor of their covariance (noise and jitter on the diagonal); `alpha` = K^-1 y.
    """

    params: Hyperparameters
    scaled: np.ndarray
    y: np.ndarray
    chol: np.ndarray
    alpha: np.ndarray

    def cross(self, x: np.ndarray) -> np.ndarray:
        """Noise-free covariance between the rows of `x` and the training points."""
        scaled = np.atleast_2d(x) / np.asarray(self.params.length_scales)
        return self.params.amplitude * _matern(cdist(scaled, self.scaled))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the noise-free objective at each row.

        Noise-free, because EI is the expected gain of the *function* over the incumbent: with
        the noise in, every observed point kept a noise-sized EI, and on Hartmann6 (10 seeds,
        sequential) the median best after 30 jobs was -2.84 against -3.00 without it."""
        k = self.cross(x)
        return k @ self.alpha, self.sigma(k)

    def sigma(self, k: np.ndarray) -> np.ndarray:
        """Predictive standard deviations, from rows of `cross` (O(n^2) per row)."""
        v = solve_triangular(self.chol, k.T, lower=True, check_finite=False)
        var = self.params.amplitude - np.einsum("ij,ij->j", v, v)
        return np.maximum(np.sqrt(np.maximum(var, 0.0)), 1e-9)

    def sigma_bound(self, k: np.ndarray) -> np.ndarray:
        """An upper bound on `sigma(k)` in O(n) per row.

        Conditioning on the single most correlated training point leaves at least the variance
        that conditioning on all of them does; the small slack covers rounding in `sigma`.
        """
        prior = self.params.amplitude + self.params.noise
        var = self.params.amplitude - np.max(k, axis=1) ** 2 / (prior + JITTER)
        return np.maximum(np.sqrt(np.maximum(var, 0.0) + 1e-10), 1e-9)

    def believe(self, x: np.ndarray) -> tuple[Surrogate, np.ndarray]:
        """Kriging believer: the posterior given `x` observed at the posterior mean, and that
        mean. The mean alone is needed (not `predict`'s variance), and the covariance with
        the training points serves both the mean and the growth of the factor."""
        x = np.atleast_2d(x)
        k21 = self.cross(x)
        mean = k21 @ self.alpha
        return self.condition(x, mean, k21), mean

    def condition(self, x: np.ndarray, y: np.ndarray, k21: np.ndarray | None = None) -> Surrogate:
        """The posterior given extra points (fantasies), with the same kernel hyperparameters.

        The Cholesky factor grows by one block: [[L, 0], [B, C]] with B = K21 L^-T and
        C = chol(K22 - B B^T). `k21`: `cross(x)`, when the caller has it already.
        """
        x, y = np.atleast_2d(x), np.atleast_1d(y)
        scaled = x / np.asarray(self.params.length_scales)
        if k21 is None:
            k21 = self.cross(x)
        k22 = _train_covariance(self.params, scaled)
        b = solve_triangular(self.chol, k21.T, lower=True, check_finite=False).T
        try:
            c = cholesky(k22 - b @ b.T, lower=True, check_finite=False)
        except LinAlgError:
            raw = np.vstack([self.scaled, scaled]) * np.asarray(self.params.length_scales)
            return posterior(self.params, raw, np.concatenate([self.y, y]))
        n, k = len(self.y), len(y)
        chol = np.zeros((n + k, n + k))
        chol[:n, :n] = self.chol
        chol[n:, :n] = b
        chol[n:, n:] = c
        all_y = np.concatenate([self.y, y])
        alpha = cho_solve((chol, True), all_y, check_finite=False)
        return Surrogate(self.params, np.vstack([self.scaled, scaled]), all_y, chol, alpha)


def _train_covariance(params: Hyperparameters, scaled: np.ndarray) -> np.ndarray:
    k = params.amplitude * _matern(cdist(scaled, scaled))
    k[np.diag_indices_from(k)] += params.noise + JITTER
    return k


def posterior(params: Hyperparameters, x: np.ndarray, y: np.ndarray) -> Surrogate:
    """The GP posterior given (x, y) under fixed hyperparameters."""
    scaled = np.atleast_2d(x) / np.asarray(params.length_scales)
    chol = cholesky(_train_covariance(params, scaled), lower=True, check_finite=False)
    alpha = cho_solve((chol, True), y, check_finite=False)
    return Surrogate(params, scaled, np.asarray(y, dtype=float), chol, alpha)


# --- fitting the hyperparameters -------------------------------------------------------------


def _kernel(dim: int) -> Kernel:
    start = Hyperparameters.start(dim)
    matern = Matern(np.array(start.length_scales), LENGTH_SCALE_BOUNDS, nu=2.5)
    return ConstantKernel(start.amplitude, AMPLITUDE_BOUNDS) * matern + WhiteKernel(
        start.noise, NOISE_BOUNDS
    )


def log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Log prior density of log hyperparameters [log amplitude, log length scales, log noise],
    up to a constant, and its gradient.

    With a dozen points in six dimensions the likelihood alone is nearly flat along most
    coordinates: on Hartmann6 it sent half the length scales to the upper bound (a coordinate
    "does not matter") and one or two to 0.06, a model that ignores most of the space and
    spikes elsewhere. The priors keep a length scale near the cube's size until the data say
    otherwise: `-LENGTH_SCALE_PRIOR * (l^2 + l^-2)`, a bowl in log l with its bottom at 1; the
    amplitude is drawn toward the standardised targets' variance (Gamma(2, 1)); the noise
    toward small values (an exponential-like prior, rate `NOISE_PRIOR_RATE`).
    """
    log_amp, log_ls, log_noise = theta[0], theta[1:-1], theta[-1]
    up, down = np.exp(2 * log_ls), np.exp(-2 * log_ls)
    amp, noise = math.exp(log_amp), math.exp(log_noise)
    value = (
        -LENGTH_SCALE_PRIOR * float(np.sum(up + down))
        + (log_amp - amp)
        + (NOISE_PRIOR_LOG_WEIGHT * log_noise - NOISE_PRIOR_RATE * noise)
    )
    grad = np.concatenate(
        [
            [1.0 - amp],
            -2 * LENGTH_SCALE_PRIOR * (up - down),
            [NOISE_PRIOR_LOG_WEIGHT - NOISE_PRIOR_RATE * noise],
        ]
    )
    return value, grad


def _bounded_lbfgs(obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray) -> Any:
    """scikit-learn's default optimiser with an iteration cap (to bound the time per fit), on
    the log posterior: the negative log likelihood it is given minus `log_prior`."""

    def negative_log_posterior(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = obj_func(theta)
        prior, prior_grad = log_prior(theta)
        return value - prior, grad - prior_grad

    result = minimize(
        negative_log_posterior,
        initial_theta,
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        options={"maxiter": FIT_MAXITER},
    )
    return result.x, result.fun


def _fit_subset(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices for the hyperparameter fit: the best half, and a random spread of the rest.

    The best region is where the model must be right; the rest keeps the length scales honest.
    """
    if len(y) <= MAX_FIT_POINTS:
        return np.arange(len(y))
    order = np.argsort(y, kind="stable")
    best = order[: MAX_FIT_POINTS // 2]
    rest = rng.choice(order[MAX_FIT_POINTS // 2 :], MAX_FIT_POINTS - len(best), replace=False)
    return np.sort(np.concatenate([best, rest]))


def fit_hyperparameters(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, restarts: int
) -> Hyperparameters:
    """Maximum-likelihood hyperparameters on (a subset of) the data, by scikit-learn's
    GaussianProcessRegressor: the default start plus `restarts` starts drawn uniformly in
    log-bounds, each a bounded L-BFGS-B search. Fits are rare (see the module docstring); the
    posterior they feed is ours."""
    subset = _fit_subset(y, rng)
    model = GaussianProcessRegressor(
        kernel=_kernel(x.shape[1]),
        optimizer=_bounded_lbfgs,
        n_restarts_optimizer=restarts,
        alpha=JITTER,
        normalize_y=False,
        random_state=int(rng.integers(2**31)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[subset], y[subset])
    kernel = model.kernel_
    return Hyperparameters(
        float(kernel.k1.k1.constant_value),
        tuple(float(v) for v in np.atleast_1d(kernel.k1.k2.length_scale)),
        float(kernel.k2.noise_level),
    )


def refit_size(n: int) -> int:
    """How many of the first points the hyperparameters are fitted on, with n points known."""
    if n < REFIT_EVERY_CALL_BELOW:
        return n
    size = REFIT_EVERY_CALL_BELOW
    while math.ceil(size * REFIT_GROWTH) <= n:
        size = math.ceil(size * REFIT_GROWTH)
    return size


def hyperparameters(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Hyperparameters:
    """Hyperparameters for (x, y) on the refit schedule (module docstring).

    Restarts shrink as data grow (3 random starts below 20 points, 1 below 60, none after):
    with few points the likelihood is multi-modal and the fit is cheap. A scheduled fit, rare,
    always gets one restart.
    """
    n = len(y)
    if n < REFIT_EVERY_CALL_BELOW:
        return fit_hyperparameters(x, y, rng, 3 if n < 20 else 1 if n < 60 else 0)
    size = refit_size(n)
    prefix = np.ascontiguousarray(x[:size], dtype=float)
    head = y[:size]
    spread = float(np.std(head))
    z = np.round((head - np.mean(head)) / (spread if spread > 1e-12 else 1.0), 9)
    return _scheduled_fit(prefix.tobytes(), z.tobytes(), prefix.shape[1])


@functools.lru_cache(maxsize=32)
def _scheduled_fit(x_bytes: bytes, y_bytes: bytes, dim: int) -> Hyperparameters:
    x = np.frombuffer(x_bytes).reshape(-1, dim)
    y = np.frombuffer(y_bytes)
    seed = int.from_bytes(hashlib.blake2b(x_bytes + y_bytes, digest_size=8).digest(), "little")
    return fit_hyperparameters(x, y, np.random.default_rng(seed), restarts=1)


def fit(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Surrogate:
    """Hyperparameters on the refit schedule, then the posterior given every point."""
    return posterior(hyperparameters(x, y, rng), x, y)


# --- expected improvement --------------------------------------------------------------------

_SQRT_HALF_PI = math.sqrt(math.pi / 2)
_SQRT_TWO_PI = float(np.sqrt(2 * np.pi))
_LOG_SQRT_TWO_PI = float(np.log(_SQRT_TWO_PI))


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    """The standard normal density: the formula scipy.stats.norm.pdf evaluates (the same
    bits), without its argument checks, a sixth of a late suggestion's EI time."""
    return np.exp(-(z**2) / 2.0) / _SQRT_TWO_PI


def _normal_logpdf(z: np.ndarray) -> np.ndarray:
    return -(z**2) / 2.0 - _LOG_SQRT_TWO_PI


def log_expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float) -> np.ndarray:
    """log E[max(best - f, 0)] for f ~ N(mu, sigma²), accurate far into the tail.

    Ranking candidates by log EI keeps a useful order where plain EI underflows to 0 everywhere
    (late in a search, or far from the incumbent). EI = sigma * h(z), z = (best - mu) / sigma,
    h(z) = pdf(z) + z cdf(z); for z < -1, h(z) = pdf(z) (1 + z cdf(z) / pdf(z)), the ratio
    cdf/pdf (Mills ratio) coming from erfcx without cancellation.
    """
    z = (best - mu) / sigma
    upper = z >= -1.0
    zu = np.where(upper, z, 0.0)
    zl = np.where(upper, -2.0, z)
    log_h_upper = np.log(_normal_pdf(zu) + zu * ndtr(zu))
    mills = erfcx(-zl / math.sqrt(2)) * _SQRT_HALF_PI
    log_h_lower = _normal_logpdf(zl) + np.log1p(np.maximum(zl * mills, -1.0 + 1e-16))
    log_h = np.where(upper, log_h_upper, log_h_lower)
    return np.log(sigma) + log_h


def top_log_ei(
    model: Surrogate, x: np.ndarray, best: float, keep: int, floor: float = -math.inf
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `x` that may rank among the `keep` best by log EI, and their exact log EI.

    `floor` is the score the `keep`-th best candidate found elsewhere already has. Returns row
    indices in ascending order. Exact, but cheaper than scoring every row: the posterior
    variance (O(n^2) a row) is computed only where an upper bound on log EI (EI grows with
    sigma; `Surrogate.sigma_bound` costs O(n)) reaches the `keep`-th best exact score — first
    for the `keep` rows of highest bound, then for every other row whose bound reaches the
    threshold they set. Late in a search most candidates sit near some observation and drop out.
    """
    k = model.cross(x)
    mu = k @ model.alpha
    bound = log_expected_improvement(mu, model.sigma_bound(k), best)
    order = np.argsort(-bound, kind="stable")
    first = order[:keep][bound[order[:keep]] >= floor]
    scores = np.full(len(x), -math.inf)
    scores[first] = log_expected_improvement(mu[first], model.sigma(k[first]), best)
    threshold = max(floor, float(scores[first].min())) if len(first) >= keep else floor
    rest = order[keep:][bound[order[keep:]] >= threshold]
    if len(rest):
        scores[rest] = log_expected_improvement(mu[rest], model.sigma(k[rest]), best)
    rows = np.sort(np.concatenate([first, rest]))
    return rows, scores[rows]


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float) -> np.ndarray:
    """E[max(best - f, 0)] (minimisation), in the units of `mu` and `sigma`."""
    return np.exp(log_expected_improvement(mu, sigma, best))
