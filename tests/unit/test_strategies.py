"""Strategies: Random draws, Grid enumeration and the name -> strategy table."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from emulator.tuner.model import History, Observation
from emulator.tuner.space import SearchSpace
from emulator.tuner.strategies import get_strategy
from emulator.tuner.strategies.grid import GridStrategy
from emulator.tuner.strategies.random import RandomStrategy

MIXED = SearchSpace.from_parameter_ranges(
    {
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "1"}],
        "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "10"}],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
    }
)
GRID = SearchSpace.from_parameter_ranges(
    {
        "CategoricalParameterRanges": [
            {"Name": "kind", "Values": ["a", "b", "c"]},
            {"Name": "size", "Values": ["s", "l"]},
        ]
    }
)
EMPTY = History(objective_type="Minimize")


@pytest.mark.parametrize(
    ("name", "cls"),
    [("Random", RandomStrategy), ("Hyperband", RandomStrategy), ("Grid", GridStrategy)],
)
def test_get_strategy_by_api_name(name, cls):
    assert isinstance(get_strategy(name), cls)


def test_get_strategy_bayesian_falls_back_only_while_missing():
    strategy = get_strategy("Bayesian")
    exists = importlib.util.find_spec("emulator.tuner.strategies.bayesian") is not None
    assert isinstance(strategy, RandomStrategy) != exists


def test_get_strategy_rejects_unknown_names():
    with pytest.raises(ValueError, match="Annealing"):
        get_strategy("Annealing")


def test_random_is_seeded_valid_and_ignores_history():
    strategy = RandomStrategy()
    first = strategy.suggest(MIXED, EMPTY, 20, np.random.default_rng(3))
    assert len(first) == 20 and all(MIXED.contains(c) for c in first)
    history = History("Minimize", observations=(Observation(first[0], 1.0),), pending=(first[1],))
    assert strategy.suggest(MIXED, history, 20, np.random.default_rng(3)) == first
    assert strategy.suggest(MIXED, EMPTY, 20, np.random.default_rng(4)) != first
    assert len({c["lr"] for c in first}) == 20  # independent continuous draws never repeat
    assert strategy.suggest(MIXED, EMPTY, 0, np.random.default_rng(3)) == []


def test_grid_skips_observed_and_pending_cells_in_order():
    grid = GRID.grid()
    history = History(
        "Maximize",
        observations=(Observation(grid[0], 0.5), Observation(grid[2], None)),
        pending=(grid[3],),
    )
    got = GridStrategy().suggest(GRID, history, 2, np.random.default_rng(0))
    assert got == [grid[1], grid[4]]


def test_grid_covers_each_cell_exactly_once_then_runs_dry():
    strategy, rng = GridStrategy(), np.random.default_rng(0)
    history = EMPTY
    seen = []
    for _ in range(10):
        batch = strategy.suggest(GRID, history, 4, rng)
        seen += batch
        history = History("Minimize", observations=tuple(Observation(c, 0.0) for c in seen))
    assert sorted(map(str, seen)) == sorted(map(str, GRID.grid()))
    assert len(seen) == 6
    assert strategy.suggest(GRID, history, 4, rng) == []


def test_grid_ignores_warm_start_prior():
    history = History("Minimize", prior=(Observation(GRID.grid()[0], 0.1),))
    assert GridStrategy().suggest(GRID, history, 1, np.random.default_rng(0)) == [GRID.grid()[0]]
