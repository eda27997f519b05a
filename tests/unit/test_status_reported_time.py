"""A training job's status is stamped when its agent reported it (the event's time), kept
between the job's previous transition and now: in virtual time a millisecond on the bus is
seconds, and a remote agent's clock may be off."""

from __future__ import annotations

from pathlib import Path

from emulator.clock import ManualClock
from emulator.domain.events import TrainingStatus
from emulator.ingest import Ingest
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from tests.requests import training_request


def test_statuses_carry_the_agents_time_clamped_between_the_last_transition_and_now(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    store = Store(tmp_path / "amt.sqlite3")
    try:
        records = JobRecords(store, clock, "us-east-1", "123456789012")
        ingest = Ingest(store, records, tmp_path / "logs")
        created = records.create_training(training_request("stamped")).doc["CreationTime"]
        clock.advance(100)

        def report(secondary: str, ts: float) -> dict:
            ingest.status(TrainingStatus(ts=ts, job="stamped", secondary=secondary))
            row = store.get_training_job("stamped")
            assert row is not None
            return row.doc

        assert report("Downloading", created + 40)["TrainingStartTime"] == created + 40
        # An agent clock behind: not before the previous transition.
        assert (
            report("Training", created + 10)["SecondaryStatusTransitions"][-1]["StartTime"]
            == created + 40
        )
        # An agent clock ahead: not after now.
        doc = report("Uploading", created + 500)
        assert doc["SecondaryStatusTransitions"][-1]["StartTime"] == clock.now()
    finally:
        store.close()
