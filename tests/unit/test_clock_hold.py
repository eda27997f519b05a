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


async def test_overdue_sleepers_wait_their_turn_without_polling_and_resume_in_order():
    """Held time leaves many sleepers overdue: they must not poll (an overloaded server's
    CPU went to that), and once it moves they resume in deadline order."""
    import asyncio

    class CountingClock(ScaledClock):
        reads = 0

        def _unheld(self) -> float:
            CountingClock.reads += 1
            return super()._unheld()

    wall = FakeWall()
    clock = CountingClock(1000, start=0.0, wall=wall)
    release = clock.hold()
    resumed: list[int] = []

    async def sleeper(i: int) -> None:
        await clock.sleep(1.0 + (i * 7919) % 200)  # shuffled deadlines, within max_lag
        resumed.append(i)

    tasks = [asyncio.create_task(sleeper(i)) for i in range(300)]
    wall.t = 1.0  # every deadline is past in wall time; only the hold keeps them waiting
    for _ in range(5):
        await asyncio.sleep(0)
    reads = CountingClock.reads
    for _ in range(50):
        await asyncio.sleep(0)
    assert CountingClock.reads == reads and resumed == []
    release()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert resumed == sorted(range(300), key=lambda i: (1.0 + (i * 7919) % 200, i))
