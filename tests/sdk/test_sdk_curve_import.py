"""`amt curves import --csv` on the CSV the SDK's own analytics frames make: the same curves as
an import through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.cli import main as amt
from emulator.simulator.curves import load_set
from tests.conftest import Server
from tests.requests import short_tuning_request
from tests.sdk.conftest import Sdk

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ACC = "validation:accuracy"


def test_the_sdks_analytics_csv_imports_as_the_api_does(
    sdk_v2: Sdk, server: Server, unique: Any, tmp_path: Path
) -> None:
    name = unique("sdk-csv")
    request = short_tuning_request(name)
    server.sagemaker.create_hyper_parameter_tuning_job(**request)
    assert server.wait_tuning(name)["HyperParameterTuningJobStatus"] == "Completed"
    exported = tmp_path / "analytics.csv"
    columns = sdk_v2.run("v2_analytics_csv", job=name, out=str(exported)).result["columns"]
    assert {"timestamp", "metric_name", "value", "TrainingElapsedTimeSeconds"} <= set(columns)

    from_csv, from_api = tmp_path / "from-csv", tmp_path / "from-api"
    objective = ["--objective", ACC, "--objective-type", "Maximize"]
    assert (
        amt(["curves", "import", "--csv", str(exported), *objective, "--out", str(from_csv)]) == 0
    )
    api = ["--tuning-job", name, "--endpoint", server.endpoint, "--out", str(from_api)]
    assert amt(["curves", "import", *api]) == 0
    csv_runs = {r.run_id: r for r in load_set(str(from_csv)).runs}
    api_runs = {r.run_id: r for r in load_set(str(from_api)).runs}
    assert sorted(csv_runs) == sorted(api_runs) and len(api_runs) == 3
    for job, run in api_runs.items():
        imported = csv_runs[job].curve
        assert imported.epoch_values == run.curve.epoch_values
        assert imported.epoch_seconds[1:] == run.curve.epoch_seconds[1:]
        tuned = {k: csv_runs[job].hyperparameters[k] for k in ("learning_rate", "loss")}
        assert tuned == {k: run.hyperparameters[k] for k in tuned}
