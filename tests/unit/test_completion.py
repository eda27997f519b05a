"""Completion criteria and the not-improving counter."""

from __future__ import annotations

import pytest

from emulator.tuner.completion import (
    CONVERGENCE,
    NOT_IMPROVING,
    TARGET,
    check_completion,
    convergence_window,
    improves,
    jobs_not_improving,
)


@pytest.mark.parametrize(
    ("value", "best", "objective", "expected"),
    [
        (9.0, 10.0, "Minimize", True),
        (9.9, 10.0, "Minimize", True),  # exactly 1%
        (9.95, 10.0, "Minimize", False),  # 0.5%
        (-10.1, -10.0, "Minimize", True),  # 1% of |best| for negative values
        (11.0, 10.0, "Minimize", False),
        (10.1, 10.0, "Maximize", True),
        (10.05, 10.0, "Maximize", False),
        (-0.001, 0.0, "Minimize", True),  # best 0: any strict improvement
        (0.0, 0.0, "Minimize", False),
        (123.0, None, "Maximize", True),
    ],
)
def test_improves_by_one_percent(value, best, objective, expected):
    assert improves(value, best, objective) is expected


def test_jobs_not_improving_counts_since_last_real_improvement():
    # 10 sets the best; 9.95 and 9.92 creep below 1%; 8 improves; 7.99 does not; a failure neither.
    assert jobs_not_improving([10.0, 9.95, 9.92], "Minimize") == 2
    assert jobs_not_improving([10.0, 9.95, 9.92, 8.0, 7.99, None], "Minimize") == 2
    assert jobs_not_improving([None, None, 1.0], "Maximize") == 0  # no best before the first value
    assert jobs_not_improving([], "Maximize") == 0
    assert jobs_not_improving([1.0, 2.0, 1.5, 2.01], "Maximize") == 2


def test_small_gains_still_move_the_best():
    # 9.95 becomes the best, so 9.9 (0.5% below it) is not an improvement either.
    assert jobs_not_improving([10.0, 9.95, 9.9], "Minimize") == 2


@pytest.mark.parametrize(
    ("values", "objective", "fired"),
    [
        ([0.5, 0.2], "Minimize", True),
        ([0.5, 0.21], "Minimize", False),
        ([0.5, 0.2, None], "Maximize", False),
        ([0.1, 0.7], "Maximize", True),
    ],
)
def test_target_objective_value(values, objective, fired):
    target = 0.2 if objective == "Minimize" else 0.7
    result = check_completion({TARGET: target}, values, objective, 3)
    assert (result is not None and result.criterion == TARGET) is fired


def test_best_objective_not_improving():
    criteria = {NOT_IMPROVING: {"MaxNumberOfTrainingJobsNotImproving": 3}}
    assert check_completion(criteria, [1.0, 1.1, 1.2], "Minimize", 2) is None
    result = check_completion(criteria, [1.0, 1.1, 1.2, None], "Minimize", 2)
    assert result is not None and result.criterion == NOT_IMPROVING and "3" in result.reason


def test_convergence_window_and_switch():
    assert convergence_window(2) == 10
    assert convergence_window(4) == 12
    enabled = {CONVERGENCE: {"CompleteOnConvergence": "Enabled"}}
    plateau = [1.0] + [1.0] * 12
    assert check_completion(enabled, plateau[:12], "Minimize", 4) is None
    result = check_completion(enabled, plateau, "Minimize", 4)
    assert result is not None and result.criterion == CONVERGENCE
    disabled = {CONVERGENCE: {"CompleteOnConvergence": "Disabled"}}
    assert check_completion(disabled, plateau, "Minimize", 4) is None


def test_first_matching_criterion_is_reported():
    criteria = {
        TARGET: 1.0,
        NOT_IMPROVING: {"MaxNumberOfTrainingJobsNotImproving": 3},
        CONVERGENCE: {"CompleteOnConvergence": "Enabled"},
    }
    plateau = [1.0] * 20
    assert check_completion(criteria, plateau, "Minimize", 1).criterion == TARGET
    assert check_completion(criteria, [2.0] * 20, "Minimize", 1).criterion == NOT_IMPROVING
    assert check_completion(None, plateau, "Minimize", 1) is None
