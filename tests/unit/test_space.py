"""SearchSpace: parsing ParameterRanges, the unit-cube encoding, sampling and the grid."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emulator.tuner.space import (
    CategoricalParam,
    ContinuousParam,
    IntegerParam,
    SearchSpace,
    clip_value,
    midpoint,
)

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.00001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
        {
            "Name": "momentum",
            "MinValue": "0.9",
            "MaxValue": "0.999",
            "ScalingType": "ReverseLogarithmic",
        },
        {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5", "ScalingType": "Linear"},
    ],
    "IntegerParameterRanges": [
        {"Name": "epochs", "MinValue": "1", "MaxValue": "4", "ScalingType": "Linear"},
        {"Name": "batch", "MinValue": "8", "MaxValue": "1024", "ScalingType": "Logarithmic"},
    ],
    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop"]}],
}
SPACE = SearchSpace.from_parameter_ranges(RANGES)


def _numeric(name: str, low: str, high: str, scaling: str | None, kind: str = "Continuous"):
    spec = {"Name": name, "MinValue": low, "MaxValue": high}
    if scaling is not None:
        spec["ScalingType"] = scaling
    return SearchSpace.from_parameter_ranges({f"{kind}ParameterRanges": [spec]}).params[0]


def test_parses_every_kind_in_order():
    assert SPACE.names == ("lr", "momentum", "dropout", "epochs", "batch", "optimizer")
    assert SPACE.params[0] == ContinuousParam("lr", 1e-5, 0.1, "Logarithmic")
    assert SPACE.params[3] == IntegerParam("epochs", 1, 4, "Linear")
    assert SPACE.params[5] == CategoricalParam("optimizer", ("sgd", "adam", "rmsprop"))
    assert SPACE.dim == 5 + 3


@pytest.mark.parametrize(
    ("low", "high", "scaling", "expected"),
    [
        ("0.001", "0.1", None, "Logarithmic"),  # ratio exactly 100
        ("0.001", "0.099", "Auto", "Linear"),  # ratio just below 100
        ("0", "1000", "Auto", "Linear"),  # not all positive
        ("-1", "1000", None, "Linear"),
        ("1", "2", "ReverseLogarithmic", None),  # invalid: outside [0, 1)
    ],
)
def test_auto_scaling_and_reverse_log_bounds(low, high, scaling, expected):
    if expected is None:
        with pytest.raises(ValueError, match="ReverseLogarithmic"):
            _numeric("x", low, high, scaling)
    else:
        assert _numeric("x", low, high, scaling).scaling == expected


def test_auto_scaling_applies_to_integers():
    assert _numeric("n", "1", "100", None, "Integer").scaling == "Logarithmic"
    assert _numeric("n", "1", "99", None, "Integer").scaling == "Linear"


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                ]
            },
            "greater than 0",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {
                        "Name": "n",
                        "MinValue": "0",
                        "MaxValue": "0",
                        "ScalingType": "ReverseLogarithmic",
                    }
                ]
            },
            "not supported for integer",
        ),
        (
            {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]},
            "not an integer",
        ),
        (
            {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "2", "MaxValue": "1"}]},
            "greater than MaxValue",
        ),
        (
            {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "a", "MaxValue": "1"}]},
            "hyperparameter x",
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Cubic"}
                ]
            },
            "unknown ScalingType",
        ),
        ({"CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "a"]}]}, "distinct"),
        (
            {
                "CategoricalParameterRanges": [{"Name": "c", "Values": ["a"]}],
                "IntegerParameterRanges": [{"Name": "c", "MinValue": "1", "MaxValue": "2"}],
            },
            "more than once",
        ),
    ],
)
def test_rejects_invalid_ranges(ranges, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace.from_parameter_ranges(ranges)


def test_values_are_formatted_as_sagemaker_reports_them():
    config = SPACE.decode(np.zeros(SPACE.dim))
    assert config["lr"] == "0.00001"  # plain decimal, no exponent
    assert config["epochs"] == "1"
    assert config["batch"] == "8"
    assert config["optimizer"] == "sgd"
    top = SPACE.decode(np.ones(SPACE.dim))
    assert (top["lr"], top["momentum"], top["epochs"], top["batch"]) == (
        "0.1",
        "0.999",
        "4",
        "1024",
    )


def test_encode_is_in_the_scaled_axis():
    x = SPACE.encode(
        {
            "lr": "0.001",
            "momentum": "0.99",
            "dropout": "0.25",
            "epochs": "1",
            "batch": "8",
            "optimizer": "adam",
        }
    )
    assert x[0] == pytest.approx(0.5)  # 1e-3 is halfway between 1e-5 and 1e-1 in log
    assert x[1] == pytest.approx(0.5)  # 1-0.99 is halfway between 1-0.9 and 1-0.999 in log
    assert x[2] == pytest.approx(0.5)
    assert x[3] == pytest.approx(0.5 / 4)  # integer 1 owns the first quarter of [0, 1]
    assert list(x[5:]) == [0.0, 1.0, 0.0]


def test_encode_rejects_unknown_category():
    config = SPACE.sample(np.random.default_rng(0), 1)[0] | {"optimizer": "adagrad"}
    with pytest.raises(ValueError, match="adagrad"):
        SPACE.encode(config)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, SPACE.dim, elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_decode_always_gives_a_valid_in_range_config(x):
    config = SPACE.decode(x)
    assert SPACE.contains(config), config
    assert all("e" not in config[n].lower() for n in ("lr", "momentum", "dropout"))


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, SPACE.dim, elements=st.floats(-2, 3)))
def test_decode_encode_round_trips(x):
    config = SPACE.decode(x)
    assert SPACE.decode(SPACE.encode(config)) == config
    back = SPACE.encode(config)
    clipped = np.clip(x, 0, 1)
    assert back[:3] == pytest.approx(clipped[:3], abs=1e-9)  # continuous: exact up to float error
    assert np.all(np.abs(back[3:5] - clipped[3:5]) <= 0.5 / 4 + 1e-9)  # integers: half a step


def test_sample_is_deterministic_per_seed_and_honours_scaling():
    a = SPACE.sample(np.random.default_rng(7), 4000)
    assert a[:5] == SPACE.sample(np.random.default_rng(7), 5)
    assert a[:5] != SPACE.sample(np.random.default_rng(8), 5)
    lr = np.array([float(c["lr"]) for c in a])
    momentum = np.array([float(c["momentum"]) for c in a])
    dropout = np.array([float(c["dropout"]) for c in a])
    assert np.mean(lr < 1e-3) == pytest.approx(0.5, abs=0.04)  # log: median at geometric mean
    assert np.mean(momentum < 0.99) == pytest.approx(0.5, abs=0.04)  # reverse log
    assert np.mean(dropout < 0.25) == pytest.approx(0.5, abs=0.04)  # linear
    for name, n_values in (("epochs", 4), ("optimizer", 3)):
        counts = Counter(c[name] for c in a)
        assert len(counts) == n_values
        assert all(abs(k / len(a) - 1 / n_values) < 0.04 for k in counts.values()), counts
    batch = np.array([math.log(int(c["batch"])) for c in a])
    assert np.median(batch) == pytest.approx(math.log(math.sqrt(8 * 1024)), abs=0.3)


def test_contains_checks_names_and_ranges():
    good = SPACE.decode(np.full(SPACE.dim, 0.3))
    assert SPACE.contains(good)
    assert not SPACE.contains({k: v for k, v in good.items() if k != "lr"})
    assert not SPACE.contains(good | {"extra": "1"})
    assert not SPACE.contains(good | {"lr": "0.2"})
    assert not SPACE.contains(good | {"epochs": "2.5"})
    assert not SPACE.contains(good | {"epochs": "five"})
    assert not SPACE.contains(good | {"optimizer": "adagrad"})
    assert SPACE.contains(good | {"epochs": "2.0"})  # integral float text is still an integer


def test_degenerate_range_decodes_to_its_single_value():
    space = SearchSpace.from_parameter_ranges(
        {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.5", "MaxValue": "0.5"}]}
    )
    assert space.decode(np.array([0.9])) == {"x": "0.5"}
    assert space.encode({"x": "0.5"}) == pytest.approx([0.5])


def test_grid_lists_every_combination_once_in_order():
    space = SearchSpace.from_parameter_ranges(
        {
            "CategoricalParameterRanges": [
                {"Name": "a", "Values": ["1", "2"]},
                {"Name": "b", "Values": ["x", "y", "z"]},
            ]
        }
    )
    grid = space.grid()
    assert grid == [{"a": a, "b": b} for a in ("1", "2") for b in ("x", "y", "z")]
    assert len({tuple(sorted(c.items())) for c in grid}) == 6


def test_grid_needs_only_categoricals():
    with pytest.raises(ValueError, match="categorical"):
        SPACE.grid()


def test_midpoint_and_clip_value():
    lr, _, dropout, epochs, _, optimizer = SPACE.params
    assert float(midpoint(lr)) == pytest.approx(1e-3)
    assert midpoint(dropout) == "0.25"
    assert midpoint(epochs) in ("2", "3")
    assert midpoint(optimizer) == "adam"
    assert clip_value(lr, "5") == "0.1"
    assert clip_value(epochs, "-3") == "1"
    assert clip_value(epochs, "2.6") == "3"
    assert clip_value(optimizer, "adagrad") is None
    assert clip_value(dropout, "n/a") is None
