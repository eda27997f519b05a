"""The container contract: the files of /opt/ml and the SM_* environment, as the platform and
the sagemaker-training toolkit define them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.channels import UnsafePath, safe_join
from agents.contract import (
    ClientError,
    HostResources,
    JobLayout,
    channel_names,
    decode_value,
    environment,
    job_dir,
    prepare,
    to_cmd_args,
)

OPT_ML = Path("/opt/ml")


def job(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TrainingJobName": "job-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
        "HyperParameters": {
            "learning-rate": "0.1",
            "epochs": "10",
            "optimizer": '"adam"',
            "name": "plain text",
            "layers": "[64, 32]",
            "sagemaker_program": '"train.py"',
            "_tuning_objective_metric": "validation:accuracy",
        },
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "InputDataConfig": [
            {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {}},
            {"ChannelName": "validation", "InputMode": "FastFile", "DataSource": {}},
        ],
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1},
        "Environment": {"MY_FLAG": "1", "SM_NUM_CPUS": "99"},
    }
    body.update(overrides)
    return body


def env(layout: JobLayout | None = None, **kwargs: Any) -> dict[str, str]:
    settings: dict[str, Any] = {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"}
    settings.update(kwargs)
    return environment(
        layout or JobLayout(Path("/tmp/x"), OPT_ML),
        settings.pop("job", job()),
        settings.pop("resources", HostResources(num_cpus=4)),
        **settings,
    )


def test_prepare_writes_the_config_files(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "job-1", OPT_ML)
    prepare(layout, job())
    config = tmp_path / "job-1" / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == job()["HyperParameters"]
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
        "validation": {
            "TrainingInputMode": "FastFile",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert resources["current_host"] == "algo-1"
    assert resources["hosts"] == ["algo-1"]
    assert resources["network_interface_name"] == "eth0"
    assert resources["current_instance_type"] == "ml.g5.xlarge"
    assert resources["instance_groups"][0]["instance_type"] == "ml.g5.xlarge"
    for folder in (
        "input/data/train",
        "input/data/validation",
        "model",
        "output/data",
        "checkpoints",
        "code",
    ):
        assert (tmp_path / "job-1" / folder).is_dir(), folder
    assert not (tmp_path / "job-1" / "output" / "failure").exists()


def test_prepare_clears_an_earlier_attempt_but_keeps_checkpoints(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "job-1", OPT_ML)
    prepare(layout, job())
    (tmp_path / "job-1" / "output" / "failure").write_text("old failure")
    (tmp_path / "job-1" / "model" / "stale.pkl").write_text("old model")
    (tmp_path / "job-1" / "checkpoints" / "step-3").write_text("resume")
    prepare(layout, job())
    assert not (tmp_path / "job-1" / "output" / "failure").exists()
    assert list((tmp_path / "job-1" / "model").iterdir()) == []
    assert (tmp_path / "job-1" / "checkpoints" / "step-3").read_text() == "resume"


def test_toolkit_variables_for_hyperparameters() -> None:
    variables = env()
    assert json.loads(variables["SM_HPS"]) == {
        "learning-rate": 0.1,
        "epochs": 10,
        "optimizer": "adam",
        "name": "plain text",
        "layers": [64, 32],
    }
    assert variables["SM_HPS"] == json.dumps(
        json.loads(variables["SM_HPS"]), sort_keys=True, separators=(",", ":")
    )
    assert variables["SM_HP_LEARNING-RATE"] == "0.1"
    assert variables["SM_HP_OPTIMIZER"] == "adam"
    assert variables["SM_HP_NAME"] == "plain text"
    assert variables["SM_HP_LAYERS"] == "[64,32]"
    assert "SM_HP__TUNING_OBJECTIVE_METRIC" not in variables
    assert "SM_HP_SAGEMAKER_PROGRAM" not in variables
    assert json.loads(variables["SM_FRAMEWORK_PARAMS"]) == {"sagemaker_program": "train.py"}
    assert json.loads(variables["SM_USER_ARGS"]) == [
        "--epochs",
        "10",
        "--layers",
        "[64, 32]",
        "--learning-rate",
        "0.1",
        "--name",
        "plain text",
        "--optimizer",
        "adam",
    ]


def test_paths_channels_and_hosts_inside_opt_ml() -> None:
    variables = env(entry_point="train.py")
    assert variables["SM_MODEL_DIR"] == "/opt/ml/model"
    assert variables["SM_OUTPUT_DIR"] == "/opt/ml/output"
    assert variables["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert variables["SM_INPUT_DIR"] == "/opt/ml/input"
    assert variables["SM_INPUT_CONFIG_DIR"] == "/opt/ml/input/config"
    assert variables["SM_MODULE_DIR"] == "/opt/ml/code"
    assert variables["SM_CHANNELS"] == '["train","validation"]'
    assert variables["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert variables["SM_CHANNEL_VALIDATION"] == "/opt/ml/input/data/validation"
    assert variables["SM_HOSTS"] == '["algo-1"]'
    assert variables["SM_CURRENT_HOST"] == "algo-1"
    assert variables["SM_CURRENT_INSTANCE_TYPE"] == "ml.g5.xlarge"
    assert variables["SM_NETWORK_INTERFACE_NAME"] == "eth0"
    assert variables["SM_USER_ENTRY_POINT"] == "train.py"
    assert variables["SM_MODULE_NAME"] == "train"
    assert variables["SM_LOG_LEVEL"] == "20"
    assert json.loads(variables["SM_RESOURCE_CONFIG"])["hosts"] == ["algo-1"]
    assert json.loads(variables["SM_INPUT_DATA_CONFIG"])["validation"]["TrainingInputMode"] == (
        "FastFile"
    )
    assert "SAGEMAKER_BASE_DIR" not in variables
    training = json.loads(variables["SM_TRAINING_ENV"])
    assert training["channel_input_dirs"] == {
        "train": "/opt/ml/input/data/train",
        "validation": "/opt/ml/input/data/validation",
    }
    assert training["hyperparameters"]["optimizer"] == "adam"
    assert training["job_name"] == "job-1"
    assert training["model_dir"] == "/opt/ml/model"
    assert training["num_cpus"] == 4


def test_real_paths_announce_the_base_dir(tmp_path: Path) -> None:
    variables = env(JobLayout(tmp_path, tmp_path))
    assert variables["SAGEMAKER_BASE_DIR"] == str(tmp_path)
    assert variables["SM_MODEL_DIR"] == str(tmp_path / "model")
    assert variables["SM_CHANNEL_TRAIN"] == str(tmp_path / "input" / "data" / "train")


def test_platform_variables_and_the_job_environment() -> None:
    variables = env()
    assert variables["TRAINING_JOB_NAME"] == "job-1"
    assert variables["TRAINING_JOB_ARN"].endswith(":training-job/job-1")
    assert variables["MY_FLAG"] == "1"
    assert variables["SM_NUM_CPUS"] == "99"  # the job's Environment wins
    assert variables["SM_NUM_GPUS"] == "0"
    assert variables["CUDA_VISIBLE_DEVICES"] == ""
    assert variables["PYTHONUNBUFFERED"] == "1"
    assert variables["AWS_ENDPOINT_URL"] == variables["S3_ENDPOINT_URL"] == "http://127.0.0.1:9"
    # the job's region (its ARN's) wins over the agent's own (eu-west-1 here)
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "us-east-1"
    assert variables["SAGEMAKER_REGION"] == "us-east-1"
    assert variables["AWS_ACCESS_KEY_ID"]
    assert variables["AWS_SECRET_ACCESS_KEY"]


def test_gpus_and_no_endpoint() -> None:
    variables = env(
        resources=HostResources(num_cpus=8, num_gpus=2, gpu_ids=(0, 3)), endpoint_url=None
    )
    assert variables["SM_NUM_GPUS"] == "2"
    assert variables["CUDA_VISIBLE_DEVICES"] == "0,3"
    assert "AWS_ENDPOINT_URL" not in variables
    assert "S3_ENDPOINT_URL" not in variables


def test_the_server_environment_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("SERVER_SECRET", "s3cr3t")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    variables = env()
    assert "AWS_PROFILE" not in variables
    assert "SERVER_SECRET" not in variables
    assert variables["PATH"] == "/usr/bin:/bin"
    allowed = {"PATH", "HOME", "LANG", "TMPDIR", "TZ", "PYTHONPATH", "CURRENT_HOST", "MY_FLAG"}
    unexpected = {
        k
        for k in variables
        if not k.startswith(("SM_", "AWS_", "SAGEMAKER_", "TRAINING_JOB_", "LC_"))
        and k not in allowed | {"S3_ENDPOINT_URL", "CUDA_VISIBLE_DEVICES", "PYTHONUNBUFFERED"}
    }
    assert unexpected == set()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ('"train.py"', "train.py"),
        ("adam", "adam"),
        ("0.5", 0.5),
        ("true", True),
        ('{"a": 1}', {"a": 1}),
        ("", ""),
    ],
)
def test_values_decode_as_the_toolkit_does(text: Any, value: Any) -> None:
    assert decode_value(text) == value


def test_command_line_arguments_as_the_toolkit_builds_them() -> None:
    args = to_cmd_args({"zeta": 1, "k": "x", "alpha": 0.5, "opts": {"a": 1, "b": "c"}})
    assert args == ["--alpha", "0.5", "-k", "x", "--opts", "a=1,b=c", "--zeta", "1"]


@pytest.mark.parametrize("name", ["..", ".", "a/b", "/abs", "", "x y"])
def test_channel_names_that_could_escape_are_refused(name: str) -> None:
    with pytest.raises(ClientError, match="Invalid channel name"):
        channel_names({"InputDataConfig": [{"ChannelName": name}]})


@pytest.mark.parametrize("name", ["../up", "a/b", "", "-lead", "x" * 64])
def test_job_names_that_are_not_sagemaker_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ClientError, match="Invalid training job name"):
        job_dir(tmp_path, {"TrainingJobName": name})


def test_job_dir_for_a_valid_name(tmp_path: Path) -> None:
    assert job_dir(tmp_path, {"TrainingJobName": "a-1"}) == tmp_path / "a-1"


@pytest.mark.parametrize("relative", ["../x", "a/../../x", "/etc/passwd", "", "a/..", "//x"])
def test_safe_join_refuses_escapes(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePath):
        safe_join(tmp_path, relative)


def test_safe_join_keeps_nested_paths(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a//b/./c.csv") == tmp_path / "a" / "b" / "c.csv"
