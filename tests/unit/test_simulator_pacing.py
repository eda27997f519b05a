"""Epochs at the user's pace, and simulations that repeat name for name under one seed."""

from __future__ import annotations

import pytest

from emulator.ids import child_job_name, random_suffix, seeded_suffix
from emulator.simulator.curves import Curve
from emulator.simulator.pacing import paced_durations
from emulator.simulator.timeline import timeline

METRIC = "validation:accuracy"


def test_epochs_average_the_asked_seconds_in_their_recorded_proportions() -> None:
    # The first epoch's 8 s is mostly the program's start-up: it counts as the later median.
    paced = paced_durations([8.0, 1.0, 2.0, 1.0], 50.0)
    assert paced == pytest.approx([40.0, 40.0, 80.0, 40.0])
    assert sum(paced) == pytest.approx(4 * 50.0)


def test_edge_cases_of_pacing() -> None:
    assert paced_durations([], 50.0) == []
    assert paced_durations([7.0], 50.0) == [50.0]
    assert paced_durations([0.0, 0.0], 30.0) == [30.0, 30.0]
    with pytest.raises(ValueError, match="positive"):
        paced_durations([1.0], 0.0)


def test_the_timeline_paces_epochs_and_keeps_the_deadline() -> None:
    # Shares 2 (the later median), 1, 3 of a 60-s job.
    curve = Curve({METRIC: [0.1, 0.2, 0.3]}, [9.0, 1.0, 3.0])
    steps = timeline(curve, 3600, epoch_seconds=20.0)
    assert [(s.at, s.epoch, s.end) for s in steps] == [
        (pytest.approx(20.0), 1, ""),
        (pytest.approx(30.0), 2, ""),
        (pytest.approx(60.0), 3, ""),
        (pytest.approx(60.0), 0, "Completed"),
    ]
    cut = timeline(curve, 40, epoch_seconds=20.0)
    assert [(s.epoch, s.end) for s in cut] == [(1, ""), (2, ""), (0, "MaxRuntimeExceeded")]
    assert [s.at for s in timeline(curve, 3600)][:3] == [9.0, 10.0, 13.0]


def test_seeded_job_names_repeat_per_seed_and_differ_between_seeds() -> None:
    one, again, other = seeded_suffix(1), seeded_suffix(1), seeded_suffix(2)
    name = child_job_name("tune", 7, one)
    assert name == child_job_name("tune", 7, again)
    assert name.startswith("tune-007-") and len(name.rsplit("-", 1)[1]) == 8
    assert name != child_job_name("tune", 7, other)
    assert name != child_job_name("tune", 8, one)
    assert int(name.rsplit("-", 1)[1], 16) >= 0
    assert random_suffix("tune", 7) != random_suffix("tune", 7)
