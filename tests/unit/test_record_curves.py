"""The curve recorder's pure parts: sampling the search space and cutting logs into epochs."""

from __future__ import annotations

import math

from agents.metrics import MetricExtractor
from fixtures.record_curves import CURVE_SETS, Param, Run, configurations, epochs_of, header, rows


def test_log_scale_values_span_the_range_evenly_in_log_space():
    rate = Param("learning_rate", "continuous", 1e-5, 1.0, "log")
    assert float(rate.value(0.0)) == 1e-5
    assert math.isclose(float(rate.value(0.5)), 10**-2.5, rel_tol=1e-5)
    assert math.isclose(float(rate.value(0.999999)), 1.0, rel_tol=1e-4)


def test_integer_and_categorical_values_cover_every_choice_equally():
    batch = Param("mini_batch_size", "integer", 16, 19)
    optimizer = Param("optimizer", "categorical", values=("sgd", "adam", "rmsprop", "nag"))
    grid = [(i + 0.5) / 8 for i in range(8)]
    assert [batch.value(u) for u in grid] == ["16", "16", "17", "17", "18", "18", "19", "19"]
    assert sorted({optimizer.value(u) for u in grid}) == ["adam", "nag", "rmsprop", "sgd"]


def test_configurations_are_reproducible_and_stratified():
    space = CURVE_SETS["image-classification"].space
    first, again = configurations(space, 40, seed=3), configurations(space, 40, seed=3)
    assert first == again
    assert first != configurations(space, 40, seed=4)
    rates = sorted(math.log10(float(c["learning_rate"])) for c in first)
    # A Latin hypercube puts one point in each of the 40 equal strata of log10(rate).
    strata = [int((r + 5) / 5 * 40) for r in rates]
    assert strata == list(range(40))
    counts = {name: sum(c["optimizer"] == name for c in first) for name in ("sgd", "nag")}
    assert counts == {"sgd": 10, "nag": 10}


def test_epochs_close_at_the_epoch_metric_with_their_times():
    definitions = [
        {"Name": "train:accuracy", "Regex": r".*Train-accuracy=(\S*)"},
        {"Name": "validation:accuracy", "Regex": r".*Validation-accuracy=(\S*)"},
    ]
    log = [
        (3.0, 1.0, "Epoch[0] Train-accuracy=0.5"),
        (3.2, 1.1, "Epoch[0] Validation-accuracy=0.4"),
        (4.0, 1.5, "noise"),
        (4.1, 1.6, "Epoch[1] Train-accuracy=0.7"),
        (4.3, 1.7, "Epoch[1] Validation-accuracy=0.6"),
        (4.4, 1.8, "Epoch[2] Train-accuracy=0.8"),
    ]
    epochs = list(
        epochs_of(iter(log), MetricExtractor.from_definitions(definitions), "validation:accuracy")
    )
    assert epochs == [
        {
            "train:accuracy": 0.5,
            "validation:accuracy": 0.4,
            "elapsed_seconds": 3.2,
            "cpu_seconds": 1.1,
        },
        {
            "train:accuracy": 0.7,
            "validation:accuracy": 0.6,
            "elapsed_seconds": 4.3,
            "cpu_seconds": 1.7,
        },
    ]


def test_rows_hold_totals_epoch_shares_configuration_and_metrics():
    curve_set = CURVE_SETS["image-classification"]
    config = {"learning_rate": "0.1", "mini_batch_size": "32", "optimizer": "sgd"}
    config |= {"momentum": "0.9", "weight_decay": "0.0001"}
    run = Run(7, config)
    run.epochs = [
        {"validation:accuracy": 0.4, "elapsed_seconds": 3.0, "cpu_seconds": 1.0},
        {
            "validation:accuracy": 0.6,
            "train:accuracy": 0.7,
            "elapsed_seconds": 4.5,
            "cpu_seconds": 1.25,
        },
    ]
    table = [dict(zip(header(curve_set), row, strict=True)) for row in rows(curve_set, run)]
    assert table[1]["epoch"] == 2
    assert table[1]["elapsed_seconds"] == "4.500"
    assert table[1]["elapsed_epoch_seconds"] == "1.500"
    assert table[1]["cpu_epoch_seconds"] == "0.250"
    assert table[1]["optimizer"] == "sgd"
    assert table[1]["validation:accuracy"] == "0.6"
    assert table[0]["train:accuracy"] == ""


def test_a_run_that_failed_before_its_first_epoch_still_has_a_row():
    curve_set = CURVE_SETS["xgboost"]
    config = {p.name: "1" for p in curve_set.space}
    (row,) = rows(curve_set, Run(3, config, status="Failed", failure="boom"))
    assert len(row) == len(header(curve_set))
    assert row[:3] == [3, "Failed", 0]
