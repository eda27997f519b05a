"""Hyperband: rungs, brackets, MaxResource inference and asynchronous rung decisions."""

from __future__ import annotations

import pytest

from emulator.tuner.hyperband import (
    HyperbandSettings,
    decide,
    infer_max_resource,
    rung_values,
)

SETTINGS = HyperbandSettings(min_resource=1, max_resource=27)


@pytest.mark.parametrize(
    ("low", "high", "rungs"),
    [(1, 27, (1, 3, 9)), (1, 10, (1, 3, 9)), (2, 20, (2, 6, 18)), (5, 5, ()), (9, 3, ())],
)
def test_rungs(low, high, rungs):
    assert HyperbandSettings(low, high).rungs == rungs


def test_brackets_follow_hyperband_proportions():
    assert SETTINGS.num_brackets == 4
    assert SETTINGS.bracket_rungs(0) == (1, 3, 9)
    assert SETTINGS.bracket_rungs(2) == (9,)
    assert SETTINGS.bracket_rungs(3) == ()
    # ceil(27/4)=7, ceil(9/3)=3, ceil(3/2)=2, ceil(1/1)=1 jobs per 13-job cycle.
    got = [SETTINGS.bracket_for(i) for i in range(14)]
    assert got == [0] * 7 + [1] * 3 + [2] * 2 + [3] + [0]
    assert HyperbandSettings(4, 4).bracket_for(5) == 0


@pytest.mark.parametrize(
    ("static", "expected"),
    [
        ({"epochs": "12"}, 12),
        ({"num_epochs": "7", "batch": "3"}, 7),
        ({"epochs": "x", "n-epochs": "4"}, 4),  # unparsable keys are skipped
        ({"numepochs": '"15"'}, 15),  # JSON-quoted, as the SDK sends framework values
        ({"n_epochs": "50000"}, 20_000),  # capped
        ({"epochs": "0"}, None),
        ({"iterations": "5"}, None),
    ],
)
def test_infer_max_resource(static, expected):
    assert infer_max_resource(static) == expected


def test_settings_from_api():
    explicit = {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 30}}
    assert HyperbandSettings.from_api(explicit, {"epochs": "5"}) == HyperbandSettings(2, 30)
    assert HyperbandSettings.from_api(None, {"epochs": "5"}) == HyperbandSettings(1, 5)
    with pytest.raises(ValueError, match="MaxResource"):
        HyperbandSettings.from_api({"HyperbandStrategyConfig": {"MinResource": 1}}, {})


def test_rung_values_reads_the_value_at_each_rung_epoch():
    curves = [[5.0, 4.0, 3.0, 2.0], [6.0, 5.5], [7.0, 6.0, 5.0]]
    assert rung_values(curves, (1, 3, 9)) == {1: [5.0, 6.0, 7.0], 3: [3.0, 5.0], 9: []}


# Others in bracket 0 reported these at rung 1; with our value there are 6, so the top 2 go on.
AT_RUNG_1 = {1: [0.5, 0.7, 0.9, 1.1, 1.3]}


def _decide(epoch, value, objective="Minimize", bracket=0, values=AT_RUNG_1):
    return decide(
        epoch,
        value,
        bracket=bracket,
        values_at_rungs=values,
        objective_type=objective,
        settings=SETTINGS,
    )


@pytest.mark.parametrize(
    ("value", "objective", "stop"),
    [
        (0.6, "Minimize", False),  # one better (0.5): in the top 2
        (0.8, "Minimize", True),  # two better: out
        (0.5, "Minimize", False),  # ties are not better
        (1.2, "Maximize", False),  # one better (1.3)
        (1.0, "Maximize", True),  # two better (1.1, 1.3)
    ],
)
def test_rung_decision(value, objective, stop):
    decision = _decide(1, value, objective)
    assert decision.stop is stop
    assert ("rung 1" in decision.reason) is stop


def test_no_decision_between_rungs_or_before_a_brackets_first_rung():
    assert not _decide(2, 99.0).stop
    assert not _decide(1, 99.0, bracket=1).stop
    assert _decide(3, 99.0, bracket=1, values={3: [1.0]}).stop


def test_first_job_at_a_rung_always_continues():
    assert not _decide(3, 99.0, values={}).stop


def test_stops_at_max_resource_whatever_the_value():
    decision = _decide(27, 0.0)
    assert decision.stop and "MaxResource" in decision.reason


def test_nan_at_a_rung_stops():
    assert _decide(1, float("nan")).stop


def test_about_a_third_survive_a_rung_in_arrival_order():
    # Values arrive in random order; ASHA keeps roughly the top third of each prefix.
    values = [((i * 37) % 101) / 101 for i in range(300)]
    kept = sum(not _decide(1, v, values={1: values[:i]}).stop for i, v in enumerate(values))
    assert 0.3 * len(values) < kept < 0.45 * len(values)
