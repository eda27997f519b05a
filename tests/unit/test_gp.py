"""tuner.gp: the same model scikit-learn builds, exact shortcuts, and a pure refit schedule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from emulator.tuner import gp


def data(n: int, dim: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, dim))
    y = np.sin(5 * x[:, 0]) + x[:, 1] ** 2 + 0.05 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std()


PARAMS = gp.Hyperparameters(1.3, (0.2, 0.5, 2.0), 0.01)


def sklearn_model(x: np.ndarray, y: np.ndarray) -> GaussianProcessRegressor:
    kernel = ConstantKernel(PARAMS.amplitude) * Matern(
        list(PARAMS.length_scales), nu=2.5
    ) + WhiteKernel(PARAMS.noise)
    return GaussianProcessRegressor(kernel, alpha=gp.JITTER, optimizer=None).fit(x, y)


def test_posterior_matches_scikit_learn():
    x, y = data(30)
    test = np.random.default_rng(1).random((7, 3))
    mu, sigma = gp.posterior(PARAMS, x, y).predict(test)
    ref_mu, ref_sigma = sklearn_model(x, y).predict(test, return_std=True)
    assert np.allclose(mu, ref_mu, atol=1e-10)
    assert np.allclose(sigma, np.sqrt(ref_sigma**2 - PARAMS.noise), atol=1e-10)  # noise-free


def test_fitted_hyperparameters_are_a_posterior_maximum():
    """The fit lands where likelihood times prior is higher than at its start, within bounds."""
    x, y = data(40)
    ours = gp.fit_hyperparameters(x, y, np.random.default_rng(1), restarts=1)
    model = sklearn_model(x, y)

    def log_posterior(theta: np.ndarray) -> float:
        return float(model.log_marginal_likelihood(theta)) + gp.log_prior(theta)[0]

    start = gp.Hyperparameters.start(3)
    assert log_posterior(np.log([ours.amplitude, *ours.length_scales, ours.noise])) > (
        log_posterior(start.log()) + 1.0
    )
    assert all(
        gp.LENGTH_SCALE_BOUNDS[0] <= v <= gp.LENGTH_SCALE_BOUNDS[1] for v in ours.length_scales
    )
    assert gp.NOISE_BOUNDS[0] <= ours.noise <= gp.NOISE_BOUNDS[1]


def test_log_prior_gradient_matches_finite_differences():
    theta = np.log([1.7, 0.05, 0.4, 3.0, 2e-3])
    value, grad = gp.log_prior(theta)
    step = 1e-6
    numeric = [
        (gp.log_prior(theta + e)[0] - gp.log_prior(theta - e)[0]) / (2 * step)
        for e in np.eye(len(theta)) * step
    ]
    assert np.isfinite(value)
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_log_prior_prefers_length_scales_near_the_cube_size():
    def at(length_scale: float) -> float:
        return gp.log_prior(np.log([1.0, length_scale, 1e-3]))[0]

    assert at(1.0) > at(0.3) > at(0.05)
    assert at(1.0) > at(3.0) > at(20.0)


def test_the_prior_keeps_few_points_in_6d_off_the_length_scale_bounds(monkeypatch):
    """Eight points in six dimensions: the likelihood alone calls some coordinate irrelevant
    (length scale at its upper bound); with the prior every length scale stays moderate."""
    rng = np.random.default_rng(3)
    x = rng.random((8, 6))
    y = np.sin(4 * x[:, 0]) + (x[:, 1] - 0.5) ** 2 + 0.3 * x[:, 2] * x[:, 3]
    y = (y - y.mean()) / y.std()
    with_prior = gp.fit_hyperparameters(x, y, np.random.default_rng(0), restarts=3)
    assert all(0.1 < v < 5.0 for v in with_prior.length_scales)
    monkeypatch.setattr(gp, "LENGTH_SCALE_PRIOR", 0.0)
    without = gp.fit_hyperparameters(x, y, np.random.default_rng(0), restarts=3)
    assert max(without.length_scales) > 0.9 * gp.LENGTH_SCALE_BOUNDS[1]


def test_condition_equals_refactorising_all_points():
    x, y = data(25)
    extra = np.random.default_rng(2).random((4, 3))
    grown = gp.posterior(PARAMS, x, y).condition(extra, np.array([0.1, -0.3, 0.0, 2.0]))
    full = gp.posterior(PARAMS, np.vstack([x, extra]), np.concatenate([y, [0.1, -0.3, 0.0, 2.0]]))
    test = np.random.default_rng(3).random((9, 3))
    for a, b in zip(grown.predict(test), full.predict(test), strict=True):
        assert np.allclose(a, b, atol=1e-10)


def test_conditioning_on_a_duplicate_point_still_works():
    x, y = data(10)
    grown = gp.posterior(PARAMS, x, y).condition(x[:2], y[:2])
    assert np.all(np.isfinite(grown.predict(x)[1]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [5, 60, 200])
def test_top_log_ei_finds_exactly_the_best_rows(seed, n):
    x, y = data(n, seed=seed)
    model = gp.posterior(PARAMS, x, y)
    rng = np.random.default_rng(seed + 100)
    candidates = np.vstack([rng.random((1500, 3)), x[np.argmin(y)] + rng.normal(0, 0.05, (500, 3))])
    full = gp.log_expected_improvement(*model.predict(candidates), float(y.min()))
    best_first = np.argsort(-full, kind="stable")
    rows, scores = gp.top_log_ei(model, candidates, float(y.min()), keep=64)
    assert set(best_first[:64]) <= set(rows)
    assert np.allclose(scores, full[rows])
    floor = float(full[best_first[10]])
    rows, scores = gp.top_log_ei(model, candidates, float(y.min()), keep=64, floor=floor)
    assert set(best_first[:11]) <= set(rows)
    assert np.allclose(scores, full[rows])


def test_sigma_bound_is_an_upper_bound():
    x, y = data(80)
    model = gp.posterior(PARAMS, x, y)
    k = model.cross(np.random.default_rng(4).random((2000, 3)))
    assert np.all(model.sigma_bound(k) >= model.sigma(k))


def test_refit_schedule_grows_geometrically():
    sizes = [gp.refit_size(n) for n in range(1, 600)]
    assert sizes[:63] == list(range(1, 64))
    assert sizes == sorted(sizes)
    distinct = sorted(set(sizes[63:]))
    assert 10 <= len(distinct) <= 14
    assert all(b / a <= gp.REFIT_GROWTH + 0.02 for a, b in itertools.pairwise(distinct))


def test_scheduled_fit_depends_only_on_the_first_points_and_not_on_the_cache():
    x, y = data(120, seed=5)
    size = gp.refit_size(120)
    first = gp.hyperparameters(x, y, np.random.default_rng(0))
    changed_tail = y.copy()
    changed_tail[size:] = 3.0
    affine = 2.5 * y + 7.0  # the caller's standardisation moves as data arrive
    assert gp.hyperparameters(x, changed_tail, np.random.default_rng(1)) == first
    assert gp.hyperparameters(x, affine, np.random.default_rng(2)) == first
    gp._scheduled_fit.cache_clear()
    assert gp.hyperparameters(x, y, np.random.default_rng(3)) == first


def test_below_the_schedule_every_call_fits_with_the_callers_rng():
    x, y = data(30, seed=6)
    a = gp.hyperparameters(x, y, np.random.default_rng(0))
    assert gp.hyperparameters(x, y, np.random.default_rng(0)) == a
    assert gp.hyperparameters(x[:29], y[:29], np.random.default_rng(0)) != a
