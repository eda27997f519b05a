"""The median early-stopping rule on hand-computed curves."""

from __future__ import annotations

import math

import pytest

from emulator.tuner.early_stopping import (
    RunningAverages,
    median_of_running_averages,
    should_stop,
)

# Epoch-by-epoch objective values of earlier jobs.
A = [1.0, 0.8, 0.6]
B = [2.0, 1.0, 0.9]
C = [1.2, 1.2, 1.2]
D = [0.5]
CURVES = [A, B, C, D]
# Running averages at epoch 2: A 0.9, B 1.5, C 1.2 (D never got there) -> median 1.2.
# At epoch 3: A 0.8, B 1.3, C 1.2 -> median 1.2 (the last values would give 0.9).
# At epoch 1: 1.0, 2.0, 1.2, 0.5 -> median 1.1 (the mean would be 1.175).


@pytest.mark.parametrize(
    ("epoch", "expected"), [(1, 1.1), (2, 1.2), (3, 1.2), (4, None), (0, None)]
)
def test_median_of_running_averages(epoch, expected):
    got = median_of_running_averages(epoch, CURVES)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("value", "epoch", "stop"),
    [
        (1.3, 2, True),  # worse than the median 1.2
        (1.2, 2, False),  # equal is not worse
        (1.1, 2, False),
        (1.0, 3, False),  # running averages, not last values (median of those is 0.9)
        (1.25, 3, True),
        (5.0, 1, False),  # epoch 1 is never stopped by default
    ],
)
def test_minimize(value, epoch, stop):
    assert should_stop(value, epoch, CURVES, "Minimize") is stop


@pytest.mark.parametrize(("value", "stop"), [(1.1, True), (1.2, False), (1.3, False)])
def test_maximize_stops_values_below_the_median(value, stop):
    assert should_stop(value, 2, CURVES, "Maximize") is stop


def test_true_median_not_mean_at_epoch_one_when_allowed():
    # 1.15 is worse than the median 1.1 but better than the mean 1.175.
    assert should_stop(1.15, 1, CURVES, "Minimize", min_epoch=1)


def test_needs_enough_peers_that_reached_the_epoch():
    assert not should_stop(9.0, 2, [A, B], "Minimize")
    assert should_stop(9.0, 2, [A, B], "Minimize", min_peers=2)
    assert not should_stop(9.0, 2, [A, B, D, [0.1]], "Minimize")  # D and [0.1] stop at epoch 1


def test_non_finite_values_never_stop_and_bad_peers_are_ignored():
    assert not should_stop(float("nan"), 2, CURVES, "Minimize")
    assert median_of_running_averages(2, [*CURVES, [1.0, float("nan")]]) == pytest.approx(1.2)


def test_running_averages_are_exactly_statistics_fmean():
    """The fast path must decide exactly as the documented rule: bit-equal medians."""
    import random
    import statistics

    rng = random.Random(0)
    curves = [[rng.uniform(0, 1) for _ in range(rng.randint(1, 30))] for _ in range(101)]
    for epoch in range(1, 31):
        for earlier in (curves, [c[:epoch] for c in curves]):
            averages = [statistics.fmean(c[:epoch]) for c in earlier if len(c) >= epoch]
            expected = statistics.median(averages) if len(averages) >= 3 else None
            assert median_of_running_averages(epoch, earlier) == expected


def test_running_averages_decide_exactly_as_the_rule_on_a_growing_tuning_job():
    """Jobs report epoch by epoch, interleaved; every decision equals the pure rule's."""
    import random

    from emulator.tuner.early_stopping import RunningAverages

    rng = random.Random(1)
    cache = RunningAverages()
    curves: dict[str, list[float]] = {f"job-{i}": [] for i in range(40)}
    names = list(curves)
    decisions = []
    for _ in range(600):
        index = rng.randrange(len(names))
        job = names[index]
        value = rng.uniform(0, 1) if rng.random() > 0.02 else float("nan")
        curves[job].append(value)
        step = len(curves[job])
        earlier = {n: curves[n][:step] for n in names[:index]}
        for objective in ("Minimize", "Maximize"):
            expected = should_stop(value, step, list(earlier.values()), objective)
            assert cache.should_stop(value, step, earlier, objective) == expected
            decisions.append(expected)
    assert any(decisions) and not all(decisions)


@pytest.mark.parametrize("seed", range(6))
def test_incremental_medians_decide_as_the_rule_from_scratch_on_random_histories(seed):
    """Several tuning jobs share one cache; jobs report in random order (later jobs often
    ahead of earlier ones), with ties, NaN and infinities: every decision, at every point,
    equals the from-scratch rule's, and so does every median."""
    import random

    from emulator.tuner.early_stopping import RunningAverages

    rng = random.Random(seed)
    cache = RunningAverages()
    tuning_jobs = {
        t: {f"{t}-job-{i}": [] for i in range(rng.randint(1, 30))} for t in ("a", "b", "c")
    }
    levels = [0.0, 0.25, 0.5, 0.75, 1.0, float("nan"), float("inf")]
    stops = 0
    for _ in range(1500):
        curves = tuning_jobs[rng.choice(list(tuning_jobs))]
        names = list(curves)
        index = min(int(rng.expovariate(0.15)), len(names) - 1)
        job = names[index]
        value = rng.choice(levels) if rng.random() < 0.1 else rng.choice(levels[:5])
        curves[job].append(value)
        step = len(curves[job])
        earlier = {n: curves[n][:step] for n in names[:index]}
        peers = rng.choice((1, 2, 3))
        first = rng.choice((1, 2))
        for objective in ("Minimize", "Maximize"):
            expected = should_stop(
                value, step, list(earlier.values()), objective, min_peers=peers, min_epoch=first
            )
            got = cache.should_stop(
                value, step, earlier, objective, min_peers=peers, min_epoch=first
            )
            assert got == expected
            stops += expected
    assert stops > 0


def test_a_peer_curve_without_an_average_is_left_out_not_an_error():
    """Both infinities in one curve (fsum raises ValueError) or a sum beyond the float range
    (OverflowError): that peer has no running average, and the other peers decide."""
    peers = [[0.5, 0.6], [0.5, 0.6], [0.5, 0.6], [math.inf, -math.inf], [1e308, 1e308]]
    assert should_stop(0.4, 2, peers, "Maximize")
    assert not should_stop(0.7, 2, peers, "Maximize")
    incremental = RunningAverages()
    earlier = {f"job-{i}": curve for i, curve in enumerate(peers)}
    assert incremental.should_stop(0.4, 2, earlier, "Maximize")
    assert not incremental.should_stop(0.7, 2, earlier, "Maximize")
