"""Gaussian-process surrogate and expected improvement over the unit hypercube.

The model sees points already encoded by `SearchSpace` (scaled axes, one-hot categoricals) and
targets already standardised by the caller, always to be *minimised*. The kernel is
`Constant * Matern(nu=2.5, one length scale per coordinate) + White`: nu=2.5 assumes a function
twice differentiable, not infinitely smooth (training curves of learning rate rarely are); the
per-coordinate (ARD) length scales let irrelevant hyperparameters fade out; the white noise
absorbs run-to-run variation of real training jobs.

Kernel hyperparameters are refitted on every call (strategies keep no state), so the fit is kept
cheap: a bounded number of L-BFGS-B iterations, few restarts, and at most `MAX_FIT_POINTS`
observations for the fit itself (the best half and an even spread of the rest). The posterior
then conditions on *all* points with those hyperparameters, which costs one Cholesky
factorisation — also how fantasies for pending jobs are added (`Surrogate.condition`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfcx, ndtr
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

MAX_FIT_POINTS = 80
"""Observations used to fit kernel hyperparameters (the posterior always uses all of them)."""
FIT_MAXITER = 60
"""L-BFGS-B iterations per start: the likelihood surface rarely needs more to get close enough."""
LENGTH_SCALE_BOUNDS = (0.01, 20.0)
"""In units of the unit cube: from 1% of a range up to "this coordinate does not matter"."""
NOISE_BOUNDS = (1e-6, 0.2)
"""White-noise variance in standardised units: keep the model from calling everything noise."""


def _kernel(dim: int) -> Kernel:
    matern = Matern(length_scale=np.full(dim, 0.3), length_scale_bounds=LENGTH_SCALE_BOUNDS, nu=2.5)
    return ConstantKernel(1.0, (0.05, 20.0)) * matern + WhiteKernel(1e-3, NOISE_BOUNDS)


def _bounded_lbfgs(obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray) -> Any:
    """scikit-learn's default optimiser with an iteration cap, to bound the time per call."""
    result = minimize(
        obj_func,
        initial_theta,
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        options={"maxiter": FIT_MAXITER},
    )
    return result.x, result.fun


@dataclass(frozen=True)
class Surrogate:
    """A fitted posterior: mean and standard deviation of the standardised objective."""

    gp: GaussianProcessRegressor

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, sigma = self.gp.predict(np.atleast_2d(x), return_std=True)
        return np.asarray(mu), np.maximum(np.asarray(sigma), 1e-9)

    def condition(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        """The posterior given extra points (fantasies), with the same kernel hyperparameters."""
        train_x = np.vstack([self.gp.X_train_, np.atleast_2d(x)])
        train_y = np.concatenate([self.gp.y_train_, np.atleast_1d(y)])
        return _posterior(self.gp.kernel_, train_x, train_y)


def _posterior(kernel: Kernel, x: np.ndarray, y: np.ndarray) -> Surrogate:
    gp = GaussianProcessRegressor(kernel=kernel, optimizer=None, alpha=1e-8, normalize_y=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return Surrogate(gp)


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


def fit(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Surrogate:
    """Fit kernel hyperparameters to (x, y), then condition on every point.

    Restarts shrink as data grows (3 random starts below 20 points, 1 below 60, none after):
    with few points the likelihood is multi-modal and the fit is cheap; with many the default
    start is already good and each evaluation costs more.
    """
    restarts = 3 if len(y) < 20 else 1 if len(y) < 60 else 0
    subset = _fit_subset(y, rng)
    gp = GaussianProcessRegressor(
        kernel=_kernel(x.shape[1]),
        optimizer=_bounded_lbfgs,
        n_restarts_optimizer=restarts,
        alpha=1e-8,
        normalize_y=False,
        random_state=int(rng.integers(2**31)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x[subset], y[subset])
    if len(subset) == len(y):
        return Surrogate(gp)
    return _posterior(gp.kernel_, x, y)


_SQRT_HALF_PI = math.sqrt(math.pi / 2)


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
    log_h_upper = np.log(norm.pdf(zu) + zu * ndtr(zu))
    mills = erfcx(-zl / math.sqrt(2)) * _SQRT_HALF_PI
    log_h_lower = norm.logpdf(zl) + np.log1p(np.maximum(zl * mills, -1.0 + 1e-16))
    log_h = np.where(upper, log_h_upper, log_h_lower)
    return np.log(sigma) + log_h


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float) -> np.ndarray:
    """E[max(best - f, 0)] (minimisation), in the units of `mu` and `sigma`."""
    return np.exp(log_expected_improvement(mu, sigma, best))
