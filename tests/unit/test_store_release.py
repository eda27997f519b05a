"""A store written by the previous release opens with this one: every row it holds is read
back through the store's own methods, in the account and region its ARN names."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.domain.listing import training_list_summary, tuning_list_summary
from emulator.store.sqlite import MIGRATIONS, PageQuery, Store
from tests.unit import store_release as release


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "amt.sqlite3"
    shutil.copyfile(release.FIXTURE, path)
    opened = Store(path)
    yield opened
    opened.close()


def test_the_release_file_is_at_schema_version_0() -> None:
    assert release.FIXTURE.read_bytes()[60:64] == b"\x00\x00\x00\x00"  # user_version


def test_it_opens_at_the_current_version(store: Store) -> None:
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_every_job_reads_back_as_written(store: Store) -> None:
    tuning = store.get_tuning_job(release.TUNING)
    assert tuning is not None
    assert tuning.doc == release.tuning_doc()
    assert (tuning.launched, tuning.state, tuning.seed) == (2, "Completed", None)
    assert [row.doc for row in store.tuning_jobs()] == [release.tuning_doc()]
    written = [doc for doc, _meta in release.TRAINING]
    assert [row.doc for row in store.training_jobs()] == written
    for doc, meta in release.TRAINING:
        row = store.get_training_job(doc["TrainingJobName"].upper())  # names are case-blind
        assert row is not None
        kept = (row.tuning_job, row.tuned, row.objective_value)
        assert (row.doc, kept) == (
            doc,
            (meta.get("tuning_job"), meta.get("tuned", {}), meta.get("objective_value")),
        )
    children = [doc["TrainingJobName"] for doc in written[:2]]
    assert [row.doc["TrainingJobName"] for row in store.children(release.TUNING)] == children
    assert store.child_names(release.TUNING) == children
    assert store.training_jobs(statuses=("Stopped",)) == [store.get_training_job(children[1])]
    assert store.tuning_job_names(("Completed",)) == [release.TUNING]
    assert store.active_training_names() == []


def test_describe_text_carries_the_scope_of_each_arn(store: Store) -> None:
    found = store.describe_text("tuning_jobs", release.TUNING)
    assert found is not None
    assert json.loads(found.doc) == release.tuning_doc()
    assert (found.account, found.region) == (release.ACCOUNT, release.REGION)
    other = store.describe_text("training_jobs", "standalone")
    assert other is not None
    assert (other.account, other.region) == (release.OTHER_ACCOUNT, release.OTHER_REGION)


def test_listings_find_each_job_in_its_own_account_and_region(store: Store) -> None:
    def page(table: str, account: str, region: str) -> list[dict[str, object]]:
        query = PageQuery(
            account, region, sort="creation_time", descending=False, limit=10, offset=0
        )
        return [json.loads(row.summary) for row in store.page(table, query)]

    assert page("tuning_jobs", release.ACCOUNT, release.REGION) == [
        tuning_list_summary(release.tuning_doc())
    ]
    docs = [doc for doc, _meta in release.TRAINING]
    assert page("training_jobs", release.ACCOUNT, release.REGION) == [
        training_list_summary(doc) for doc in docs[:2]
    ]
    assert page("training_jobs", release.OTHER_ACCOUNT, release.OTHER_REGION) == [
        training_list_summary(docs[2])
    ]
    assert page("training_jobs", release.OTHER_ACCOUNT, release.REGION) == []


def test_metrics_tags_events_and_counters_carry_on(store: Store) -> None:
    first, second = (doc["TrainingJobName"] for doc, _meta in release.TRAINING[:2])
    metric = "validation:accuracy"
    assert store.metric_series(first, metric) == [
        (1, 1_700_000_020.0, 0.80),
        (2, 1_700_000_030.0, 0.91),
    ]
    assert store.final_metrics(second) == [(metric, 1_700_000_110.0, 0.85)]
    assert store.series_of([first, second], metric, 5) == {first: [0.80, 0.91], second: [0.85]}
    assert store.add_metric_point(first, metric, 1_700_000_040.0, 0.93) == 3
    for arn, tags in release.TAGS:
        assert store.list_tags(arn) == tags
    for event_id in release.APPLIED_EVENTS:
        assert not store.first_time(event_id)  # applied before the upgrade: not again
    assert store.first_time("event-after-upgrade")
    assert store.next_value("training_seq") == len(release.TRAINING) + 1
