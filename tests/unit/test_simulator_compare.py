"""`amt simulate --compare`'s pure parts: variants of a request, paired statistics, the table."""

from __future__ import annotations

import pytest

from emulator.simulator.compare import (
    AS_GIVEN,
    Trial,
    Variant,
    default_variants,
    summarise,
    table,
    to_json,
    variants_from,
)
from tests.requests import tuning_request


def request(**config: object) -> dict:
    return tuning_request(
        "cmp",
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            **config,
        },
    )


def test_a_variant_changes_only_what_it_names_and_keeps_the_request_valid() -> None:
    given = request()
    changed = Variant("x", parallel=4, jobs=10).apply(given)
    config = changed["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 4}
    assert config["Strategy"] == "Bayesian" and config["TrainingJobEarlyStoppingType"] == "Auto"
    assert given["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] == 2
    hyperband = Variant("h", strategy="Hyperband").apply(given)["HyperParameterTuningJobConfig"]
    assert hyperband["TrainingJobEarlyStoppingType"] == "Off", "Hyperband stops on its own"
    from_hyperband = request(
        Strategy="Hyperband",
        TrainingJobEarlyStoppingType="Off",
        StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 10}},
    )
    random = Variant("r", strategy="Random").apply(from_hyperband)
    assert "StrategyConfig" not in random["HyperParameterTuningJobConfig"]


def test_default_variants_are_the_usual_alternatives() -> None:
    labels = [v.label for v in default_variants(request())]
    assert labels == [
        AS_GIVEN,
        "Random",
        "Hyperband",
        "early stopping Off",
        "1 parallel",
        "4 parallel",
        "10 jobs",
        "40 jobs",
    ]
    hyperband = default_variants(request(Strategy="Hyperband", TrainingJobEarlyStoppingType="Off"))
    assert not any(v.label.startswith("early stopping") for v in hyperband)


def test_a_variants_file_uses_the_requests_own_field_names() -> None:
    variants = variants_from(
        [
            {"TrainingJobEarlyStoppingType": "Off"},
            {"Label": "wide", "MaxParallelTrainingJobs": 10, "Strategy": "Random"},
        ]
    )
    assert variants == [
        Variant(AS_GIVEN),
        Variant("TrainingJobEarlyStoppingType Off", early_stopping="Off"),
        Variant("wide", strategy="Random", parallel=10),
    ]
    with pytest.raises(ValueError, match="unknown MaxRuntime"):
        variants_from([{"MaxRuntime": 5}])
    with pytest.raises(ValueError, match="list of objects"):
        variants_from({"Strategy": "Random"})
    with pytest.raises(ValueError, match="labels must differ"):
        variants_from([{"Label": AS_GIVEN}])


def trial(seed: int, best: float, billable: float, finals: tuple[float | None, ...]) -> Trial:
    return Trial(seed, best, billable, billable / 2, 0, finals)


def test_jobs_to_reach_counts_jobs_in_end_order_in_the_objectives_direction() -> None:
    run = trial(0, 0.9, 100, (0.5, None, 0.9, 0.95))
    assert run.jobs_to_reach(0.9) == 3
    assert run.jobs_to_reach(0.96) is None
    assert run.jobs_to_reach(None) is None
    loss = Trial(0, 0.1, 1, 1, 0, (0.5, 0.2, 0.1), maximize=False)
    assert loss.jobs_to_reach(0.2) == 2


def test_rows_pair_each_seed_with_the_request_as_given() -> None:
    trials = {
        AS_GIVEN: [
            trial(0, 0.90, 1000, (0.8, 0.9)),
            trial(1, 0.80, 2000, (0.8, 0.7)),
            trial(2, 0.85, 1000, (0.85,)),
        ],
        "cheaper": [
            trial(0, 0.89, 500, (0.89,)),
            trial(1, 0.82, 1000, (0.7, 0.82)),
            trial(2, 0.85, 900, (0.1, 0.85)),
        ],
    }
    given, cheaper = summarise(trials)
    assert (given.saved, given.gain, given.jobs_to_reach, given.reached) == (0.0, 0.0, 1, 3)
    # Paired: saved 50 %, 50 %, 10 % -> median 50 %; gains -0.01, +0.02, 0 -> median 0.
    assert cheaper.saved == pytest.approx(0.5)
    assert cheaper.gain == pytest.approx(0.0)
    assert (cheaper.jobs_to_reach, cheaper.reached, cheaper.seeds) == (2, 2, 3)
    assert cheaper.best is not None and (cheaper.best.low, cheaper.best.high) == (0.82, 0.89)
    text = table([given, cheaper])
    assert text.splitlines()[0].startswith("variant")
    assert "cheaper" in text and "50%" in text and "2 (2/3)" in text
    assert to_json([cheaper])[0]["runs"][1]["billable_seconds"] == 1000
    with pytest.raises(ValueError, match="other seeds"):
        summarise({AS_GIVEN: trials[AS_GIVEN], "short": trials["cheaper"][:2]})
