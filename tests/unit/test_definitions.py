"""Several training job definitions as one joint search space."""

from __future__ import annotations

import numpy as np

from emulator.tuner.definitions import embed, joint_history, joint_space, split
from emulator.tuner.model import History, Observation
from emulator.tuner.space import SearchSpace
from emulator.tuner.strategies import get_strategy

SPACES = {
    "xgb": SearchSpace.from_parameter_ranges(
        {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}]}
    ),
    "linear": SearchSpace.from_parameter_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "lr", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "loss", "Values": ["a", "b"]}],
        }
    ),
}


def test_embed_and_split_round_trip():
    joint = embed("linear", {"lr": "0.01", "loss": "b"}, SPACES)
    assert joint["_definition"] == "linear"
    assert joint["xgb.max_depth"] == "6"
    assert joint_space(SPACES).contains(joint)
    assert split(joint) == ("linear", {"lr": "0.01", "loss": "b"})


def test_suggestions_choose_definitions_and_stay_valid():
    space = joint_space(SPACES)
    history = joint_history(
        {
            "xgb": History("Maximize", (Observation({"max_depth": "3"}, 0.8),)),
            "linear": History("Maximize", pending=({"lr": "0.1", "loss": "a"},)),
        },
        SPACES,
    )
    assert len(history.observations) == 1 and len(history.pending) == 1
    rng = np.random.default_rng(0)
    picks = [split(c) for c in get_strategy("Random").suggest(space, history, 40, rng)]
    assert {d for d, _ in picks} == {"xgb", "linear"}
    for definition, config in picks:
        assert SPACES[definition].contains(config)
