"""Warm start: mapping parents' jobs into the child's space, and the change checks."""

from __future__ import annotations

import pytest

from emulator.tuner.model import Observation
from emulator.tuner.space import SearchSpace
from emulator.tuner.warm_start import (
    IDENTICAL,
    TRANSFER,
    Definition,
    ParentJobs,
    map_config,
    normalised_ranks,
    prior_observations,
    static_changes,
    validate_warm_start,
)


def _space(**kinds):
    ranges: dict[str, list] = {}
    for name, spec in kinds.items():
        if isinstance(spec, list):
            ranges.setdefault("CategoricalParameterRanges", []).append(
                {"Name": name, "Values": spec}
            )
        else:
            kind, low, high = spec
            ranges.setdefault(f"{kind}ParameterRanges", []).append(
                {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": "Linear"}
            )
    return SearchSpace.from_parameter_ranges(ranges)


CHILD = _space(
    lr=("Continuous", "0.1", "0.5"),
    depth=("Integer", "2", "8"),
    opt=["sgd", "adam"],
    width=("Integer", "10", "20"),
)


def test_map_config_clips_drops_and_fills():
    config = {"lr": "0.9", "depth": "1", "opt": "adam", "dropout": "0.3"}
    # lr and depth clipped; dropout (static in the child) dropped; width: the parent's static
    # value 40, clipped to 20.
    assert map_config(config, {"width": "40"}, CHILD) == {
        "lr": "0.5",
        "depth": "2",
        "opt": "adam",
        "width": "20",
    }
    # width set nowhere: midpoint of 10..20.
    assert map_config(config, {}, CHILD)["width"] == "15"
    assert map_config(config | {"opt": "rmsprop"}, {}, CHILD) is None


def test_identical_keeps_values_and_drops_failures():
    parent = ParentJobs(
        [
            Observation({"lr": "0.2", "depth": "3", "opt": "sgd", "width": "12"}, 0.7, (0.9, 0.7)),
            Observation({"lr": "0.3", "depth": "3", "opt": "sgd", "width": "12"}, None),
            Observation({"lr": "0.3", "depth": "3", "opt": "adagrad", "width": "12"}, 0.1),
        ]
    )
    prior = prior_observations(IDENTICAL, [parent], CHILD)
    assert prior == (
        Observation({"lr": "0.2", "depth": "3", "opt": "sgd", "width": "12"}, 0.7, (0.9, 0.7)),
    )


def test_transfer_learning_ranks_within_each_parent():
    def jobs(values):
        return ParentJobs(
            [
                Observation({"lr": "0.2", "depth": "3", "opt": "sgd", "width": "12"}, v, (v,))
                for v in values
            ]
        )

    prior = prior_observations(TRANSFER, [jobs([0.3, 0.1, 0.2]), jobs([300.0, 100.0])], CHILD)
    assert [o.value for o in prior] == [1.0, 0.0, 0.5, 1.0, 0.0]
    assert all(o.curve == () for o in prior)
    assert prior_observations(TRANSFER, [jobs([])], CHILD) == ()


def test_prior_rejects_unknown_type():
    with pytest.raises(ValueError, match="WarmStartType"):
        prior_observations("Sideways", [], CHILD)


def test_normalised_ranks_average_ties():
    assert normalised_ranks([5.0]) == [0.5]
    assert normalised_ranks([3.0, 1.0, 3.0, 2.0]) == [
        pytest.approx(5 / 6),
        0.0,
        pytest.approx(5 / 6),
        pytest.approx(1 / 3),
    ]


PARENT = Definition(
    _space(lr=("Continuous", "0.1", "0.5"), opt=["sgd", "adam", "rmsprop"]),
    {"epochs": "10", "batch": "32", "_tuning_objective_metric": "loss"},
)


def test_validate_accepts_moving_a_tunable_to_static_within_the_limit():
    child = Definition(_space(opt=["sgd", "adam"]), {"epochs": "10", "batch": "64", "lr": "0.2"})
    assert static_changes(PARENT, child) == 2  # lr became static, batch changed value
    assert validate_warm_start(PARENT, child) is None


def test_validate_counts_each_categorical_value():
    child = Definition(
        _space(lr=("Continuous", "0.1", "0.9")), {"epochs": "10", "batch": "32", "opt": "sgd"}
    )
    assert static_changes(PARENT, child) == 3


def test_validate_rejects_type_and_count_changes():
    retyped = Definition(_space(lr=("Integer", "1", "5"), opt=["sgd"]), PARENT.static)
    assert "type of hyperparameter lr" in validate_warm_start(PARENT, retyped)
    fewer = Definition(PARENT.space, {"epochs": "10"})
    assert "total number" in validate_warm_start(PARENT, fewer)


def test_validate_rejects_more_than_ten_changes():
    many = {f"h{i}": "1" for i in range(12)}
    parent = Definition(PARENT.space, many)
    child = Definition(PARENT.space, dict.fromkeys(many, "2"))
    assert static_changes(parent, child) == 12
    assert "limit of 10" in validate_warm_start(parent, child)
