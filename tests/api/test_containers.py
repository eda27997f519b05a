"""Training jobs in real containers, through boto3 over HTTP: `amt serve --runtime auto` runs
the example images (`python -m fixtures.images.build`) in the local engine (podman here).

The bring-your-own-container image's `train` is the fixture SGD program, reading /opt/ml as a
custom image does; it is mapped to no local command, so these jobs can only run in a
container. Every container is labelled with the server's work directory: none may be left.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator

import pytest

from agents.runtime.container import Engine
from tests.api.test_tuning_jobs import children
from tests.conftest import Server, start_server
from tests.containers import BASE, BYOC, engine_or_skip, image_or_skip, leftovers
from tests.requests import BUCKET, training_request, tuning_request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REACH_S3 = (
    "import os, urllib.request as r; r.urlopen(os.environ['AWS_ENDPOINT_URL'] + '/health', "
    "timeout=3); open('/opt/ml/model/reached', 'w').write('yes')"
)
"""A one-line program (ContainerEntrypoint members are single lines of 256 characters at
most): it fails with the reason in its traceback when our S3 endpoint is unreachable."""


@pytest.fixture(scope="module")
def engine() -> Engine:
    found = engine_or_skip()
    image_or_skip(found, BYOC)
    image_or_skip(found, BASE)
    return found


@pytest.fixture(scope="module")
def containers(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose local agent runs images the engine holds in containers."""
    data = tmp_path_factory.mktemp("amt-containers")
    server = start_server(data, extra_args=["--stop-grace", "3", "--runtime", "auto"])
    yield server
    server.process.stop()
    assert leftovers(engine, data / "jobs") == []


def test_bayesian_tuning_with_auto_early_stopping_in_containers(
    containers: Server, engine: Engine, unique
) -> None:
    name = unique("ctr-early")[:32]
    request = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 1},
            "TrainingJobEarlyStoppingType": "Auto",
            "RandomSeed": 11,
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": n, "MinValue": lo, "MaxValue": "1", "ScalingType": "Logarithmic"}
                    for n, lo in (("learning_rate", "0.00001"), ("alpha", "0.000001"))
                ],
                "CategoricalParameterRanges": [],
            },
        },
        TrainingJobDefinition={
            "StaticHyperParameters": {"epochs": "6"},
            "AlgorithmSpecification": {"TrainingImage": BYOC},
        },
    )
    containers.sagemaker.create_hyper_parameter_tuning_job(**request)
    desc = containers.wait_tuning(name, timeout=400)
    counters = desc["TrainingJobStatusCounters"]
    assert desc["HyperParameterTuningJobStatus"] == "Completed", counters
    assert counters["Stopped"] >= 1
    assert counters["Completed"] + counters["Stopped"] == 10
    jobs = children(containers, name)
    best = max(j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs)
    assert desc["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == best
    best_job = containers.sagemaker.describe_training_job(
        TrainingJobName=desc["BestTrainingJob"]["TrainingJobName"]
    )
    model = best_job["ModelArtifacts"]["S3ModelArtifacts"]
    key = model.removeprefix(f"s3://{BUCKET}/")
    body = containers.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames()  # the model the container wrote to /opt/ml/model
    # the early-stopped jobs' containers are gone, as are all the others
    assert leftovers(engine, containers.process.data_dir / "jobs") == []


def test_failure_file_max_runtime_and_network_isolation(containers: Server, unique) -> None:
    names = {k: unique(f"ctr-{k}") for k in ("fail", "limit", "isolated", "open")}
    sm = containers.sagemaker
    byoc = {"AlgorithmSpecification": {"TrainingImage": BYOC}}
    sm.create_training_job(
        **training_request(names["fail"], HyperParameters={"fail": "true"}, **byoc)
    )
    sm.create_training_job(
        **training_request(
            names["limit"],
            HyperParameters={"epochs": "1000", "sleep_per_epoch": "0.2"},
            StoppingCondition={"MaxRuntimeInSeconds": 4},
            **byoc,
        )
    )
    reach = {
        "AlgorithmSpecification": {
            "TrainingImage": BASE,
            "ContainerEntrypoint": ["python3", "-c", REACH_S3],
            "MetricDefinitions": [],
        }
    }
    sm.create_training_job(
        **training_request(names["isolated"], EnableNetworkIsolation=True, **reach)
    )
    sm.create_training_job(**training_request(names["open"], **reach))

    failed = containers.wait_training(names["fail"], timeout=120)
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"] == "Requested failure: the fail hyperparameter was set to true."
    limited = containers.wait_training(names["limit"], timeout=120)
    assert limited["TrainingJobStatus"] == "Stopped"
    assert limited["SecondaryStatus"] == "MaxRuntimeExceeded"
    isolated = containers.wait_training(names["isolated"], timeout=120)
    assert isolated["TrainingJobStatus"] == "Failed"
    reason = isolated["FailureReason"]
    assert reason.startswith("AlgorithmError: the training program failed, exit code 1")
    assert "URLError" in reason
    reached = containers.wait_training(names["open"], timeout=120)
    assert reached["TrainingJobStatus"] == "Completed", reached.get("FailureReason")
    model = reached["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = containers.s3.get_object(Bucket=BUCKET, Key=model)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "reached" in tar.getnames()
