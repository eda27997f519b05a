"""Virtual time held while work runs off the loop (`ScaledClock.hold`)."""

from __future__ import annotations

from emulator.clock import ScaledClock


class FakeWall:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_hold_stops_virtual_time_until_released_and_a_second_release_changes_nothing():
    wall = FakeWall()
    clock = ScaledClock(1000, start=0.0, wall=wall)
    wall.t = 0.010
    assert clock.now() == 10.0
    release = clock.hold()
    wall.t = 2.0  # two wall seconds of work in a worker
    assert clock.now() == 10.0
    release()
    release()
    later = clock.now()
    # Resumes from where it was held, not 2,000 virtual seconds on (beyond max_lag: given up).
    assert 10.0 <= later <= 10.0 + 0.25 * 1000
    wall.t = 2.001
    assert clock.now() == later + 1.0


def test_holds_overlap_and_time_moves_once_every_one_is_released():
    wall = FakeWall()
    clock = ScaledClock(1000, start=0.0, wall=wall)
    first, second = clock.hold(), clock.hold()
    wall.t = 0.1
    first()
    assert clock.now() == 0.0
    second()
    assert clock.now() == 100.0
